"""What schedulers share besides the queue: sensor turns (when each table was last listed,
`sensor_state`, so every scheduler lists the least recently listed first), the rate limit all
schedulers share (a token bucket per connection, `sensor_budget`), scheduler state (the last cron
firing of each table) and the check files' problems the UI shows. Mixed into `Store`."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from quinto.store.common import aware, chunks, utcnow
from quinto.store.records import SchedulerProblem, record
from quinto.store.schema import metadata, scheduler_problems, scheduler_state

#: each sensor table's turn: listed least recently first, by whichever scheduler claims the turn
sensor_state = sa.Table(
    "sensor_state",
    metadata,
    sa.Column("table_name", sa.String(512), primary_key=True),
    sa.Column("connection", sa.String(256), nullable=False),
    sa.Column("listed_at", sa.DateTime(timezone=True)),  # the last listing claimed; none: never listed
    sa.Column("listings", sa.Integer, nullable=False),
    sa.Column("listed_by", sa.String(256)),
    sa.Index("ix_sensor_state_connection", "connection", "listed_at"),
)

#: a token bucket per connection: `sensor_rate_limit` listing statements a minute, shared by all schedulers
sensor_budget = sa.Table(
    "sensor_budget",
    metadata,
    sa.Column("connection", sa.String(256), primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("limited_since", sa.DateTime(timezone=True)),  # the rate limit holds tables back since then
)



@dataclass
class SensorTurn:
    """What `claim_sensor_turns` handed one scheduler: the tables to list now (least recently
    listed first), how many due tables the rate limit holds back, when to ask again, and whether
    this call started or ended a rate-limited episode."""

    tables: list[str] = field(default_factory=list)
    waiting: int = 0
    next_at: dt.datetime | None = None
    episode: str | None = None  # "started", "ended" or None
    since: dt.datetime | None = None  # start of the episode that ended


class SensorMixin:
    """Sensor turns, the shared rate limit, scheduler state and problems; mixed into `Store`."""

    engine: sa.Engine

    def migrate(self) -> None:  # pragma: no cover - provided by Store
        raise NotImplementedError

    def _lock(self, conn: sa.Connection, *parts: str) -> None:  # pragma: no cover - provided by QueueMixin
        raise NotImplementedError

    def _begin(self) -> Any:  # pragma: no cover - provided by QueueMixin
        raise NotImplementedError

    # -- sensor turns ------------------------------------------------------------------------------
    def claim_sensor_turns(
        self,
        worker: str,
        connection: str,
        tables: Iterable[str],
        interval: dt.timedelta,
        per_minute: int,
        batch: int = 1,
        now: dt.datetime | None = None,
    ) -> SensorTurn:
        """Take the turns of `tables` (on `connection`) that are due, i.e. not listed within
        `interval` by any scheduler, least recently listed first, as many as the connection's
        shared token bucket allows: `per_minute` listing statements a minute (bursts of at most
        five seconds' worth), each listing up to `batch` tables. One transaction under a lock per
        connection, so schedulers sharing the store split the turns and the budget between them."""
        self.migrate()
        now = now or utcnow()
        wanted = set(tables)
        ss, b = sensor_state.c, sensor_budget.c
        turn = SensorTurn()
        with self._begin() as conn:
            self._lock(conn, "sensor", connection)
            known = {
                row.table_name: aware(row.listed_at)
                for row in conn.execute(sa.select(ss.table_name, ss.listed_at).where(ss.connection == connection))
            }
            new = sorted(wanted - set(known))
            for chunk in chunks(new, 500):
                conn.execute(sa.delete(sensor_state).where(ss.table_name.in_(chunk)))  # moved from another connection
                conn.execute(
                    sensor_state.insert(), [{"table_name": t, "connection": connection, "listings": 0} for t in chunk]
                )
            known.update({t: None for t in new})
            # a claimer whose clock was read before another's claim (it waited for the lock) must
            # not record its turns as older than that one's: least recently listed would mean less
            latest = max((at for at in known.values() if at is not None), default=None)
            if latest is not None and latest > now:
                now = latest
            mine = {t: at for t, at in known.items() if t in wanted}
            due = sorted((t for t, at in mine.items() if at is None or now - at >= interval), key=_least_recent(mine))
            budget = conn.execute(sa.select(b.tokens, b.at, b.limited_since).where(b.connection == connection)).first()
            capacity = max(1.0, per_minute / 12)  # bursts of at most five seconds' worth
            tokens = capacity
            limited_since = None
            if budget is not None:
                elapsed = max(0.0, (now - (aware(budget.at) or now)).total_seconds())
                tokens = min(capacity, float(budget.tokens) + elapsed * per_minute / 60.0)
                limited_since = aware(budget.limited_since)
            take = min(len(due), int(tokens + 1e-9) * max(1, batch))
            turn.tables = due[:take]
            tokens -= math.ceil(take / max(1, batch))
            turn.waiting = len(due) - take
            for chunk in chunks(turn.tables, 500):
                conn.execute(
                    sensor_state.update()
                    .where(ss.table_name.in_(chunk))
                    .values(listed_at=now, listings=ss.listings + 1, listed_by=worker)
                )
            if turn.waiting and limited_since is None:
                turn.episode, limited_since = "started", now
            elif not turn.waiting and limited_since is not None:
                turn.episode, turn.since, limited_since = "ended", limited_since, None
            values = {"tokens": tokens, "at": now, "limited_since": limited_since}
            if budget is None:
                conn.execute(sensor_budget.insert().values(connection=connection, **values))
            else:
                conn.execute(sensor_budget.update().where(b.connection == connection).values(**values))
        if turn.waiting:  # the next token
            turn.next_at = now + dt.timedelta(seconds=max(0.0, 1.0 - tokens % 1.0) * 60.0 / per_minute)
        else:
            later = [(now if t in turn.tables else at) for t, at in mine.items()]
            turn.next_at = min((at + interval for at in later if at is not None), default=now + interval)
        return turn

    def sensor_listings(self) -> dict[str, int]:
        """How many times each sensor table's partitions were listed (claimed turns), by table."""
        self.migrate()
        with self.engine.connect() as conn:
            return {t: int(n) for t, n in conn.execute(sa.select(sensor_state.c.table_name, sensor_state.c.listings))}

    # -- scheduler state ---------------------------------------------------------------------------
    def state(self, key: str) -> tuple[str | None, dt.datetime] | None:
        self.migrate()
        s = scheduler_state.c
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(s.value, s.at).where(s.key == key)).first()
        return None if row is None else (row.value, aware(row.at) or utcnow())

    def state_swap(self, key: str, old: str | None, new: str, now: dt.datetime | None = None) -> bool:
        """Set `key` to `new` if it is still `old` (None: not there yet); True when this call did."""
        self.migrate()
        s = scheduler_state.c
        now = now or utcnow()
        with self._begin() as conn:
            self._lock(conn, "state", key)
            row = conn.execute(sa.select(s.value).where(s.key == key)).first()
            if row is None and old is None:
                conn.execute(scheduler_state.insert().values(key=key, value=new, at=now))
                return True
            if row is not None and row.value == old:
                conn.execute(scheduler_state.update().where(s.key == key).values(value=new, at=now))
                return True
            return False

    # -- problems the UI shows ---------------------------------------------------------------------
    def report_problems(self, scheduler: str, problems: Mapping[str, str]) -> None:
        """Record the current problem of each check file in `problems`; every other file's problem
        is cleared (it parses again, or is gone)."""
        self.migrate()
        p = scheduler_problems.c
        now = utcnow()
        with self._begin() as conn:
            for file, message in sorted(problems.items()):
                self._lock(conn, "problem", file)
                row = conn.execute(sa.select(p.message).where(p.file == file)).first()
                if row is None:
                    conn.execute(
                        scheduler_problems.insert().values(
                            file=file, message=message, scheduler=scheduler, first_seen=now, last_seen=now
                        )
                    )
                elif row.message != message:
                    conn.execute(
                        scheduler_problems.update()
                        .where(p.file == file)
                        .values(message=message, scheduler=scheduler, first_seen=now, last_seen=now)
                    )
                else:
                    conn.execute(
                        scheduler_problems.update().where(p.file == file).values(last_seen=now, scheduler=scheduler)
                    )
            conn.execute(scheduler_problems.delete().where(p.file.not_in(sorted(problems))))

    def scheduler_problems(self) -> list[SchedulerProblem]:
        """Check files the scheduler cannot use, with the message and since when: the scheduler
        keeps running each file's last good version meanwhile. [] when all is well."""
        self.migrate()
        p = scheduler_problems.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(scheduler_problems).order_by(p.file))
            return [record(SchedulerProblem, r._mapping) for r in rows]


def _least_recent(listed: Mapping[str, dt.datetime | None]) -> Any:
    """Sort key: never listed first, then the longest ago, then by name."""
    floor = dt.datetime.min.replace(tzinfo=dt.UTC)
    return lambda t: (listed[t] is not None, listed[t] or floor, t)
