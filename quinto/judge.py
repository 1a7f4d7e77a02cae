"""Judging an audit's values: each check's value for a partition, against its thresholds, its change
vs earlier partitions or its anomaly band, with the stored history those need (a part of
`quinto.audit.Auditor`; the arithmetic is `quinto.evaluate`'s)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from quinto.baseline import Point, parse_day
from quinto.checks import CHECK_TYPES, display_unit
from quinto.evaluate import Status, Verdict, judge_anomaly, judge_change, judge_levels
from quinto.plan import history_depth
from quinto.results import Run
from quinto.spec import Check, TableSpec

if TYPE_CHECKING:
    from quinto.store import Store


class Judge:
    """Values and verdicts of one table's audit (a part of `quinto.audit.Auditor`)."""

    spec: TableSpec
    store: Store | None
    now: dt.datetime
    fps: dict[str, str]
    order: Callable[[str], Any]
    change_checks: frozenset[str]
    holidays: frozenset[str]

    def value_of(
        self, check: Check, partition: str, aggs: Mapping[str, Any], query_values: Mapping[tuple[str, str], Any]
    ) -> Any:
        ctype = CHECK_TYPES[check.type]
        if ctype.kind != "scan":
            return query_values.get((check.key, partition))
        return ctype.judged_value(check, aggs, partition, self.now)

    def holiday(self, partition: str) -> bool:
        """The partition's day is one of the check file's `holidays:`."""
        if not self.holidays:
            return False
        day = parse_day(partition)
        return day is not None and day.isoformat() in self.holidays

    def judge(self, check: Check, partition: str, value: Any, history: Mapping[str, list[Point]]) -> Verdict:
        if value is None:
            return Verdict(Status.FAIL, "no value: the metric is NULL (no non-NULL rows in the partition)")
        if not isinstance(value, (int, float)):
            return Verdict(Status.ERROR, f"the metric is not a number: {str(value)[:80]!r}")
        if not math.isfinite(value):
            return Verdict(Status.FAIL, f"no finite value: the metric is {value} (NaN or infinite values in the data)")
        # declared holidays are expected to be unusual: never judged against history, never learnt from
        hist = [p for p in history.get(self.fps[check.key], []) if not self.holiday(p.partition)]
        holiday = self.holiday(partition)
        note = Verdict(Status.PASS, f"{partition} is a declared holiday: not judged against history", value)
        if check.change:
            if holiday:
                return note
            return judge_change(check, float(value), hist, partition, self.order, self.change_checks)
        verdicts = []
        if check.anomaly is not None:
            unit = CHECK_TYPES[check.type].unit
            verdicts.append(note if holiday else judge_anomaly(check, float(value), hist, partition, self.order, unit))
        if check.condition is not None or check.warn is not None or check.fail is not None:
            verdicts.append(judge_levels(check, float(value), display_unit(check.type)))
        worst = max(verdicts, key=lambda v: v.status.rank)
        if len(verdicts) > 1:
            return Verdict(
                worst.status, "; ".join(v.message for v in verdicts), float(value), verdicts[0].low, verdicts[0].high
            )
        return worst

    def history_depth(self) -> int:
        return history_depth(self.spec)

    def load_history(self, parts: Sequence[str], run: Run) -> tuple[dict[str, list[Point]], dict[str, str]]:
        """Stored values of the partitions before the newest one audited, as the baseline model
        reads them (those audited now are judged in order and learn from each other), and the
        marks of the partitions audited."""
        needs = {self.fps[c.key] for c in self.spec.checks if c.change or c.anomaly is not None}
        if not needs or self.store is None or self.spec.partition is None:
            return {}, {}
        try:
            # text order is partition order except for integers, which are filtered here instead
            text_order = self.spec.partition_type != "integer"
            history = self.store.results.history(
                self.spec.table,
                needs,
                before=max(parts) if text_order else None,
                exclude=parts,
                integer=not text_order,
                limit=self.history_depth() + len(parts),
            )
            if not text_order:
                newest = self.order(max(parts, key=self.order))
                history = {fp: [pt for pt in vals if self.order(pt.partition) < newest] for fp, vals in history.items()}
            return history, self.store.marks.of(self.spec.table, parts)
        except Exception as exc:  # noqa: BLE001 - a store outage must not stop the audit; say so
            note = f"history unavailable: {str(exc).splitlines()[0]}"
            run.error = f"{run.error}; {note}" if run.error else note
            return {}, {}
