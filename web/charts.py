"""Trend charts as SVG rendered on the server: no JavaScript, nothing fetched from a CDN, readable
at 365 points. One chart per check: the number it judged per partition (for a change check, the
change), the passing band from the baselines or thresholds, failures and marks, the LEARNING
stretch shaded; the y axis at round numbers in the check's unit, a few dated x ticks, and a
tooltip (`<title>`) on every point. One outlier does not flatten the rest: the axis covers the
bulk of the values and points beyond it sit on its edge as triangles, their value in the tooltip."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from markupsafe import Markup, escape

from quinto.evaluate import Status
from quinto.humanize import COUNT, PERCENT, SECONDS, VALUE, duration, expected, number, quantity

WIDTH, HEIGHT = 960, 170
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 10, 24
#: the smallest distance between two x labels, in pixels, per character of the longest label
CHAR_W = 6.6
#: the axis leaves out outliers only when showing them would shrink the rest this many times or more
CLIP_RATIO = 4.0
#: durations the y axis steps by: seconds, minutes, hours, days
DURATION_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _finite(x: Any) -> float | None:
    if x is None:
        return None
    if type(x) is float:
        return x if x - x == 0 else None  # not NaN or infinite
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


#: dots of failures are larger
RADIUS = {"fail": 3.5, "error": 3.5, "warn": 2.8}
_STATUS_CLASS = {str(s): str(s).lower() for s in Status}
_STATUS_TEXT = {str(s): str(s) for s in Status}


def _status_class(status: Any) -> str:
    """A status as a CSS class (escaped: a store may hold anything)."""
    return str(escape(str(status or Status.PASS).lower()))


class TrendPoint(NamedTuple):
    """A check on a partition (or, for an unpartitioned table, on a run): `y` what it judged, its
    passing band, its status; `value` the metric's value when `y` is a change of it; `mark` good
    or bad when a person marked the partition."""

    partition: str
    y: float | None
    low: float | None
    high: float | None
    status: str
    mark: str | None = None
    value: float | None = None


class Axis(NamedTuple):
    low: float
    high: float
    ticks: list[float]


# -- the y axis ----------------------------------------------------------------------------------


def nice_step(raw: float) -> float:
    """The round number (1, 2, 2.5 or 5 times a power of ten) at least `raw`."""
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw * (1 - 1e-9):
            return m * mag
    return 10 * mag


def duration_step(raw: float) -> float:
    """A step for durations: 1, 2, 5, 10, 15, 30 s or min, 1, 2, 3, 6, 12 h, then round days."""
    for s in DURATION_STEPS:
        if s >= raw:
            return float(s)
    return nice_step(raw / 86400) * 86400


def nice_axis(low: float, high: float, unit: str = VALUE, target: int = 5) -> Axis:
    """An axis from `low` to `high` with about `target` ticks at round numbers in `unit`: counts
    step by whole numbers, durations by seconds, minutes, hours or days. The axis never reaches
    below 0 (or above) unless the data does."""
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = (low - pad if low - pad >= 0 or low < 0 else 0.0), high + pad
    raw = (high - low) / max(1, target - 1)
    step = duration_step(raw) if unit == SECONDS else nice_step(raw)
    if unit == COUNT:
        step = max(step, 1.0)
    lo = math.floor(low / step + 1e-9) * step
    hi = math.ceil(high / step - 1e-9) * step
    if hi == lo:
        hi = lo + step
    n = round((hi - lo) / step)
    ticks = [_clean(lo + i * step) for i in range(n + 1)]
    return Axis(ticks[0], ticks[-1], ticks)


def _clean(x: float) -> float:
    """0.30000000000000004 → 0.3: a tick is a multiple of a round step."""
    return float(f"{x:.12g}") or 0.0


def tick_labels(ticks: Sequence[float], unit: str = VALUE) -> list[str]:
    """Labels for the ticks in the unit, with as many digits as it takes to tell them apart."""
    for digits in range(3, 8):
        if unit == SECONDS:
            labels = [_duration_digits(t, digits) for t in ticks]
        else:
            labels = [number(t, digits) + (" %" if unit == PERCENT else "") for t in ticks]
        if len(set(labels)) == len(labels):
            return labels
    return labels


def _duration_digits(t: float, digits: int) -> str:
    text = duration(t)
    if digits == 3:
        return text
    value, _, unit = text.rpartition(" ")
    scale = {"s": 1, "min": 60, "h": 3600, "d": 86400}[unit]
    return f"{number(t / scale, digits)} {unit}"


def robust_range(ys: Sequence[float], bounds: Sequence[float]) -> tuple[float, float]:
    """The range the y axis covers: all values and the band's bounds, unless that is more than
    CLIP_RATIO times the span of the bulk of the values (those within 3 interquartile ranges of
    the quartiles, when at most a tenth are not): then the bulk and the bounds among it, so one
    outlier (or a threshold far away) does not flatten the line; the rest sit on the edge."""
    vals = sorted(ys)
    everything = vals + list(bounds)
    full = (min(everything), max(everything))
    if len(vals) < 8:
        return full
    q1, q3 = _quantile(vals, 0.25), _quantile(vals, 0.75)
    iqr = q3 - q1
    if iqr <= 0:
        return full
    fence = (q1 - 3 * iqr, q3 + 3 * iqr)
    inside = [v for v in vals if fence[0] <= v <= fence[1]]
    if len(vals) - len(inside) > max(1, len(vals) // 10):
        return full
    bulk = inside + [b for b in bounds if fence[0] <= b <= fence[1]]
    lo, hi = min(bulk), max(bulk)
    if full[1] - full[0] <= CLIP_RATIO * max(hi - lo, iqr):
        return full
    return lo, hi


def _quantile(sorted_vals: Sequence[float], q: float) -> float:
    pos = (len(sorted_vals) - 1) * q
    i = math.floor(pos)
    j = min(i + 1, len(sorted_vals) - 1)
    return sorted_vals[i] + (sorted_vals[j] - sorted_vals[i]) * (pos - i)


# -- the x axis ----------------------------------------------------------------------------------


def x_ticks(labels: Sequence[str], plot_width: float) -> list[int]:
    """Indexes of the labels to show so that none overlap: every k-th counted back from the
    newest (k in 1, 2, 7, 14 for dates, then the first of each month or every few months; 1, 2, 5,
    10, 20, 50, ... otherwise)."""
    n = len(labels)
    if n == 0:
        return []
    if n == 1:
        return [0]
    gap = plot_width / (n - 1)
    need = (max(map(len, labels)) * CHAR_W + 14) / gap  # labels' widths in steps
    dates = bool(_DATE.match(labels[0]) and _DATE.match(labels[-1]) and all(len(s) == 10 for s in labels))
    steps = [1, 2, 7, 14] if dates else [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000]
    for k in steps:
        if k >= need:
            return sorted(range(n - 1, -1, -k))
    if dates:
        firsts = [i for i, s in enumerate(labels) if s.endswith("-01")]
        for every in (1, 2, 3, 6, 12):
            picked = [i for i in firsts if int(labels[i][5:7]) % every == (1 % every)]
            if len(picked) > 1 and min(b - a for a, b in zip(picked, picked[1:], strict=False)) >= need:
                return picked
            if len(picked) == 1:
                return picked
    k = max(1, math.ceil(need))
    return sorted(range(n - 1, -1, -k))


# -- the chart -----------------------------------------------------------------------------------


def tooltip(p: TrendPoint, unit: str, noun: str, value_unit: tuple[str, str] | None = None) -> str:
    """What a point says on hover: partition, value, expected range, status, mark."""
    status = _STATUS_TEXT.get(p.status) or str(p.status or Status.PASS).upper()
    y = _finite(p.y)
    shown = "no value" if y is None else quantity(y, unit, noun)
    if value_unit is not None and p.value is not None:  # a change: say of what
        shown = f"change {'n/a' if y is None else shown} ({quantity(p.value, *value_unit)})"
    band = expected(_finite(p.low), _finite(p.high), unit, noun)
    mark = f" · marked {p.mark}" if p.mark else ""
    return f"{p.partition}: {shown} · {'expected ' + band if band else 'no expected range'} · {status}{mark}"


def trend_svg(
    points: Sequence[TrendPoint],
    label: str,
    unit: str = VALUE,
    noun: str = "",
    value_unit: tuple[str, str] | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
    tips: Sequence[str] | None = None,
) -> Markup:
    """`points`: oldest first; `unit`/`noun`: of `y` (`quinto.humanize`); `value_unit`: the
    metric's own unit when `y` is a change of it; `tips`: the points' tooltips when already
    written (else `tooltip`). Returns an inline <svg>."""
    ys = [_finite(p.y) for p in points]
    lows = [_finite(p.low) for p in points]
    highs = [_finite(p.high) for p in points]
    values = [v for v in ys if v is not None]
    n = len(points)
    out = [
        f'<svg class="trend" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}" data-points="{len(values)}">'
    ]
    if not values or n == 0:
        out.append(f'<text x="{LEFT}" y="{height // 2}" class="empty">no values</text></svg>')
        return Markup("".join(out))
    bounds = [b for b in lows + highs if b is not None]
    axis = nice_axis(*robust_range(values, bounds), unit)
    lo, hi = axis.low, axis.high
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    xs = [LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2) for i in range(n)]
    half = plot_w / (n - 1) / 2 if n > 1 else 6.0

    def sy(v: float) -> float:
        return TOP + plot_h * (hi - min(max(v, lo), hi)) / (hi - lo)

    out += _learning(points, xs, half, plot_h)
    # horizontal grid lines and the y labels
    for t, text in zip(axis.ticks, tick_labels(axis.ticks, unit), strict=True):
        ty = sy(t)
        out.append(f'<line class="grid" x1="{LEFT}" y1="{ty:.1f}" x2="{width - RIGHT}" y2="{ty:.1f}"/>')
        out.append(f'<text class="tick" x="{LEFT - 5}" y="{ty + 3.5:.1f}" text-anchor="end">{escape(text)}</text>')
    out += _bands(lows, highs, xs, sy, lo, hi)
    # the x ticks
    base = TOP + plot_h
    out.append(f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{width - RIGHT}" y2="{base}"/>')
    labels = [str(p.partition) for p in points]
    for i in x_ticks(labels, plot_w):
        x = xs[i]
        anchor = "end" if x > width - RIGHT - len(labels[i]) * CHAR_W / 2 else "middle"
        if anchor == "middle" and x - len(labels[i]) * CHAR_W / 2 < 0:
            anchor = "start"
        out.append(f'<line class="axis" x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}"/>')
        out.append(
            f'<text class="tick x" x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}">{escape(labels[i])}</text>'
        )
    # each point's position, written once
    px = [f"{x:.1f}" for x in xs]
    py = [f"{sy(y):.1f}" if y is not None else "" for y in ys]
    # the line, broken where a partition has no value
    segment: list[str] = []
    for i in range(n + 1):
        if i < n and ys[i] is not None:
            segment.append(f"{px[i]},{py[i]}")
            continue
        if len(segment) > 1:
            out.append(f'<polyline class="line" points="{" ".join(segment)}"/>')
        segment = []
    # the points: failures larger, marks ringed, those beyond the axis as triangles on its edge
    clipped = 0
    for i, p in enumerate(points):
        y = ys[i]
        if y is None:
            continue
        status = _STATUS_CLASS.get(p.status) or _status_class(p.status)
        tip = html.escape(tips[i] if tips is not None else tooltip(p, unit, noun, value_unit), quote=False)
        if p.mark:
            out.append(f'<circle class="mark {escape(p.mark)}" cx="{px[i]}" cy="{py[i]}" r="6"/>')
        if y > hi or y < lo:
            clipped += 1
            x = xs[i]
            edge, d = (TOP, 1) if y > hi else (TOP + plot_h, -1)
            tri = f"{x - 4:.1f},{edge + 6 * d:.1f} {x + 4:.1f},{edge + 6 * d:.1f} {x:.1f},{edge:.1f}"
            out.append(f'<polygon class="pt clipped {status}" points="{tri}"><title>{tip}</title></polygon>')
            continue
        r = RADIUS.get(status, 1.8)
        out.append(f'<circle class="pt {status}" cx="{px[i]}" cy="{py[i]}" r="{r}"><title>{tip}</title></circle>')
    if clipped:
        out.append(
            f'<text class="note" x="{width - RIGHT}" y="{TOP + 10}" text-anchor="end">'
            f"▲▼ {clipped} off the scale (value on hover)</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))


def _learning(points: Sequence[TrendPoint], xs: Sequence[float], half: float, plot_h: float) -> list[str]:
    """The LEARNING stretches, shaded and labelled."""
    out = []
    run: list[int] = []
    for i in range(len(points) + 1):
        if i < len(points) and str(points[i].status).upper() == Status.LEARNING:
            run.append(i)
            continue
        if run:
            x0, x1 = max(LEFT, xs[run[0]] - half), min(WIDTH - RIGHT, xs[run[-1]] + half)
            out.append(f'<rect class="learning" x="{x0:.1f}" y="{TOP}" width="{x1 - x0:.1f}" height="{plot_h}"/>')
            if x1 - x0 > 56:
                out.append(f'<text class="learning-label" x="{x0 + 4:.1f}" y="{TOP + 11}">learning</text>')
            run = []
    return out


def _bands(
    lows: list[float | None],
    highs: list[float | None],
    xs: Sequence[float],
    sy: Callable[[float], float],
    lo: float,
    hi: float,
) -> list[str]:
    """The band: contiguous runs of partitions that have one, clipped to the axis; a one-sided
    band reaches the edge."""
    out = []
    run: list[int] = []
    for i in range(len(lows) + 1):
        if i < len(lows) and (lows[i] is not None or highs[i] is not None):
            run.append(i)
            continue
        if run:
            top = [(xs[j], sy(_or(highs[j], hi))) for j in run]
            bottom = [(xs[j], sy(_or(lows[j], lo))) for j in reversed(run)]
            if len(run) == 1:  # a single partition: a short bar
                x = top[0][0]
                top = [(x - 3, top[0][1]), (x + 3, top[0][1])]
                bottom = [(x + 3, bottom[0][1]), (x - 3, bottom[0][1])]
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in top + bottom)
            out.append(f'<polygon class="band" points="{pts}"/>')
            run = []
    return out


def _or(v: float | None, edge: float) -> float:
    return edge if v is None else v
