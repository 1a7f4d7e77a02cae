"""Numbers, durations and times as people read them, the same in the UI, the command line and alerts.

- thousands separators: 3,101 · 250,000; a whole number under a million is written whole;
- anything else to 3 significant digits: 65.7 · −4.15 · 0.0123 · 2,750 (2746.41);
- huge numbers with a suffix, never an exponent: 3.71 M, 1.2 B (an exponent only below 0.001);
- negative numbers with a true minus sign (−38.3 %);
- units: "3,101 rows", "65.7 %", durations "45 s", "1.28 min", "30 h", "2.5 d";
- every time with its zone: "2026-11-28 06:00 UTC";
- a value of a row as written in SQL, cut when long: 'XX', 42, NULL, (42, 'tv').

`unit` arguments are the check types' units (`quinto.checks.base`: "count", "percent", "seconds",
"value"); `noun` names what a count counts ("rows").
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re

MINUS = "\u2212"
DASH = "\u2013"  # between the ends of a range: 2,750–3,330
COUNT, PERCENT, VALUE, SECONDS = "count", "percent", "value", "seconds"
SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"))
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0

#: a status as the command line colours it (bold: WARN and worse)
STATUS_COLORS = {"LEARNING": "cyan", "PASS": "green", "WARN": "yellow", "FAIL": "red", "ERROR": "magenta"}


def _sig(x: float, digits: int = 3) -> str:
    """|x| (not 0, under 1e6, already rounded to `digits` significant digits), with separators."""
    places = digits - 1 - math.floor(math.log10(x))
    if places <= 0:
        return f"{round(x):,}"
    return f"{x:,.{places}f}".rstrip("0").rstrip(".")


def number(x: float | int | None, digits: int = 3) -> str:
    """A number for people: whole numbers under a million whole (3,101), anything else to `digits`
    significant digits (65.7, 2,750, 3.71 M), NULL for None."""
    if x is None:
        return "NULL"
    if isinstance(x, bool):
        return str(x).lower()
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return ("" if x > 0 else MINUS) + "∞"
    sign = MINUS if x < 0 else ""
    a = abs(x)
    if a == 0:
        return "0"
    if x.is_integer() and a < 1e6:
        return f"{sign}{int(a):,}"
    if a < 1e-3:
        mantissa, exponent = f"{a:.{digits - 1}e}".split("e")
        return f"{sign}{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    # round first: 999,999.7 is 1 M, not 1,000,000
    r = float(f"{a:.{digits}g}")
    for size, suffix in SUFFIXES:
        if r >= size:
            return f"{sign}{_sig(float(f'{r / size:.{digits}g}'), digits)} {suffix}"
    return sign + _sig(r, digits)


def duration(seconds: float | None) -> str:
    """A duration: 45 s, 1.28 min, 30 h, 2.5 d (3 significant digits, the largest unit that keeps
    it at least 1; hours up to 48)."""
    if seconds is None:
        return "NULL"
    if not math.isfinite(seconds):
        return number(seconds)
    sign = MINUS if seconds < 0 else ""
    s = abs(float(seconds))
    if s < MINUTE:
        return f"{sign}{number(s)} s"
    if s < HOUR:
        return f"{sign}{number(s / MINUTE)} min"
    if s < 2 * DAY:
        return f"{sign}{number(s / HOUR)} h"
    return f"{sign}{number(s / DAY)} d"


def percent(x: float | None) -> str:
    """65.7 %"""
    return "NULL" if x is None else f"{number(x)} %"


def signed_percent(x: float | None) -> str:
    """A change: +12.5 %, −38.3 %, 0 %."""
    if x is None:
        return "n/a"
    return ("+" if x > 0 else "") + percent(x)


def quantity(x: float | None, unit: str = VALUE, noun: str = "") -> str:
    """A check's value in its unit: "3,101 rows", "65.7 %", "30 h", "4.15"."""
    if x is None:
        return "NULL"
    if unit == SECONDS:
        return duration(x)
    if unit == PERCENT:
        return percent(x)
    text = number(x)
    if unit == COUNT and noun:
        return f"{text} {noun}" if text not in ("1", f"{MINUS}1") else f"{text} {noun.removesuffix('s')}"
    return text


@functools.lru_cache(maxsize=4096)  # a band repeats from partition to partition
def expected(low: float | None, high: float | None, unit: str = VALUE, noun: str = "") -> str:
    """A passing range: "2,750–3,330 rows", "−30 % to 50 %", "≤ 26 h", "≥ 100 rows", "" for none."""
    if low is None and high is None:
        return ""
    if low is None:
        return f"≤ {quantity(high, unit, noun)}"
    if high is None:
        return f"≥ {quantity(low, unit, noun)}"
    if low == high:
        return quantity(low, unit, noun)
    if low < 0 or unit == SECONDS:
        return f"{quantity(low, unit, noun)} to {quantity(high, unit, noun)}"
    after = " %" if unit == PERCENT else (f" {noun}" if unit == COUNT and noun else "")
    return f"{number(low)}{DASH}{number(high)}{after}"


def when(t: dt.datetime | None, seconds: bool = False) -> str:
    """A time in UTC, saying so: 2026-11-28 06:00 UTC (a naive time is taken as UTC)."""
    if t is None:
        return ""
    t = t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def literal(value: object, width: int = 60) -> str:
    """A row's value as people write it in SQL: 'XX' (a quote doubled), 42, 1.5, true, NULL; a tuple
    as (42, 'tv'); anything else as JSON. Control characters are escaped (\\n), so the value stays on
    its line, and text longer than `width` characters is cut with an ellipsis."""
    if value is None:
        return "NULL"
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v, width) for v in value) + ")"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], value)
        cut = text if len(text) <= width else text[: width - 1] + "\u2026"
        return "'" + cut.replace("'", "''") + "'"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= width else text[: width - 1] + "\u2026"
