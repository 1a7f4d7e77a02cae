"""Trend charts as SVG rendered on the server: no JavaScript, nothing fetched from a CDN, readable
at 365 points. One chart per check: the judged number per partition, the passing band from the
baselines or thresholds, and the failed points marked."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from markupsafe import Markup, escape

from quinto.evaluate import Status

WIDTH, HEIGHT = 960, 150
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 8, 20


def _finite(x: Any) -> float | None:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _label(x: float) -> str:
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:,.4g}" if abs(x) < 1e4 else f"{x:,.0f}"


class TrendPoint(NamedTuple):
    """A check's number on a partition: `y` (what it judged), its passing band, its status."""

    partition: str
    y: float | None
    low: float | None
    high: float | None
    status: str


def trend_svg(points: Sequence[TrendPoint], label: str) -> Markup:
    """`points`: oldest first. Returns an inline <svg>."""
    ys = [_finite(p.y) for p in points]
    lows = [_finite(p.low) for p in points]
    highs = [_finite(p.high) for p in points]
    known = [v for v in ys + lows + highs if v is not None]
    n = len(points)
    out = [
        f'<svg class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" data-points="{sum(y is not None for y in ys)}">'
    ]
    if not known or n == 0:
        out.append(f'<text x="{LEFT}" y="{HEIGHT // 2}" class="empty">no values</text></svg>')
        return Markup("".join(out))
    lo, hi = min(known), max(known)
    if hi == lo:
        lo, hi = lo - (abs(lo) or 1) * 0.5, hi + (abs(hi) or 1) * 0.5
    pad = (hi - lo) * 0.06
    lo, hi = lo - pad, hi + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    xs = [LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2) for i in range(n)]

    def sx(i: int) -> float:
        return xs[i]

    def sy(v: float) -> float:
        return TOP + plot_h * (hi - v) / (hi - lo)

    out += _bands(lows, highs, sx, sy, plot_h)
    # axes and labels
    out.append(f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"/>')
    out.append(f'<text class="tick" x="{LEFT - 4}" y="{TOP + 10}" text-anchor="end">{escape(_label(hi))}</text>')
    out.append(f'<text class="tick" x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end">{escape(_label(lo))}</text>')
    first, last = str(points[0].partition), str(points[-1].partition)
    out.append(f'<text class="tick" x="{LEFT}" y="{HEIGHT - 4}">{escape(first)}</text>')
    if n > 1:
        out.append(f'<text class="tick" x="{WIDTH - RIGHT}" y="{HEIGHT - 4}" text-anchor="end">{escape(last)}</text>')
    # the line, broken where a partition has no value
    segment: list[str] = []
    for i in range(n + 1):
        y = ys[i] if i < n else None
        if y is not None:
            segment.append(f"{sx(i):.1f},{sy(y):.1f}")
            continue
        if len(segment) > 1:
            out.append(f'<polyline class="line" points="{" ".join(segment)}"/>')
        segment = []
    # the points; failed ones drawn larger
    radius = {"fail": 3.5, "error": 3.5, "warn": 2.5}
    for i, p in enumerate(points):
        y = ys[i]
        if y is None:
            continue
        status = str(p.status or Status.PASS).lower()
        tip = html.escape(f"{p.partition}: {_label(y)} ({status.upper()})")
        out.append(
            f'<circle class="pt {html.escape(status)}" cx="{xs[i]:.1f}" cy="{sy(y):.1f}" '
            f'r="{radius.get(status, 1.6)}"><title>{tip}</title></circle>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def _bands(
    lows: list[float | None],
    highs: list[float | None],
    sx: Callable[[int], float],
    sy: Callable[[float], float],
    plot_h: float,
) -> list[str]:
    """The band: contiguous runs of partitions that have one; a one-sided band reaches the edge."""
    out = []
    run: list[int] = []
    for i in range(len(lows) + 1):
        if i < len(lows) and (lows[i] is not None or highs[i] is not None):
            run.append(i)
            continue
        if run:
            top = [(sx(j), _at(highs[j], TOP, sy)) for j in run]
            bottom = [(sx(j), _at(lows[j], TOP + plot_h, sy)) for j in reversed(run)]
            if len(run) == 1:  # a single partition: a short vertical bar
                x = top[0][0]
                top = [(x - 2, top[0][1]), (x + 2, top[0][1])]
                bottom = [(x + 2, bottom[0][1]), (x - 2, bottom[0][1])]
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in top + bottom)
            out.append(f'<polygon class="band" points="{pts}"/>')
            run = []
    return out


def _at(v: float | None, edge: float, sy: Callable[[float], float]) -> float:
    return edge if v is None else sy(v)
