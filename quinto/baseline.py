"""The expected value of a metric and its passing band, learnt from the metric's own history.

Pure functions, no I/O. The model, in words (the README's History section says the same):

- The history is the metric's stored values of earlier partitions, minus partitions marked bad.
  A partition where this metric FAILed (and nobody marked it) still takes part, but the fit is
  robust: a value far from the rest gets a weight near 0 and teaches nothing (a defect), a value
  just outside the band gets a small weight (a drift that persists is followed). A FAIL of another
  check never removes a partition from this metric's history.
- The last `window` partitions (`window` weeks of them with `same_weekday`) are fitted with a
  level, a trend, and for daily partitions an effect per weekday; optionally the day of the month
  (`month_day`, e.g. a spike on the 1st). Positive metrics are fitted on a log scale, so weekly
  patterns and growth are multiplicative as they are in real tables.
- A partition marked good where this metric FAILed starts a new regime: the fit gets a step from
  that partition on, so the new level is learnt at once while the weekday pattern and the trend
  still come from all the history.
- The band is the Student-t prediction interval for one new value at the `sigma` level: it widens
  with little history and with the distance of the new partition from the ones learnt from.
- With fewer than `min_history` partitions the check is LEARNING: not judged, not alerted.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

# Tukey's bisquare constant (95 % efficiency on normal data) and Huber's, for the first iterations.
BISQUARE_C = 4.685
HUBER_C = 1.345


@dataclass(frozen=True)
class Point:
    """One partition of a metric's history."""

    partition: str
    value: float
    good: bool = False  # marked good: never down-weighted
    failed_by: frozenset[str] = frozenset()  # the checks (keys) that FAILed there

    def failed(self, check: str) -> bool:
        """`check` FAILed here and nobody marked the partition good."""
        return check in self.failed_by and not self.good

    def starts_regime(self) -> bool:
        """Marked good where a check of this metric FAILed: the owner accepted a new level from here
        on (for the anomaly fit and the change checks alike)."""
        return self.good and bool(self.failed_by)


@dataclass(frozen=True)
class Fit:
    expected: float
    low: float
    high: float
    n: int  # partitions learnt from (weight > 0)
    terms: tuple[str, ...]  # what the model holds: level, trend, weekday, month_day, regime
    log: bool  # fitted on a log scale


@dataclass(frozen=True)
class Learning:
    """Not enough history yet: why, and how much there is."""

    reason: str
    have: int
    need: int


def parse_day(partition: str) -> dt.date | None:
    """A daily partition's date (YYYY-MM-DD or YYYYMMDD), else None."""
    text = partition
    if len(text) == 8 and text.isdigit():
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    if len(text) != 10:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


# -- tiny linear algebra (the systems are at most ~12 x 12) ------------------------------------------


def _solve(a: list[list[float]], b: list[float]) -> list[float] | None:
    """Solves a·x = b by Gaussian elimination with partial pivoting; None when singular."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[pivot][col]) < 1e-12:
            return None
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col:
                f = m[r][col] / m[col][col]
                if f:
                    for c in range(col, n + 1):
                        m[r][c] -= f * m[col][c]
    return [m[i][n] / m[i][i] for i in range(n)]


def _normal(x: Sequence[Sequence[float]], w: Sequence[float]) -> list[list[float]]:
    """XᵀWX, summed over each row's non-zero terms (most terms are 0/1 indicators)."""
    p = len(x[0])
    a = [[0.0] * p for _ in range(p)]
    for row, wi in zip(x, w, strict=True):
        if wi == 0:
            continue
        nz = [(i, v) for i, v in enumerate(row) if v]
        for i, vi in nz:
            ai, f = a[i], wi * vi
            for j, vj in nz:
                ai[j] += f * vj
    return a


def _wls(x: Sequence[Sequence[float]], y: Sequence[float], w: Sequence[float]) -> list[float] | None:
    p = len(x[0])
    xty = [0.0] * p
    for row, yi, wi in zip(x, y, w, strict=True):
        if wi:
            for i, v in enumerate(row):
                if v:
                    xty[i] += wi * v * yi
    return _solve(_normal(x, w), xty)


def _leverage(x: Sequence[Sequence[float]], w: Sequence[float], x0: Sequence[float]) -> float:
    """x0ᵀ (XᵀWX)⁻¹ x0: how far the new partition lies from those learnt from."""
    z = _solve(_normal(x, w), list(x0))
    return math.inf if z is None else max(0.0, sum(a * b for a, b in zip(x0, z, strict=True)))


# -- Student's t --------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _t_cdf(x: float, df: int) -> float:
    """Student's t distribution function, by Simpson integration of its density from 0 to x."""
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    steps = 400
    h = x / steps
    total = 0.0
    for i in range(steps + 1):
        weight = 1 if i in (0, steps) else (4 if i % 2 else 2)
        t = i * h
        total += weight * math.exp(log_norm - (df + 1) / 2 * math.log1p(t * t / df))
    return 0.5 + total * h / 3


@lru_cache(maxsize=4096)
def t_multiplier(sigma: float, df: int) -> float:
    """The quantile of Student's t with `df` degrees of freedom at the normal `sigma` level: the
    multiple of the residual spread that keeps the false-alarm rate of a `sigma` rule whatever the
    amount of history (3 → 3.0 with much history, 3.4 with 20 degrees of freedom, 4.9 with 6)."""
    if df < 1:
        return math.inf
    p = statistics.NormalDist().cdf(sigma)
    low, high = 0.0, max(60.0, sigma * 20)
    for _ in range(60):
        mid = (low + high) / 2
        if _t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
    return high


def widened_sigma(sigma: float, n: int) -> float:
    """The Student-t prediction interval's multiple of the stddev of n values, for one new value."""
    return t_multiplier(sigma, n - 1) * math.sqrt(1 + 1 / n) if n >= 2 else math.inf


# -- the model ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """What to fit: the options of an `anomaly:` check, resolved."""

    window: int = 28
    sigma: float = 3.0
    min_history: int = 14
    weekday: bool = True  # weekday effects for daily partitions, once two weeks are known
    weekday_required: bool = False  # asked for explicitly: learning until the weekday was seen
    month_day: bool = False
    same_weekday_window: bool = False  # `window` counts weeks (same_weekday: true)
    robust: bool = True
    count: bool = False  # the metric counts rows: Poisson noise is its least spread


def _training(points: Sequence[Point], model: Model, day: dt.date | None) -> list[Point]:
    span = model.window * 7 if model.same_weekday_window and day is not None else model.window
    recent = list(points[-span:])
    if model.month_day and day is not None:
        # earlier partitions on the same day of the month teach the month_day effect
        older = [p for p in points[:-span] if (d := parse_day(p.partition)) is not None and d.day == day.day]
        recent = older[-3:] + recent
    return recent


def _regressors(
    train: Sequence[Point],
    days: Sequence[dt.date | None],
    day: dt.date | None,
    model: Model,
    times: tuple[list[float], float, float],
) -> list[tuple[str, list[float], float]] | Learning:
    """The model's terms besides the level: (name, value per point, value for the new partition);
    `day` is None unless every partition is a day. Learning when the weekly pattern cannot be told."""
    ts, t0, span = times
    n = len(train)
    columns: list[tuple[str, list[float], float]] = []
    # a step per regime start inside the window (the level after an accepted change)
    starts = [i for i, p in enumerate(train) if p.starts_regime() and i > 0]
    for i in starts:
        columns.append(("regime", [1.0 if j >= i else 0.0 for j in range(n)], 1.0))
    if day is not None and model.weekday and (n >= 14 or model.weekday_required):
        present = sorted({d.weekday() for d in days if d is not None})
        if day.weekday() not in present:
            if model.weekday_required:
                return Learning(f"learning: no earlier {day.strftime('%A')} yet", n, model.min_history)
        else:
            for wd in present[1:]:
                col = [1.0 if d is not None and d.weekday() == wd else 0.0 for d in days]
                columns.append(("weekday", col, 1.0 if day.weekday() == wd else 0.0))
    if day is not None and model.month_day:
        col = [1.0 if d is not None and d.day == day.day else 0.0 for d in days]
        if any(col):
            columns.append(("month_day", col, 1.0))
    # the trend is fitted only with enough history to tell it from noise
    if n >= 10:
        columns.append(("trend", [(t - ts[-1]) / span for t in ts], (t0 - ts[-1]) / span))
    return columns


def fit(points: Sequence[Point], partition: str, model: Model) -> Fit | Learning:
    """The expected value and passing band of `partition`, from earlier `points` (oldest first).
    A NaN or infinite value teaches nothing (it would turn every band into NaN)."""
    day = parse_day(partition)
    train = _training([p for p in points if math.isfinite(p.value)], model, day)
    days = [parse_day(p.partition) for p in train]
    dated = day is not None and all(d is not None for d in days)
    n = len(train)
    if n < model.min_history:
        return Learning(f"learning: {n} of {model.min_history} partitions of history", n, model.min_history)
    values = [p.value for p in train]
    log = n >= 6 and all(v > 0 for v in values)  # a multiplicative pattern needs some history to show
    y = [math.log(v) if log else v for v in values]
    origin = days[0] if dated else None
    if dated:
        assert origin is not None and day is not None
        ts = [float((d - origin).days) for d in days if d is not None]
        t0 = float((day - origin).days)
    else:
        ts, t0 = [float(i) for i in range(n)], float(n)
    span = (ts[-1] - ts[0]) or 1.0
    columns = _regressors(train, days, day if dated else None, model, (ts, t0, span))
    if isinstance(columns, Learning):
        return columns
    x = [[1.0] + [c[1][i] for c in columns] for i in range(n)]
    x0 = [1.0] + [c[2] for c in columns]
    names = ["level", *(c[0] for c in columns)]
    # a model with as many terms as points learns nothing about the spread: drop terms until it can
    while len(x0) > 1 and n - len(x0) < 2:
        if names[-1] == "weekday" and model.weekday_required:
            return Learning(f"learning the weekly pattern: {n} partitions of history", n, model.min_history)
        x = [row[:-1] for row in x]
        x0 = x0[:-1]
        names = names[:-1]
    terms = tuple(dict.fromkeys(names))
    fixed = [p.good for p in train]
    weights = _robust_weights(x, y, fixed) if model.robust else [1.0] * n
    beta = _wls(x, y, weights)
    if beta is None:  # collinear (e.g. a regime with no point before it): the plainest model
        x, x0, terms = [[1.0] for _ in range(n)], [1.0], ("level",)
        weights = _robust_weights(x, y, fixed) if model.robust else [1.0] * n
        beta = _wls(x, y, weights) or [statistics.fmean(y)]
    resid = [yi - sum(b * xi for b, xi in zip(beta, row, strict=True)) for row, yi in zip(x, y, strict=True)]
    inliers = [i for i in range(n) if weights[i] > 0]
    p = len(x0)
    df = len(inliers) - p
    if df < 1:
        return Learning(f"learning: {len(inliers)} usable partitions of history", len(inliers), model.min_history)
    s2 = sum(resid[i] ** 2 for i in inliers) / df
    center = sum(b * xi for b, xi in zip(beta, x0, strict=True))
    s = math.sqrt(s2)
    if model.count:  # a count varies at least half as much as a Poisson count does
        level = math.exp(center) if log else max(center, 0.0)
        floor = 0.5 / math.sqrt(max(level, 1.0)) if log else 0.5 * math.sqrt(max(level, 1.0))
        s = max(s, floor)
    s = max(s, 1e-3 if log else 1e-3 * abs(center))  # a constant history still has a band (±0.1 % a sigma)
    w_in = [weights[i] if i in set(inliers) else 0.0 for i in range(n)]
    h = _leverage(x, w_in, x0)
    half = t_multiplier(model.sigma, df) * s * math.sqrt(1 + h)
    if log:
        return Fit(math.exp(center), math.exp(center - half), math.exp(center + half), len(inliers), terms, True)
    return Fit(center, center - half, center + half, len(inliers), terms, False)


def _robust_weights(x: list[list[float]], y: list[float], fixed: list[bool]) -> list[float]:
    """IRLS weights: Huber iterations from least squares, then Tukey's bisquare, which gives a
    value far from the fit (over 4.685 robust standard deviations) weight 0. `fixed` points
    (marked good) keep weight 1."""
    n, p = len(y), len(x[0])
    w = [1.0] * n
    bisquare = False
    for it in range(40):
        beta = _wls(x, y, w)
        if beta is None:
            return [1.0] * n
        resid = [yi - sum(b * xi for b, xi in zip(beta, row, strict=True)) for row, yi in zip(x, y, strict=True)]
        spread = statistics.median(abs(r) for r in resid) * 1.4826 * math.sqrt(n / max(n - p, 1))
        if spread <= 1e-12:
            # most points fit exactly: keep those, drop the ones that do not
            spread = max((abs(r) for r in resid), default=0.0) * 1e-6 or 1e-12
        new = []
        for r, keep in zip(resid, fixed, strict=True):
            u = abs(r) / spread
            if keep:
                new.append(1.0)
            elif not bisquare:
                new.append(1.0 if u <= HUBER_C else HUBER_C / u)
            else:
                new.append((1 - (u / BISQUARE_C) ** 2) ** 2 if u < BISQUARE_C else 0.0)
        converged = max(abs(a - b) for a, b in zip(new, w, strict=True)) < 1e-4
        w = new
        if converged or it == 14:
            if bisquare:
                return w
            bisquare = True  # from the Huber fit, Tukey's bisquare rejects what is far away
    return w
