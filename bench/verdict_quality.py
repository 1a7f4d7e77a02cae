"""Benchmark: how good are the verdicts? Recall of labelled defects against false FAILs, on a warehouse
with the patterns real tables have, for Quinto (through its CLI) and for the published rules of other tools.

1. Generates a DuckDB warehouse of daily-partitioned tables (`ds` 'YYYY-MM-DD') with weekly seasonality,
   steady growth, payday spikes on the 1st, a planned +30 % level shift, holidays and missing days, and
   labelled defects: volume drops and spikes, partial loads, NULL bursts, mean shifts, duplicate loads.
2. Writes quinto.yaml and one check file per table, as a new user would from the README (default options).
3. Runs Quinto like a scheduler: `quinto backfill` for the first weeks, then one `quinto audit --json` per
   table per day in date order; when the planned shift first FAILs, the owner runs `quinto mark ... good`.
4. Judges the same metric values (read from the warehouse) with Elementary's z-score test, Deequ's
   OnlineNormal strategy and the mean ± 3σ rule Quinto used until now (plain and same-weekday).
5. Reports per method: recall of labelled defects, false FAILs per 1,000 judged pairs (split by the
   pattern that explains the day), warm-up partitions and FAILs after the accepted shift.

    python bench/verdict_quality.py [--days 120] [--backfill-days 42] [--seed 7] [--json PATH] [--quick]
    python bench/verdict_quality.py --checks today   # only the anomaly options today's parser accepts
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

START = dt.date(2026, 6, 1)  # a Monday and the 1st of a month
HOLIDAYS = {dt.date(2026, 6, 19): 0.8, dt.date(2026, 7, 3): 0.75, dt.date(2026, 9, 7): 0.8}  # modest dips
METRICS = ("row_count", "missing_count", "avg_amount", "duplicate_count")
ANOMALY_METRICS = ("row_count", "missing_count", "avg_amount")  # what the peer methods judge
NULL_RATE = 0.01  # of user_id on an ordinary day
AMOUNT = 50.0  # mean of amount on an ordinary day

# ---------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Defect:
    day: int  # days after START
    kind: str  # a key of DEFECTS


# kind -> (metrics it should be caught on, what it does to the day)
DEFECTS: dict[str, tuple[tuple[str, ...], dict[str, float]]] = {
    "volume drop": (("row_count",), {"rows": 0.55}),
    "volume spike": (("row_count",), {"rows": 1.8}),
    "partial load": (("row_count",), {"rows": 0.3}),
    "NULL burst": (("missing_count",), {"null_rate": 12.0}),
    "mean shift": (("avg_amount",), {"amount": 1.25}),
    "duplicate load": (("row_count", "duplicate_count"), {"dup": 0.5}),
}


@dataclass(frozen=True)
class Profile:
    table: str
    rows: int  # rows of an ordinary weekday at START
    weekend: float = 1.0  # factor on Saturdays and Sundays
    growth: float = 0.0  # per day, compounded
    payday: float = 1.0  # factor on the 1st of the month
    shift: tuple[int, float] | None = None  # (day, factor): a planned level change the owner accepts
    holidays: bool = False
    missing: tuple[int, ...] = ()  # days without a partition
    defects: tuple[Defect, ...] = ()

    def within(self, days: int) -> Profile:
        """The profile cut to the first `days` days."""
        shift = self.shift if self.shift and self.shift[0] < days else None
        return replace(self, shift=shift, defects=tuple(x for x in self.defects if x.day < days))

    @property
    def patterns(self) -> list[str]:
        named = [("weekly", self.weekend != 1), ("growth", self.growth), ("payday", self.payday != 1)]
        named += [("planned shift", self.shift), ("holidays", self.holidays), ("missing days", self.missing)]
        return [name for name, present in named if present]


def d(kind: str, *days: int) -> tuple[Defect, ...]:
    return tuple(Defect(day, kind) for day in days)


PROFILES = (
    Profile(
        "shop.orders",
        1000,
        weekend=1.5,
        growth=0.004,
        defects=d("volume drop", 50) + d("NULL burst", 68) + d("duplicate load", 86) + d("mean shift", 104),
    ),
    Profile(
        "shop.payments",
        800,
        weekend=0.6,
        payday=1.8,
        defects=d("partial load", 47) + d("volume spike", 75) + d("mean shift", 93) + d("NULL burst", 111),
    ),
    Profile(
        "shop.sessions",
        1200,
        weekend=1.5,
        shift=(61, 1.3),
        holidays=True,
        defects=d("volume drop", 40) + d("mean shift", 82) + d("duplicate load", 97) + d("NULL burst", 115),
    ),
    Profile(
        "shop.refunds",
        400,
        weekend=0.6,
        growth=0.004,
        holidays=True,
        missing=(36, 37, 78),
        defects=d("volume spike", 44) + d("partial load", 72) + d("NULL burst", 90) + d("mean shift", 108),
    ),
)


def day_of(i: int) -> dt.date:
    return START + dt.timedelta(days=i)


@dataclass(frozen=True)
class DayPlan:
    ds: str
    day: int
    rows: int
    null_rate: float
    amount: float
    dup_rows: int


def plan_day(p: Profile, i: int, rng: random.Random) -> DayPlan | None:
    """What one partition of `p` holds on day i: the patterns, then noise, then the day's defect."""
    if i in p.missing:
        return None
    date = day_of(i)
    level = p.rows * (1 + p.growth) ** i
    level *= p.weekend if date.weekday() >= 5 else 1.0
    level *= p.payday if date.day == 1 else 1.0
    level *= p.shift[1] if p.shift and i >= p.shift[0] else 1.0
    level *= HOLIDAYS.get(date, 1.0) if p.holidays else 1.0
    effect = next((DEFECTS[x.kind][1] for x in p.defects if x.day == i), {})
    rows = max(1, round(level * (1 + rng.gauss(0, 0.04)) * effect.get("rows", 1.0)))
    amount = AMOUNT * (1 + rng.gauss(0, 0.02)) * effect.get("amount", 1.0)
    return DayPlan(
        date.isoformat(), i, rows, NULL_RATE * effect.get("null_rate", 1.0), amount, round(rows * effect.get("dup", 0))
    )


# One row per (partition, i); rows i >= rows repeat row i - rows (a duplicate load). hash() makes every
# value a deterministic function of (seed, day, row), so the data does not depend on DuckDB's threads.
ROWS_SQL = """
CREATE TABLE {table} AS
WITH r AS (
    SELECT p.*, unnest(range(p.rows + p.dup_rows)) AS i FROM plan p
), k AS (
    SELECT ds, day, null_rate, amount, CASE WHEN i < rows THEN i ELSE i - rows END AS i FROM r
)
SELECT ds,
       day * 100000 + i AS order_id,
       CASE WHEN hash({seed}, day, i, 1) % 1000000 < null_rate * 1000000 THEN NULL
            ELSE (hash({seed}, day, i, 2) % 50000)::BIGINT END AS user_id,
       round(amount * (0.2 + 1.6 * (hash({seed}, day, i, 3) % 1000000) / 1000000.0), 2) AS amount
FROM k ORDER BY ds, i
"""


def build_warehouse(path: Path, profiles: Iterable[Profile], days: int, seed: int) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA shop")
    for n, p in enumerate(profiles):
        rng = random.Random(seed * 1000 + n)
        plans = [x for x in (plan_day(p, i, rng) for i in range(days)) if x is not None]
        con.execute(
            "CREATE OR REPLACE TEMP TABLE plan (ds VARCHAR, day INTEGER, rows INTEGER, null_rate DOUBLE,"
            " amount DOUBLE, dup_rows INTEGER)"
        )
        con.executemany("INSERT INTO plan VALUES (?, ?, ?, ?, ?, ?)", [list(vars(x).values()) for x in plans])
        con.execute(ROWS_SQL.format(table=p.table, seed=seed + n))
    con.close()


def read_metrics(path: Path, table: str) -> dict[str, dict[str, float]]:
    """metric -> {ds: value}, computed straight from the warehouse."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute(
        f"SELECT ds, count(*), count(*) - count(user_id), avg(amount), count(order_id) - count(DISTINCT order_id)"
        f" FROM {table} GROUP BY ds ORDER BY ds"
    ).fetchall()
    con.close()
    return {m: {r[0]: float(r[k + 1]) for r in rows} for k, m in enumerate(METRICS)}


# ---------------------------------------------------------------------------------------------- checks

# the checks of every table, as the README suggests them; {row_count} is where anomaly options go
CHECKS = (
    "row_count: {{anomaly: {{{row_count}}}}}",
    "missing_count(user_id): {{anomaly: {{}}}}",
    "avg(amount): {{anomaly: {{}}}}",
    "duplicate_count(order_id) = 0",
    "row_count change vs {change_base} between -30% and +50%",
)
# anomaly options of the payday table's row count, per check-file variant
VARIANTS = {"new": "seasonality: [weekday, month_day]", "today": ""}
# what the change check compares with, per variant: the new grammar has a base that fits weekly tables
CHANGE_BASES = {"new": "same weekday last week", "today": "previous partition"}


def check_file(p: Profile, variant: str) -> str:
    options = VARIANTS[variant] if p.payday != 1 else ""
    lines = "".join(f"  - {line.format(row_count=options, change_base=CHANGE_BASES[variant])}\n" for line in CHECKS)
    # the owner knows the table's holidays (the new grammar lets them say so)
    holidays = f"holidays: [{', '.join(map(str, sorted(HOLIDAYS)))}]\n" if p.holidays and variant == "new" else ""
    head = f"table: {p.table}\nconnection: warehouse\npartition: ds\nowners: [data@example.com]\n{holidays}"
    return f"{head}checks:\n{lines}"


def write_project(work: Path, warehouse: Path, profiles: Iterable[Profile], variant: str) -> Path:
    (work / "checks").mkdir(exist_ok=True)
    for p in profiles:
        (work / "checks" / f"{p.table.replace('.', '_')}.yaml").write_text(check_file(p, variant))
    config = work / "quinto.yaml"
    config.write_text(
        f"connections:\n  warehouse: duckdb:///{warehouse}\nstore: sqlite:///{work / 'quinto.db'}\n"
        f"checks: [checks/]\nsample_rows: 0\nspool_dir: {work / 'spool'}\n"
    )
    return config


# ---------------------------------------------------------------------------------------------- Quinto

QUINTO = [str(Path(sys.executable).parent / "quinto")]  # the console script of this interpreter's venv
WARMUP_WORDS = ("insufficient history", "needs history", "learning", "not enough history")


@dataclass
class Verdicts:
    """What one method said: (table, ds, check) -> PASS / FAIL / WARMUP / other, and the owner's marks."""

    status: dict[tuple[str, str, str], str] = field(default_factory=dict)
    metric: dict[str, str] = field(default_factory=dict)  # check -> the metric it judges
    marks: dict[str, str] = field(default_factory=dict)  # table -> the partition marked good


def quinto_status(status: str, message: str) -> str:
    if status == "LEARNING" or (status == "WARN" and any(w in message.lower() for w in WARMUP_WORDS)):
        return "WARMUP"
    if "declared holiday: not judged" in message:
        return "NOT_JUDGED"  # the owner said so; neither a verdict nor warm-up
    return status


def metric_of(check_key: str) -> str:
    """The metric a check judges, from its key (by default the check's line)."""
    prefixes = {"missing_count": "missing_count", "avg(amount)": "avg_amount", "duplicate_count": "duplicate_count"}
    return next((m for prefix, m in prefixes.items() if check_key.startswith(prefix)), "row_count")


def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*QUINTO, *args, "--config", str(config)], capture_output=True, text=True, timeout=600)


def validate(config: Path) -> str | None:
    proc = run_cli(config, "validate")
    return None if proc.returncode == 0 else (proc.stdout + proc.stderr).strip()


def record(v: Verdicts, table: str, outcomes: Iterable[dict[str, object]]) -> None:
    for o in outcomes:
        check = str(o["check"])
        v.status[(table, str(o["partition"]), check)] = quinto_status(str(o["status"]), str(o.get("message", "")))
        v.metric[check] = metric_of(check)


def stored_outcomes(config: Path, table: str) -> list[dict[str, object]]:
    """The current outcomes of `table` in the results store (for the partitions `quinto backfill` judged)."""
    con = sqlite3.connect(config.parent / "quinto.db")
    rows = con.execute(
        "SELECT partition_value, check_key, status, message FROM outcomes WHERE table_name = ? AND current",
        (table,),
    ).fetchall()
    con.close()
    return [{"partition": r[0], "check": r[1], "status": r[2], "message": r[3]} for r in rows]


def run_quinto_table(config: Path, p: Profile, partitions: list[str], backfill_days: int) -> Verdicts:
    """Backfill the first weeks, then audit day by day; the owner marks the planned shift's first FAIL good."""
    v = Verdicts()
    cut = day_of(backfill_days).isoformat()
    if any(ds < cut for ds in partitions):
        proc = run_cli(
            config, "backfill", p.table, "--since", partitions[0], "--until", day_of(backfill_days - 1).isoformat()
        )
        if proc.returncode != 0:
            raise SystemExit(f"quinto backfill {p.table} failed ({proc.returncode}): {proc.stderr.strip()}")
        record(v, p.table, stored_outcomes(config, p.table))
    for ds in (x for x in partitions if x >= cut):
        proc = run_cli(config, "audit", p.table, "-p", f"ds={ds}", "--json")
        if proc.returncode not in (0, 1):
            raise SystemExit(f"quinto audit {p.table} ds={ds} failed ({proc.returncode}): {proc.stderr.strip()}")
        outcomes = json.loads(proc.stdout)["outcomes"]
        record(v, p.table, outcomes)
        if p.shift and ds >= day_of(p.shift[0]).isoformat() and p.table not in v.marks and shift_failed(v, p.table, ds):
            proc = run_cli(config, "mark", p.table, "-p", f"ds={ds}", "good", "--reason", "planned")
            if proc.returncode != 0:
                raise SystemExit(f"quinto mark {p.table} ds={ds} failed ({proc.returncode}): {proc.stderr.strip()}")
            v.marks[p.table] = ds
    return v


def shift_failed(v: Verdicts, table: str, ds: str) -> bool:
    return any(
        t == table and x == ds and s == "FAIL" and v.metric[c] == "row_count" for (t, x, c), s in v.status.items()
    )


def run_quinto(
    config: Path, partitions: dict[str, list[str]], profiles: Iterable[Profile], backfill_days: int, jobs: int
) -> Verdicts:
    # The store is created by the first command that opens it; two doing so at once can collide
    # ("table runs already exists"), so one command creates it before the tables run side by side.
    proc = run_cli(config, "runs", "--limit", "1")
    if proc.returncode != 0:
        raise SystemExit(f"quinto runs failed ({proc.returncode}): {proc.stderr.strip()}")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        parts = list(pool.map(lambda p: run_quinto_table(config, p, partitions[p.table], backfill_days), profiles))
    merged = Verdicts()
    for part in parts:
        merged.status.update(part.status)
        merged.metric.update(part.metric)
        merged.marks.update(part.marks)
    return merged


# ---------------------------------------------------------------------------------------------- peers

Series = list[tuple[str, float]]  # (ds, value), oldest first


def weekday(ds: str) -> int:
    return dt.date.fromisoformat(ds).weekday()


def elementary_zscore(
    series: Series, sensitivity: float = 3.0, days_back: int = 14, min_training: int = 7
) -> list[str]:
    """Elementary's anomaly test with `seasonality: day_of_week`: the training set of a daily bucket is
    every earlier bucket of the same weekday inside `days_back` × 7 days (day_of_week multiplies the
    training period by 7) *and the bucket itself* (a window "unbounded preceding and current row";
    detection-period values train by default). Score (value - avg) / stddev (sample); anomalous when
    |score| > sensitivity and the training set holds at least min_training_set_size values (the
    package's default variable: 7). Every value trains, anomalous or not."""
    out = []
    for ds, value in series:
        start = dt.date.fromisoformat(ds) - dt.timedelta(days=days_back * 7)
        train = [v for x, v in series if x <= ds and dt.date.fromisoformat(x) > start and weekday(x) == weekday(ds)]
        if len(train) < max(2, min_training):
            out.append("WARMUP")
            continue
        sd = statistics.stdev(train)
        score = 0.0 if sd == 0 else (value - statistics.fmean(train)) / sd
        out.append("FAIL" if abs(score) > sensitivity else "PASS")
    return out


def deequ_online_normal(values: list[float], lower: float = 3.0, upper: float = 3.0, ignore_start: float = 0.1) -> bool:
    """Deequ's OnlineNormalStrategy on the whole series, as `isNewPointAnomalous` runs it for the newest
    point: a running mean and population variance (Welford) that include the point under test; points
    in the first `ignore_start` of the series are never anomalous; with ignoreAnomalies an anomalous
    point leaves the running statistics as they were. Returns whether the last point is anomalous."""
    mean = var = sn = 0.0
    anomalous = False
    for i, x in enumerate(values):
        last = (mean, var, sn)
        mean = x if i == 0 else mean + (x - mean) / (i + 1)
        sn += (x - last[0]) * (x - mean)
        var = sn / (i + 1)
        sd = math.sqrt(var)
        anomalous = i >= len(values) * ignore_start and not (mean - lower * sd <= x <= mean + upper * sd)
        if anomalous:
            mean, var, sn = last
    return anomalous


def deequ(series: Series) -> list[str]:
    """Each day Deequ judges the new point against the metric repository's whole history (no history: no
    verdict)."""
    values = [v for _, v in series]
    return [
        "WARMUP" if i == 0 else ("FAIL" if deequ_online_normal(values[: i + 1]) else "PASS") for i in range(len(values))
    ]


def old_rule(
    table_series: dict[str, Series], marks: Callable[[str, str], bool], same_weekday: bool
) -> dict[tuple[str, str], str]:
    """Quinto's rule until now: mean ± 3·stddev (sample) of the last 28 good partitions (same weekday only
    with same_weekday), at least 7 (4 with same_weekday); a partition with any FAIL is left out of every
    baseline of its table unless the owner marked it good. `marks(metric, ds)` is asked after each day's
    verdicts: True when the owner marks that partition good."""
    window, need = 28, 4 if same_weekday else 7
    good: list[str] = []
    out: dict[tuple[str, str], str] = {}
    days = sorted({ds for s in table_series.values() for ds, _ in s})
    values = {m: dict(s) for m, s in table_series.items()}
    for ds in days:
        for m, by_day in values.items():
            if ds not in by_day:
                continue
            base = [by_day[x] for x in good if x in by_day and (not same_weekday or weekday(x) == weekday(ds))][
                -window:
            ]
            if len(base) < need:
                out[(ds, m)] = "WARMUP"
                continue
            mean, sd = statistics.fmean(base), statistics.stdev(base)
            out[(ds, m)] = "PASS" if mean - 3 * sd <= by_day[ds] <= mean + 3 * sd else "FAIL"
        failed = any(out.get((ds, m)) == "FAIL" for m in values)
        if not failed or any(out.get((ds, m)) == "FAIL" and marks(m, ds) for m in values):
            good.append(ds)
    return out


def run_peer(name: str, metrics: dict[str, dict[str, dict[str, float]]], profiles: Iterable[Profile]) -> Verdicts:
    v = Verdicts(metric={m: m for m in ANOMALY_METRICS})
    for p in profiles:
        series = {m: sorted(metrics[p.table][m].items()) for m in ANOMALY_METRICS}
        if name.startswith("mean"):
            owner = Owner(p)
            judged = old_rule(series, owner.marks, same_weekday="weekday" in name)
            v.status.update({(p.table, ds, m): s for (ds, m), s in judged.items()})
            v.marks.update({p.table: owner.marked} if owner.marked else {})
            continue
        judge = elementary_zscore if name.startswith("elementary") else deequ
        for m, s in series.items():
            v.status.update({(p.table, ds, m): st for (ds, _), st in zip(s, judge(s), strict=True)})
        first = first_shift_fail(v, p)
        v.marks.update({p.table: first} if first else {})
    return v


@dataclass
class Owner:
    """Marks the planned shift good the first time it FAILs on the row count."""

    p: Profile
    marked: str | None = None

    def marks(self, metric: str, ds: str) -> bool:
        if self.p.shift and not self.marked and metric == "row_count" and ds >= day_of(self.p.shift[0]).isoformat():
            self.marked = ds
        return self.marked == ds


def first_shift_fail(v: Verdicts, p: Profile) -> str | None:
    """Without marks (Elementary, Deequ): the owner's acceptance dates from the first FAIL after the shift."""
    if not p.shift:
        return None
    shifted = day_of(p.shift[0]).isoformat()
    fails = sorted(
        ds for (t, ds, c), s in v.status.items() if t == p.table and c == "row_count" and s == "FAIL" and ds >= shifted
    )
    return fails[0] if fails else None


PEERS = ("elementary z-score", "deequ OnlineNormal", "mean ± 3σ, 28 (old default)", "mean ± 3σ, same weekday (old)")

# ---------------------------------------------------------------------------------------------- scoring

PATTERN_ORDER = (
    "holiday",
    "payday",
    "shift",
    "after defect",
    "after missing day",
    "seasonal",
    "cascade",
    "growth",
    "noise",
)


def pattern_of(p: Profile, ds: str, previous_failed: bool) -> str:
    """The pattern that explains a false FAIL on day ds of p's table, most specific first; "cascade" when
    nothing but the FAIL of the check's previous partition does."""
    i = (dt.date.fromisoformat(ds) - START).days
    date = day_of(i)
    tests = {
        "holiday": p.holidays and date in HOLIDAYS,
        "payday": p.payday != 1 and date.day in (1, 2),
        "shift": p.shift is not None and i >= p.shift[0],
        "after defect": any(x.day in (i - 1, i - 2) for x in p.defects),
        "after missing day": any(m in (i - 1, i - 2) for m in p.missing),
        "seasonal": p.weekend != 1 and date.weekday() in (5, 6, 0),
        "cascade": previous_failed,
        "growth": p.growth != 0,
    }
    return next((name for name, hit in tests.items() if hit), "noise")


@dataclass
class Score:
    method: str
    defects: int = 0
    found: int = 0
    judged: int = 0
    false_fails: int = 0
    warmup: int = 0  # the longest warm-up of a (table, check) series that was judged, in partitions
    never: int = 0  # (table, check) series never judged
    after_shift: int = 0
    missed: list[str] = field(default_factory=list)
    by_pattern: Counter[str] = field(default_factory=Counter)
    by_check: Counter[str] = field(default_factory=Counter)
    marks: dict[str, str] = field(default_factory=dict)  # table -> the partition the owner marked good

    @property
    def recall(self) -> float:
        return self.found / self.defects if self.defects else 0.0

    @property
    def per_1000(self) -> float:
        return 1000 * self.false_fails / self.judged if self.judged else 0.0


Points = list[tuple[str, str]]  # (ds, status) of one check, oldest first


def score(method: str, v: Verdicts, profiles: Iterable[Profile], checks: set[str] | None = None) -> Score:
    s = Score(method, marks=dict(v.marks))
    for p in profiles:
        series: dict[str, Points] = {}
        for (t, ds, c), st in sorted(v.status.items()):
            if t == p.table and (checks is None or c in checks):
                series.setdefault(c, []).append((ds, st))
        score_defects(s, p, series, v.metric)
        for c, points in series.items():
            accepted = v.marks.get(p.table) or (day_of(p.shift[0]).isoformat() if p.shift else None)
            score_false(s, p, c, points, accepted if v.metric[c] == "row_count" else None)
            score_warmup(s, points)
    return s


def score_defects(s: Score, p: Profile, series: dict[str, Points], metric: dict[str, str]) -> None:
    """A defect is found when a check on one of the metrics it affects FAILs on its partition."""
    for x in p.defects:
        ds = day_of(x.day).isoformat()
        s.defects += 1
        caught = any((ds, "FAIL") in points and metric[c] in DEFECTS[x.kind][0] for c, points in series.items())
        s.found += caught
        if not caught:
            s.missed.append(f"{p.table} {ds} {x.kind}")


def score_false(s: Score, p: Profile, check: str, points: Points, accepted: str | None) -> None:
    """Judged pairs and false FAILs on partitions without a defect (nor the planned shift's own day).
    `accepted`: for a check of the shifted metric, the partition the owner marked good (or, never
    marked, the shift's first day); its FAILs after it are counted apart too."""
    labelled = {day_of(x.day).isoformat() for x in p.defects} | ({day_of(p.shift[0]).isoformat()} if p.shift else set())
    previous = "PASS"
    for ds, st in points:
        if st in ("PASS", "FAIL") and ds not in labelled:
            s.judged += 1
            if st == "FAIL":
                s.false_fails += 1
                s.by_pattern[pattern_of(p, ds, previous == "FAIL")] += 1
                s.by_check[check] += 1
                s.after_shift += bool(accepted and ds > accepted)
        previous = st


def score_warmup(s: Score, points: Points) -> None:
    """Partitions before the check's first judged verdict (PASS or FAIL)."""
    first = next((i for i, (_, st) in enumerate(points) if st in ("PASS", "FAIL")), None)
    if first is None:
        s.never += 1
    else:
        s.warmup = max(s.warmup, first)


# ---------------------------------------------------------------------------------------------- report

GOALS = "goals: recall 100 %, false FAILs ≤ 10 per 1,000 (1 %), warm-up ≤ 14, ≤ 3 FAILs after an accepted shift"


def markdown(scores: list[Score]) -> str:
    head = (
        "| method | defects found | recall | judged | false FAILs | per 1,000 | warm-up | FAILs after shift | "
        + " | ".join(PATTERN_ORDER)
        + " |"
    )
    lines = [head, "|" + " --- |" + " ---: |" * (7 + len(PATTERN_ORDER))]
    for s in scores:
        cells = [
            s.method,
            f"{s.found}/{s.defects}",
            f"{s.recall:.0%}",
            s.judged,
            s.false_fails,
            f"{s.per_1000:.1f}",
            f"{s.warmup}" + (f" ({s.never} never)" if s.never else ""),
            s.after_shift,
        ]
        cells += [s.by_pattern.get(k, 0) for k in PATTERN_ORDER]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines.append("| goal |  | 100 % |  |  | ≤ 10 | ≤ 14 | ≤ 3 |" + " |" * len(PATTERN_ORDER))
    return "\n".join(lines)


def as_json(scores: list[Score], meta: dict[str, object]) -> dict[str, object]:
    rows = [
        {
            "method": s.method,
            "defects": s.defects,
            "found": s.found,
            "recall": round(s.recall, 4),
            "judged": s.judged,
            "false_fails": s.false_fails,
            "false_fails_per_1000": round(s.per_1000, 2),
            "warmup_partitions": s.warmup,
            "never_judged": s.never,
            "fails_after_shift": s.after_shift,
            "false_fails_by_pattern": dict(s.by_pattern),
            "false_fails_by_check": dict(s.by_check),
            "marked_good": s.marks,
            "missed": s.missed,
        }
        for s in scores
    ]
    return {**meta, "goals": GOALS, "methods": rows}


# ---------------------------------------------------------------------------------------------- main

CPU_OF = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=120, help="daily partitions per table")
    ap.add_argument("--backfill-days", type=int, default=42, help="days backfilled before the daily audits start")
    ap.add_argument("--tables", type=int, default=len(PROFILES), help="how many of the tables to use")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--checks", choices=("auto", *VARIANTS), default="auto", help="auto: 'new' if today's parser accepts it"
    )
    ap.add_argument("--jobs", type=int, default=2, help="tables audited at once")
    ap.add_argument("--json", dest="json_path", help="write the results as JSON to this path")
    ap.add_argument("--quick", action="store_true", help="tiny sizes for the smoke test")
    args = ap.parse_args(argv)
    if args.quick:
        args.days, args.backfill_days = 50, 46
    scores, meta = measure(args)
    report(scores, meta, args.json_path)
    return 0


def measure(args: argparse.Namespace) -> tuple[list[Score], dict[str, object]]:
    """Build the warehouse, run Quinto and the peers on it, score them all."""
    profiles = [p.within(args.days) for p in PROFILES[: args.tables]]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="quinto-verdicts-") as tmp:
        work = Path(tmp)
        warehouse = work / "warehouse.duckdb"
        build_warehouse(warehouse, profiles, args.days, args.seed)
        metrics = {p.table: read_metrics(warehouse, p.table) for p in profiles}
        partitions = {p.table: sorted(metrics[p.table]["row_count"]) for p in profiles}
        variant, config = choose_checks(work, warehouse, profiles, args.checks)
        quinto = run_quinto(config, partitions, profiles, args.backfill_days, args.jobs)
    anomaly_checks = {c for c in quinto.metric if c.endswith(" anomaly")}
    scores = [
        score("quinto (CLI), anomaly checks", quinto, profiles, anomaly_checks),
        score("quinto (CLI), all checks", quinto, profiles),
    ]
    scores += [score(name, run_peer(name, metrics, profiles), profiles) for name in PEERS]
    cpu = sum(getattr(resource.getrusage(who), f) for who in CPU_OF for f in ("ru_utime", "ru_stime"))
    meta = {
        "days": args.days,
        "backfill_days": args.backfill_days,
        "tables": {p.table: p.patterns for p in profiles},
        "seed": args.seed,
        "checks": variant,
        "seconds": round(time.monotonic() - started, 1),
        "cpu_seconds": round(cpu, 1),
    }
    return scores, meta


def report(scores: list[Score], meta: dict[str, object], json_path: str | None) -> None:
    print(
        f"{len(meta['tables'])} tables × {meta['days']} days (backfill {meta['backfill_days']}), seed {meta['seed']},"
        f" check files: {meta['checks']}; {meta['seconds']:.0f} s wall, {meta['cpu_seconds']:.0f} s CPU"
        " (this process and the quinto processes)"
    )
    print(markdown(scores))
    print(GOALS)
    for s in scores:
        if s.missed:
            print(f"{s.method} missed: {'; '.join(s.missed)}")
    if json_path:
        Path(json_path).write_text(json.dumps(as_json(scores, meta), indent=2))


def choose_checks(work: Path, warehouse: Path, profiles: list[Profile], wanted: str) -> tuple[str, Path]:
    """Write the check files; with `auto`, the new anomaly options unless today's parser refuses them."""
    variant = "new" if wanted == "auto" else wanted
    config = write_project(work, warehouse, profiles, variant)
    problem = validate(config)
    if problem and wanted == "auto":
        print(f"the new anomaly options are refused, using today's: {problem.splitlines()[0]}", file=sys.stderr)
        variant = "today"
        config = write_project(work, warehouse, profiles, variant)
        problem = validate(config)
    if problem:
        raise SystemExit(f"quinto validate refused the check files:\n{problem}")
    return variant, config


if __name__ == "__main__":
    sys.exit(main())
