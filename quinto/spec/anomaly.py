"""`anomaly:` options of a check → `Anomaly` (the model they steer is `quinto.baseline`'s)."""

from __future__ import annotations

import math
from typing import Any

from quinto.checks import SECONDS
from quinto.errors import Location, did_you_mean
from quinto.spec.grammar import parse_duration
from quinto.spec.model import Anomaly, MinChange
from quinto.spec.yamlfile import Map

ANOMALY_OPTIONS = (
    "window",
    "sigma",
    "min_history",
    "seasonality",
    "direction",
    "min_change",
    "method",
    "same_weekday",
    "calibrate",
)
SEASONALITIES = ("weekday", "month_day")
DIRECTIONS = ("both", "drop", "spike")


class AnomalyOptions:
    """The `anomaly:` part of the check-file parser (a base of it: problems go to its `err`)."""

    problems: list[Any]

    def err(self, loc: Location | None, msg: str) -> None:
        raise NotImplementedError

    def anomaly(self, opts: dict[str, Any], oloc: Any, kloc: Any, unit: str) -> Anomaly | None:
        raw = opts["anomaly"]
        if raw is True or raw is None:
            return Anomaly()
        if not isinstance(raw, Map):
            self.err(oloc("anomaly"), "`anomaly:` is a mapping like {window: 28, sigma: 3}")
            return None
        for k in raw:
            if k not in ANOMALY_OPTIONS:
                self.err(raw.key_loc(k), f"unknown anomaly option '{k}'{did_you_mean(k, ANOMALY_OPTIONS)}")
        before = len(self.problems)
        window, sigma = raw.get("window", 28), raw.get("sigma", 3)
        same_weekday = self._flag(raw, "same_weekday", False)
        calibrate = self._flag(raw, "calibrate", True)
        min_history = raw.get("min_history")
        method = raw.get("method", "robust")
        direction = raw.get("direction", "both")
        if not isinstance(window, int) or isinstance(window, bool) or window < 2:
            self.err(raw.value_loc("window"), f"`window:` is a whole number of partitions, at least 2, not {window!r}")
        if not isinstance(sigma, (int, float)) or isinstance(sigma, bool) or not 0 < sigma < 1e6:
            self.err(raw.value_loc("sigma"), f"`sigma:` is a positive number, not {sigma!r}")
        if min_history is not None and (
            not isinstance(min_history, int) or isinstance(min_history, bool) or min_history < 2
        ):
            self.err(raw.value_loc("min_history"), f"`min_history:` is a whole number, at least 2, not {min_history!r}")
        elif isinstance(min_history, int) and isinstance(window, int) and min_history > window and not same_weekday:
            self.err(
                raw.value_loc("min_history"),
                f"`min_history:` ({min_history}) is more than `window:` ({window}) can ever hold",
            )
        if method not in ("mean", "robust"):
            hint = did_you_mean(str(method), ["robust", "mean"])
            self.err(raw.value_loc("method"), f"`method:` is 'robust' or 'mean'{hint}")
        if direction not in DIRECTIONS:
            hint = did_you_mean(str(direction), DIRECTIONS)
            self.err(raw.value_loc("direction"), f"`direction:` is 'drop', 'spike' or 'both'{hint}")
        seasonality = self._seasonality(raw) if "seasonality" in raw else None
        if same_weekday and seasonality is not None and "weekday" not in seasonality:
            self.err(raw.key_loc("same_weekday"), "`same_weekday: true` and a `seasonality:` without weekday disagree")
        min_change = self._min_change(raw, unit) if "min_change" in raw else ()
        if len(self.problems) > before:
            return None
        return Anomaly(
            window=window,
            sigma=float(sigma),
            same_weekday=bool(same_weekday),
            min_history=min_history,
            method=method,
            calibrate=bool(calibrate),
            seasonality=seasonality,
            direction=direction,
            min_change=min_change,
        )

    def _flag(self, raw: Map, key: str, default: bool) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            self.err(raw.value_loc(key), f"`{key}:` is true or false, not {value!r}")
            return default
        return value

    def _seasonality(self, raw: Map) -> tuple[str, ...]:
        value = raw.get("seasonality")
        items = [] if value in (None, "none") else (value if isinstance(value, list) else [value])
        out: list[str] = []
        for item in items:
            if item not in SEASONALITIES:
                hint = did_you_mean(str(item), SEASONALITIES)
                self.err(
                    raw.value_loc("seasonality"),
                    f"unknown seasonality {item!r}{hint}: a list of {', '.join(SEASONALITIES)} (or [] for none)",
                )
            elif item not in out:
                out.append(item)
        return tuple(out)

    def _min_change(self, raw: Map, unit: str) -> tuple[MinChange, ...]:
        value = raw.get("min_change")
        items = value if isinstance(value, list) else [value]
        out: list[MinChange] = []
        for item in items:
            floor = _floor(item, unit)
            if floor is None:
                duration = " or a duration such as 2h" if unit == SECONDS else ""
                self.err(
                    raw.value_loc("min_change"),
                    f"`min_change:` is a percentage (5%){duration} or a number in the metric's unit, "
                    f"or a list of both, not {item!r}",
                )
            else:
                out.append(floor)
        if sum(f.relative for f in out) > 1 or sum(not f.relative for f in out) > 1:
            self.err(raw.value_loc("min_change"), "`min_change:` takes at most one percentage and one amount")
        return tuple(out)


def _floor(item: Any, unit: str) -> MinChange | None:
    """One `min_change:` item: `5%` (of the expected value), a number, or a duration (freshness)."""
    if isinstance(item, bool) or item is None:
        return None
    if isinstance(item, (int, float)):
        return MinChange(float(item), False, f"{item:g}") if math.isfinite(item) and item >= 0 else None
    text = str(item).strip()
    if text.endswith("%"):
        try:
            pct = float(text[:-1])
        except ValueError:
            return None
        return MinChange(pct, True, text) if math.isfinite(pct) and pct >= 0 else None
    if unit == SECONDS:
        try:
            return MinChange(parse_duration(text), False, text)
        except ValueError:
            return None
    try:
        amount = float(text)
    except ValueError:
        return None
    return MinChange(amount, False, text) if math.isfinite(amount) and amount >= 0 else None
