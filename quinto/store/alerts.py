"""The store's alert tables: state per (table, partition, check), the outbox and snoozes.

Alert rows are written by `Store.save_run` in the transaction that writes the outcomes (so an
outcome is never stored without its alert, nor an alert without its outcome) and delivered later by
`quinto.alerts.send_pending`, which claims a row, sends it, then marks it sent.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from quinto.alerts.state import State, initial, step
from quinto.results import Run, jsonable
from quinto.store.common import chunks, utc, utcnow
from quinto.store.schema import alert_outbox, alert_snoozes, alert_states, outcomes

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

PENDING, SENDING, SENT, HELD, DIGESTED, CANCELLED = "pending", "sending", "sent", "held", "digested", "cancelled"
OUTBOX_STATUSES = (PENDING, SENDING, SENT, HELD, DIGESTED, CANCELLED)


class AlertTables:
    """Mixed into `Store`: alert states, outbox and snoozes."""

    engine: Engine

    def migrate(self) -> None:  # provided by Store
        raise NotImplementedError

    # -- written with the outcomes ----------------------------------------------------------------
    def _record_alerts(
        self, conn: sa.Connection, run: Run, run_id: int, partitions: Sequence[str], now: dt.datetime
    ) -> int:
        """Advance the alert state of every (partition, check) the run judged in `partitions` (those no
        newer run has judged) and queue one outbox row per target for the changes. Called by
        save_run in its transaction, before the previous outcomes are superseded. Returns the number
        of outbox rows written."""
        policy = run.alert_policy
        if not policy or not run.outcomes or not partitions:
            return 0
        now = utc(now)
        levels: dict[str, str | None] = policy.get("levels") or {}
        fresh = set(partitions)
        judged = [o for o in run.outcomes if o.partition in fresh and levels.get(o.check, "fail")]
        if not judged:
            return 0
        st, oc = alert_states.c, outcomes.c
        parts = sorted({o.partition for o in judged})
        known: dict[tuple[str, str], tuple[int, State]] = {}
        previous: dict[tuple[str, str], tuple[str, dt.datetime]] = {}
        for chunk in chunks(parts):
            q = sa.select(alert_states).where(st.table_name == run.table, st.partition_value.in_(chunk))
            for r in conn.execute(q.with_for_update()):
                known[(r.partition_value, r.check_key)] = (
                    r.id,
                    State(r.state, utc(r.since), r.announced, utc(r.announced_at) if r.announced_at else None),
                )
            prev_q = sa.select(oc.partition_value, oc.check_key, oc.status, oc.created_at).where(
                oc.table_name == run.table, oc.partition_value.in_(chunk), oc.current.is_(True)
            )
            for p, c, status, at in conn.execute(prev_q):
                previous[(p, c)] = (status, utc(at))
        snoozed = self._snoozed_checks(conn, run.table, now)
        learnt = set(policy.get("bands") or [])  # a fixed threshold's band says nothing the threshold does not
        changes: list[dict[str, Any]] = []
        for o in judged:
            level = levels.get(o.check) or "fail"
            key = (o.partition, o.check)
            row_id, prior = known.get(key, (None, None))
            if prior is None and key in previous:
                prior = initial(previous[key][0], level, previous[key][1])
            silent = bool(policy.get("silent")) or None in snoozed or o.check in snoozed
            state, kind = step(
                prior,
                str(o.status),
                level,
                now,
                reminder_s=policy.get("reminder_s"),
                error_after_s=float(policy.get("error_after_s") or 0.0),
                silent=silent,
                error_since=self._erring_since(conn, run.table, o.partition, o.check)
                if str(o.status) == "ERROR" and (prior is None or prior.state != "error")
                else None,
            )
            values = {
                "state": state.state,
                "since": state.since,
                "announced": state.announced,
                "announced_at": state.announced_at,
                "updated_at": now,
            }
            if row_id is None:
                conn.execute(
                    alert_states.insert().values(
                        table_name=run.table, partition_value=o.partition, check_key=o.check, **values
                    )
                )
            else:
                conn.execute(alert_states.update().where(st.id == row_id).values(**values))
            if kind is not None:
                changes.append(
                    {
                        "partition": o.partition,
                        "check": o.check,
                        "check_type": o.check_type,
                        "kind": kind,
                        "status": str(o.status),
                        "previous": prior.state if prior else None,
                        "value": jsonable(o.value),
                        "threshold": o.threshold,
                        "band_low": o.band_low if o.check in learnt else None,
                        "band_high": o.band_high if o.check in learnt else None,
                        "message": o.message,
                        "source": o.source,
                    }
                )
        if not changes:
            return 0
        payload = {
            "table": run.table,
            "run_id": run_id,
            "partition_column": run.partition_column,
            "owners": policy.get("owners") or [],
            "base_url": policy.get("base_url") or "",
            "at": now.isoformat(),
            "changes": changes,
        }
        text = json.dumps(payload, default=jsonable)
        targets = list(policy.get("targets") or [])
        digested = policy.get("digest_targets")
        if digested is None and policy.get("digest"):  # a run spooled before policies split digests
            targets, digested = [], [{**t, "target": a} for t in targets for a in t["target"].split(", ")]
        base = {"run_id": run_id, "table_name": run.table, "payload": text, "attempts": 0, "created_at": now}
        day = now.date().isoformat()
        rows = [{**base, **t, "kind": "alert", "status": PENDING, "day": None} for t in targets]  # same keys
        rows += [{**base, **t, "kind": "digest_item", "status": HELD, "day": day} for t in digested or []]
        if rows:
            conn.execute(alert_outbox.insert(), rows)
        return len(rows)

    def _erring_since(self, conn: sa.Connection, table: str, partition: str, check: str) -> dt.datetime | None:
        """When the check started erring, if its newest state on another partition is ERROR: a check
        that errs on each day's new partition has been erring since the first of those days."""
        st = alert_states.c
        q = (
            sa.select(st.state, st.since)
            .where(st.table_name == table, st.check_key == check, st.partition_value != partition)
            .order_by(st.updated_at.desc(), st.id.desc())
            .limit(1)
        )
        row = conn.execute(q).first()
        return utc(row.since) if row is not None and row.state == "error" else None

    def _snoozed_checks(self, conn: sa.Connection, table: str, now: dt.datetime) -> set[str | None]:
        """Checks of `table` snoozed at `now`; None in the set: the whole table."""
        sn = alert_snoozes.c
        q = sa.select(sn.check_key).where(sn.table_name == table, sn.until > now, sn.ended_at.is_(None))
        return {r[0] for r in conn.execute(q)}

    # -- snoozes ------------------------------------------------------------------------------------
    def snooze(
        self,
        table: str,
        until: dt.datetime,
        check: str | None = None,
        reason: str | None = None,
        by: str | None = None,
        now: dt.datetime | None = None,
    ) -> int:
        """No alerts for `table` (or only its check `check`) until `until`; returns the snooze's id.
        A later snooze of the same table and check replaces an active one."""
        if until.tzinfo is None:
            raise ValueError("a snooze ends at an aware time (with a time zone)")
        self.migrate()
        now = utc(now or utcnow())
        with self.engine.begin() as conn:
            self._end_snoozes(conn, table, check, by, now)
            new_id = conn.execute(
                alert_snoozes.insert().values(
                    table_name=table,
                    check_key=check,
                    until=utc(until),
                    reason=reason,
                    created_by=by,
                    created_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        return int(new_id)

    def unsnooze(
        self, table: str, check: str | None = None, by: str | None = None, now: dt.datetime | None = None
    ) -> int:
        """End the active snoozes of `table` (with `check`: only that check's); returns how many ended."""
        self.migrate()
        now = utc(now or utcnow())
        with self.engine.begin() as conn:
            return self._end_snoozes(conn, table, check, by, now)

    @staticmethod
    def _end_snoozes(conn: sa.Connection, table: str, check: str | None, by: str | None, now: dt.datetime) -> int:
        sn = alert_snoozes.c
        result = conn.execute(
            alert_snoozes.update()
            .where(
                sn.table_name == table,
                sn.check_key.is_(None) if check is None else sn.check_key == check,
                sn.ended_at.is_(None),
                sn.until > now,
            )
            .values(ended_at=now, ended_by=by)
        )
        return int(result.rowcount)

    def active_snoozes(self, table: str | None = None, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Snoozes in force at `now` (default: now), soonest ending first: dicts with id, table,
        check (None: the whole table), until, reason, created_by, created_at (aware UTC times)."""
        self.migrate()
        now = utc(now or utcnow())
        sn = alert_snoozes.c
        q = sa.select(alert_snoozes).where(sn.until > now, sn.ended_at.is_(None)).order_by(sn.until, sn.id)
        if table is not None:
            q = q.where(sn.table_name == table)
        with self.engine.connect() as conn:
            return [
                {
                    "id": r.id,
                    "table": r.table_name,
                    "check": r.check_key,
                    "until": utc(r.until),
                    "reason": r.reason,
                    "created_by": r.created_by,
                    "created_at": utc(r.created_at),
                }
                for r in conn.execute(q)
            ]

    # -- the outbox ---------------------------------------------------------------------------------
    def outbox(self, status: str | None = None, table: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Outbox rows, newest first (all columns; `payload` is JSON text)."""
        self.migrate()
        ob = alert_outbox.c
        q = sa.select(alert_outbox).order_by(ob.id.desc()).limit(limit)
        if status is not None:
            q = q.where(ob.status == status)
        if table is not None:
            q = q.where(ob.table_name == table)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def due_alerts(self, now: dt.datetime, limit: int = 500) -> list[dict[str, Any]]:
        """Pending rows whose next attempt is due, oldest first."""
        self.migrate()
        ob = alert_outbox.c
        q = (
            sa.select(alert_outbox)
            .where(ob.status == PENDING, sa.or_(ob.next_attempt_at.is_(None), ob.next_attempt_at <= utc(now)))
            .order_by(ob.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def next_alert_due(self) -> dt.datetime | None:
        """When the earliest pending row is due (None: nothing pending)."""
        ob = alert_outbox.c
        with self.engine.connect() as conn:
            at = conn.execute(sa.select(sa.func.min(ob.next_attempt_at)).where(ob.status == PENDING)).scalar()
        return utc(at) if at is not None else None

    def claim_alert(self, alert_id: int, sender: str, now: dt.datetime) -> bool:
        """Take a pending row for `sender`; False when another sender took it first. One UPDATE whose
        WHERE re-checks the status: of two concurrent senders exactly one changes the row."""
        ob = alert_outbox.c
        with self.engine.begin() as conn:
            result = conn.execute(
                alert_outbox.update()
                .where(ob.id == alert_id, ob.status == PENDING)
                .values(status=SENDING, claimed_by=sender, claimed_at=utc(now), attempts=ob.attempts + 1)
            )
        return result.rowcount == 1

    def mark_alert_sent(self, alert_id: int, sender: str, now: dt.datetime, note: str | None = None) -> bool:
        """Record the delivery of a claimed row (with `note`: what went partly wrong, e.g. a refused
        recipient); False if the claim was lost meanwhile."""
        ob = alert_outbox.c
        with self.engine.begin() as conn:
            result = conn.execute(
                alert_outbox.update()
                .where(ob.id == alert_id, ob.status == SENDING, ob.claimed_by == sender)
                .values(status=SENT, sent_at=utc(now), last_error=note)
            )
        return result.rowcount == 1

    def defer_alert(self, alert_id: int, until: dt.datetime, why: str) -> None:
        """Put off a pending row whose endpoint just failed for another row: it is tried with the
        endpoint's next attempt, without counting as an attempt of its own."""
        ob = alert_outbox.c
        with self.engine.begin() as conn:
            conn.execute(
                alert_outbox.update()
                .where(
                    ob.id == alert_id,
                    ob.status == PENDING,
                    sa.or_(ob.next_attempt_at.is_(None), ob.next_attempt_at < utc(until)),
                )
                .values(next_attempt_at=utc(until), last_error=why)
            )

    def release_alert(self, alert_id: int, sender: str, error: str, retry_at: dt.datetime) -> None:
        """A claimed row could not be delivered: pending again, next tried at `retry_at`."""
        ob = alert_outbox.c
        with self.engine.begin() as conn:
            conn.execute(
                alert_outbox.update()
                .where(ob.id == alert_id, ob.status == SENDING, ob.claimed_by == sender)
                .values(status=PENDING, claimed_by=None, claimed_at=None, last_error=error, next_attempt_at=retry_at)
            )

    def reclaim_alerts(self, now: dt.datetime, lease_s: float, dead: Callable[[str], bool]) -> int:
        """Rows left claimed by a sender that died (`dead(claimed_by)`) or whose claim is older than
        `lease_s` go back to pending. Whether such a row was delivered before its sender died is
        unknown, so it is sent again: the one duplicate Quinto allows."""
        self.migrate()
        ob = alert_outbox.c
        stale_before = utc(now) - dt.timedelta(seconds=lease_s)
        reclaimed = 0
        with self.engine.begin() as conn:
            rows = conn.execute(sa.select(ob.id, ob.claimed_by, ob.claimed_at).where(ob.status == SENDING)).all()
            for alert_id, by, at in rows:
                if (at is not None and utc(at) < stale_before) or dead(str(by or "")):
                    result = conn.execute(
                        alert_outbox.update()
                        .where(ob.id == alert_id, ob.status == SENDING, ob.claimed_by == by)
                        .values(
                            status=PENDING,
                            claimed_by=None,
                            claimed_at=None,
                            next_attempt_at=None,
                            last_error=f"sender {by} stopped while sending; sent again",
                        )
                    )
                    reclaimed += result.rowcount
        return reclaimed

    def cancel_alerts(self, ids: Sequence[int], by: str | None = None, now: dt.datetime | None = None) -> int:
        """Give up on undelivered rows (e.g. for a channel that no longer exists): they are kept,
        marked cancelled, and never sent. Rows being sent or already sent are left alone."""
        self.migrate()
        ob = alert_outbox.c
        when = utc(now or utcnow())
        with self.engine.begin() as conn:
            result = conn.execute(
                alert_outbox.update()
                .where(ob.id.in_(list(ids)), ob.status.in_([PENDING, HELD]))
                .values(status=CANCELLED, last_error=f"cancelled by {by or 'someone'} at {when:%Y-%m-%d %H:%M} UTC")
            )
        return int(result.rowcount)

    def form_digests(self, now: dt.datetime) -> int:
        """Turn the held digest items of days before `now`'s UTC day into one pending digest per
        (channel, target, day). Each digest is formed in one transaction that moves its items from
        held to digested, so concurrent senders cannot form the same digest twice."""
        self.migrate()
        ob = alert_outbox.c
        today = utc(now).date().isoformat()
        with self.engine.connect() as conn:
            items = conn.execute(
                sa.select(ob.id, ob.channel, ob.target, ob.day, ob.payload)
                .where(ob.status == HELD, ob.day < today)
                .order_by(ob.id)
            ).all()
        groups: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
        for item_id, channel, target, day, payload in items:
            groups.setdefault((channel, target, day), []).append((item_id, payload))
        formed = 0
        for (channel, target, day), members in sorted(groups.items()):
            ids = [i for i, _ in members]
            payload = json.dumps({"day": day, "items": [json.loads(p) for _, p in members]})
            try:
                with self.engine.begin() as conn:
                    formed += self._form_digest(conn, channel, target, day, ids, payload, now)
            except _Raced:
                continue  # another sender formed it meanwhile; this transaction was rolled back
        return formed

    def _form_digest(
        self, conn: sa.Connection, channel: str, target: str, day: str, ids: list[int], payload: str, now: dt.datetime
    ) -> int:
        ob = alert_outbox.c
        digest_id = conn.execute(
            alert_outbox.insert().values(
                channel=channel,
                target=target,
                kind="digest",
                status=PENDING,
                payload=payload,
                day=day,
                attempts=0,
                created_at=utc(now),
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        moved = 0
        for chunk in chunks(ids):
            moved += conn.execute(
                alert_outbox.update()
                .where(ob.id.in_(chunk), ob.status == HELD)
                .values(status=DIGESTED, digest_id=digest_id)
            ).rowcount
        if moved != len(ids):
            raise _Raced
        return 1


class _Raced(Exception):
    """Another sender changed the rows first; the transaction is rolled back."""
