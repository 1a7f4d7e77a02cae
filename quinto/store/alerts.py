"""The store's alert tables: state per (table, partition, check), the outbox and snoozes.

Alert rows are decided by `quinto.alerts.record` (the policy) and written by `Store.save_run` in
the transaction that writes the outcomes (so an outcome is never stored without its alert, nor an
alert without its outcome): the store hands the decision an `AlertRows` over that transaction and
writes the rows it is handed. They are delivered later by `quinto.alerts.send_pending`, which claims
a row, sends it, then marks it sent.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from quinto.store.common import chunks, utc, utcnow
from quinto.store.db import Database
from quinto.store.records import OutboxRecord, OutboxStatus, SnoozeRecord, record
from quinto.store.schema import alert_outbox, alert_snoozes, alert_states, incident_partitions, incidents, outcomes

PENDING, SENDING, SENT, HELD, DIGESTED, CANCELLED = tuple(OutboxStatus)
OUTBOX_STATUSES = tuple(s.value for s in OutboxStatus)


@dataclass(frozen=True)
class AlertState:
    """A row of `alert_states`: where a (table, partition, check) stands for alerting."""

    partition_value: str
    check_key: str
    state: str
    since: dt.datetime
    announced: str
    announced_at: dt.datetime | None


@dataclass(frozen=True)
class IncidentFacts:
    """What an alert says of its incident."""

    first_partition: str  # its earliest failing partition
    handled: bool  # someone acknowledged or resolved it


class AlertRows:
    """The alert tables as seen from inside the transaction that saves a run: what the alert
    policy reads to decide, and the rows it decides on, written as handed."""

    def __init__(
        self,
        conn: sa.Connection,
        table: str,
        current: Mapping[tuple[str, str], tuple[str, dt.datetime]] | None = None,
    ) -> None:
        self.conn = conn
        self.table = table
        self.current = current  # the current outcomes of the run's partitions, when the store read them already
        self.read: set[str] = set()  # partitions whose states `states` read (and locked)
        self.found: set[tuple[str, str]] = set()  # (partition, check) of the states found there

    def states(self, partitions: Sequence[str]) -> dict[tuple[str, str], AlertState]:
        """The alert states of the table's partitions, (partition, check) → state, locked for update."""
        st = alert_states.c
        found = {}
        for chunk in chunks(sorted(partitions)):
            q = sa.select(alert_states).where(st.table_name == self.table, st.partition_value.in_(chunk))
            for r in self.conn.execute(q.with_for_update()):
                found[(r.partition_value, r.check_key)] = _state(r)
        self.read.update(partitions)
        self.found.update(found)
        return found

    def previous(self, partitions: Sequence[str]) -> dict[tuple[str, str], tuple[str, dt.datetime]]:
        """The current outcomes the run is about to supersede: (partition, check) → (status, when)."""
        if self.current is not None:  # read by the save already, in this transaction
            wanted = set(partitions)
            return {key: value for key, value in self.current.items() if key[0] in wanted}
        oc = outcomes.c
        found = {}
        for chunk in chunks(sorted(partitions)):
            q = sa.select(oc.partition_value, oc.check_key, oc.status, oc.created_at).where(
                oc.table_name == self.table, oc.partition_value.in_(chunk), oc.current.is_(True)
            )
            for p, c, status, at in self.conn.execute(q):
                found[(p, c)] = (status, utc(at))
        return found

    def snoozed(self, now: dt.datetime) -> set[str | None]:
        """Checks of the table snoozed at `now`; None in the set: the whole table."""
        sn = alert_snoozes.c
        q = sa.select(sn.check_key).where(sn.table_name == self.table, sn.until > now, sn.ended_at.is_(None))
        return {r[0] for r in self.conn.execute(q)}

    def incident_facts(self, ids: Iterable[int]) -> dict[int, IncidentFacts]:
        """What an alert says of these incidents: where each started, whether someone handles it."""
        ic = incidents.c
        found: dict[int, IncidentFacts] = {}
        for chunk in chunks(sorted(ids)):
            q = sa.select(ic.id, ic.first_partition, ic.acked_at, ic.state).where(ic.id.in_(chunk))
            for r in self.conn.execute(q):
                found[r.id] = IncidentFacts(r.first_partition, r.acked_at is not None or r.state == "resolved")
        return found

    def resolved_incidents(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """(partition, check) → the resolved incident that partition failed in, for recoveries the
        incident tracking does not name (a resolved incident is final: a run no longer updates it)."""
        ic, ip = incidents.c, incident_partitions.c
        wanted = set(keys)
        found: dict[tuple[str, str], int] = {}
        for chunk in chunks(sorted({p for p, _ in wanted})):
            q = (
                sa.select(ip.partition_value, ip.check_key, ip.incident_id)
                .join_from(incident_partitions, incidents, ic.id == ip.incident_id)
                .where(ip.table_name == self.table, ip.partition_value.in_(chunk), ip.failing.is_(True))
                .where(ic.state == "resolved")
                .order_by(ip.incident_id)
            )
            for p, c, incident in self.conn.execute(q):
                if (p, c) in wanted:
                    found[(p, c)] = int(incident)  # the newest, when several
        return found

    def newest_elsewhere(self, partition: str, check: str) -> AlertState | None:
        """The check's newest alert state on another partition of the table."""
        st = alert_states.c
        q = (
            sa.select(alert_states)
            .where(st.table_name == self.table, st.check_key == check, st.partition_value != partition)
            .order_by(st.updated_at.desc(), st.id.desc())
            .limit(1)
        )
        r = self.conn.execute(q).first()
        return _state(r) if r is not None else None

    def write_states(self, states: Iterable[AlertState], now: dt.datetime) -> None:
        """Insert or update these alert states: when `states` read them first, one UPDATE of many
        rows and one INSERT of many, else one by one."""
        st = alert_states.c
        states = list(states)
        if states and all(s.partition_value in self.read for s in states):
            old = [s for s in states if (s.partition_value, s.check_key) in self.found]
            new = [s for s in states if (s.partition_value, s.check_key) not in self.found]
            if old:
                self.conn.execute(
                    alert_states.update()
                    .where(
                        st.table_name == self.table,
                        st.partition_value == sa.bindparam("p"),
                        st.check_key == sa.bindparam("c"),
                    )
                    .values(
                        state=sa.bindparam("s_state"),
                        since=sa.bindparam("s_since"),
                        announced=sa.bindparam("s_announced"),
                        announced_at=sa.bindparam("s_announced_at"),
                        updated_at=now,
                    ),
                    [
                        {
                            "p": s.partition_value,
                            "c": s.check_key,
                            "s_state": s.state,
                            "s_since": s.since,
                            "s_announced": s.announced,
                            "s_announced_at": s.announced_at,
                        }
                        for s in old
                    ],
                )
            if new:
                self.conn.execute(
                    alert_states.insert(),
                    [
                        {
                            "table_name": self.table,
                            "partition_value": s.partition_value,
                            "check_key": s.check_key,
                            "state": s.state,
                            "since": s.since,
                            "announced": s.announced,
                            "announced_at": s.announced_at,
                            "updated_at": now,
                        }
                        for s in new
                    ],
                )
                self.found.update((s.partition_value, s.check_key) for s in new)
            return
        for s in states:
            values = {"state": s.state, "since": s.since, "announced": s.announced, "announced_at": s.announced_at}
            updated = self.conn.execute(
                alert_states.update()
                .where(st.table_name == self.table, st.partition_value == s.partition_value)
                .where(st.check_key == s.check_key)
                .values(**values, updated_at=now)
            )
            if updated.rowcount == 0:
                key = {"table_name": self.table, "partition_value": s.partition_value, "check_key": s.check_key}
                self.conn.execute(alert_states.insert().values(**key, **values, updated_at=now))

    def queue(
        self,
        run_id: int,
        payload: str,
        targets: Sequence[Mapping[str, str]],
        digested: Sequence[Mapping[str, str]],
        now: dt.datetime,
    ) -> int:
        """One outbox row per target (pending) and one digest item per digested target (held for
        the day's digest), all with this payload; returns how many."""
        base = {"run_id": run_id, "table_name": self.table, "payload": payload, "attempts": 0, "created_at": now}
        day = now.date().isoformat()
        rows = [{**base, **t, "kind": "alert", "status": PENDING.value, "day": None} for t in targets]
        rows += [{**base, **t, "kind": "digest_item", "status": HELD.value, "day": day} for t in digested]
        if rows:
            self.conn.execute(alert_outbox.insert(), rows)
        return len(rows)


def _state(r: Any) -> AlertState:
    at = utc(r.announced_at) if r.announced_at else None
    return AlertState(r.partition_value, r.check_key, r.state, utc(r.since), r.announced, at)


class Snoozes:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
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
        now = utc(now or utcnow())
        with self.db.begin() as conn:
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

    def end(self, table: str, check: str | None = None, by: str | None = None, now: dt.datetime | None = None) -> int:
        """End the active snoozes of `table` (with `check`: only that check's); returns how many ended."""
        now = utc(now or utcnow())
        with self.db.begin() as conn:
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

    def active(self, table: str | None = None, now: dt.datetime | None = None) -> list[SnoozeRecord]:
        """Snoozes in force at `now` (default: now), soonest ending first."""
        now = utc(now or utcnow())
        sn = alert_snoozes.c
        q = sa.select(alert_snoozes).where(sn.until > now, sn.ended_at.is_(None)).order_by(sn.until, sn.id)
        if table is not None:
            q = q.where(sn.table_name == table)
        with self.db.connect() as conn:
            return [record(SnoozeRecord, r._mapping, table=r.table_name, check=r.check_key) for r in conn.execute(q)]


class Outbox:
    """The alerts to deliver: claimed, sent, deferred, released, cancelled; digests formed."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def rows(self, status: str | None = None, table: str | None = None, limit: int = 100) -> list[OutboxRecord]:
        """Outbox rows, newest first (all columns; `payload` is JSON text)."""
        ob = alert_outbox.c
        q = sa.select(alert_outbox).order_by(ob.id.desc()).limit(limit)
        if status is not None:
            q = q.where(ob.status == status)
        if table is not None:
            q = q.where(ob.table_name == table)
        with self.db.connect() as conn:
            return [record(OutboxRecord, r._mapping) for r in conn.execute(q)]

    def due(self, now: dt.datetime, limit: int = 500) -> list[OutboxRecord]:
        """Pending rows whose next attempt is due, oldest first."""
        ob = alert_outbox.c
        q = (
            sa.select(alert_outbox)
            .where(ob.status == PENDING, sa.or_(ob.next_attempt_at.is_(None), ob.next_attempt_at <= utc(now)))
            .order_by(ob.id)
            .limit(limit)
        )
        with self.db.connect() as conn:
            return [record(OutboxRecord, r._mapping) for r in conn.execute(q)]

    def next_due(self) -> dt.datetime | None:
        """When the earliest pending row is due (None: nothing pending)."""
        ob = alert_outbox.c
        with self.db.connect() as conn:
            at = conn.execute(sa.select(sa.func.min(ob.next_attempt_at)).where(ob.status == PENDING)).scalar()
        return utc(at) if at is not None else None

    def claim(self, alert_id: int, sender: str, now: dt.datetime) -> bool:
        """Take a pending row for `sender`; False when another sender took it first. One UPDATE whose
        WHERE re-checks the status: of two concurrent senders exactly one changes the row."""
        ob = alert_outbox.c
        with self.db.begin() as conn:
            result = conn.execute(
                alert_outbox.update()
                .where(ob.id == alert_id, ob.status == PENDING)
                .values(status=SENDING, claimed_by=sender, claimed_at=utc(now), attempts=ob.attempts + 1)
            )
        return result.rowcount == 1

    def mark_sent(self, alert_id: int, sender: str, now: dt.datetime, note: str | None = None) -> bool:
        """Record the delivery of a claimed row (with `note`: what went partly wrong, e.g. a refused
        recipient); False if the claim was lost meanwhile."""
        ob = alert_outbox.c
        with self.db.begin() as conn:
            result = conn.execute(
                alert_outbox.update()
                .where(ob.id == alert_id, ob.status == SENDING, ob.claimed_by == sender)
                .values(status=SENT, sent_at=utc(now), last_error=note)
            )
        return result.rowcount == 1

    def defer(self, alert_id: int, until: dt.datetime, why: str) -> None:
        """Put off a pending row whose endpoint just failed for another row: it is tried with the
        endpoint's next attempt, without counting as an attempt of its own."""
        ob = alert_outbox.c
        with self.db.begin() as conn:
            conn.execute(
                alert_outbox.update()
                .where(
                    ob.id == alert_id,
                    ob.status == PENDING,
                    sa.or_(ob.next_attempt_at.is_(None), ob.next_attempt_at < utc(until)),
                )
                .values(next_attempt_at=utc(until), last_error=why)
            )

    def release(self, alert_id: int, sender: str, error: str, retry_at: dt.datetime) -> None:
        """A claimed row could not be delivered: pending again, next tried at `retry_at`."""
        ob = alert_outbox.c
        with self.db.begin() as conn:
            conn.execute(
                alert_outbox.update()
                .where(ob.id == alert_id, ob.status == SENDING, ob.claimed_by == sender)
                .values(status=PENDING, claimed_by=None, claimed_at=None, last_error=error, next_attempt_at=retry_at)
            )

    def reclaim(self, now: dt.datetime, lease_s: float, dead: Callable[[str], bool]) -> int:
        """Rows left claimed by a sender that died (`dead(claimed_by)`) or whose claim is older than
        `lease_s` go back to pending. Whether such a row was delivered before its sender died is
        unknown, so it is sent again: the one duplicate Quinto allows."""
        ob = alert_outbox.c
        stale_before = utc(now) - dt.timedelta(seconds=lease_s)
        reclaimed = 0
        with self.db.begin() as conn:
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

    def cancel(self, ids: Sequence[int], by: str | None = None, now: dt.datetime | None = None) -> int:
        """Give up on undelivered rows (e.g. for a channel that no longer exists): they are kept,
        marked cancelled, and never sent. Rows being sent or already sent are left alone."""
        ob = alert_outbox.c
        when = utc(now or utcnow())
        with self.db.begin() as conn:
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
        ob = alert_outbox.c
        today = utc(now).date().isoformat()
        with self.db.connect() as conn:
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
                with self.db.begin() as conn:
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
