"""The sender: delivers pending outbox rows. Claim a row (one UPDATE ... WHERE status='pending', so
two senders never both take it), send it, mark it sent. A row that cannot be delivered goes back to
pending with an exponential backoff (the endpoint's Retry-After when it rate-limits); nothing is dropped.

The one allowed duplicate: a sender that dies after a message left and before its row was marked
leaves the row claimed; the next sender reclaims it (at once when the dead sender ran on the same
host, otherwise after the lease) and sends it again.

Test hook: with QUINTO_TEST_CRASH_AFTER_SEND=1 in the environment the process exits with
os._exit(CRASH_EXIT) right after the first successful send, before marking the row: a real crash at
the worst moment, used by the tests to prove the duplicate is the only consequence.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from quinto.alerts.channels import CHANNELS, Channel, DeliveryError, Outgoing
from quinto.store.common import utc, utcnow
from quinto.store.records import OutboxRecord

if TYPE_CHECKING:
    from quinto.store import Store

CRASH_HOOK = "QUINTO_TEST_CRASH_AFTER_SEND"
CRASH_EXIT = 97
BACKOFF_S = 30.0  # first retry after 30 s, then 60, 120, ... up to BACKOFF_MAX_S
BACKOFF_MAX_S = 3600.0
LEASE_S = 600.0  # a claim older than this is a dead sender's (sending takes at most 30 s per try)


@dataclass
class SendReport:
    sent: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (outbox id, why)
    deferred: int = 0  # due, but its endpoint failed earlier in this pass
    digests: int = 0  # digests formed in this pass
    reclaimed: int = 0  # rows a dead sender left claimed, sent again
    notes: list[str] = field(default_factory=list)  # delivered, but not to everyone

    @property
    def exit_code(self) -> int:
        return 3 if self.failed else 0

    def error(self) -> str | None:
        """One readable line when something was not delivered."""
        if not self.failed:
            return None
        reasons = list(dict.fromkeys(why for _, why in self.failed))
        waiting = len(self.failed) + self.deferred
        return f"{waiting} alert(s) not delivered, kept in the outbox and retried with backoff: " + "; ".join(
            reasons[:3]
        )


def sender_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def is_dead(claimed_by: str) -> bool:
    """True when `claimed_by` names a process of this host that no longer runs."""
    host, _, pid = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists but belongs to someone else
    return False


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next try of a row that failed `attempts` times."""
    if retry_after is not None:
        return max(1.0, retry_after)
    return min(BACKOFF_MAX_S, BACKOFF_S * 2 ** max(0, attempts - 1))


def channel_of(row: OutboxRecord) -> Channel:
    try:
        return CHANNELS[row.channel]
    except KeyError:
        raise DeliveryError(f"no alert channel '{row.channel}' is installed", down=True) from None


def deliver(row: OutboxRecord, settings: Mapping[str, Any]) -> str | None:
    """Send one outbox row through its channel; raises DeliveryError. Returns a note when the message
    was sent but not to every recipient."""
    message = Outgoing(
        id=int(row.id),
        target=row.target,
        payload=json.loads(row.payload),
        created_at=row.created_at,
        attempts=row.attempts,
    )
    return channel_of(row).send(message, settings).note


def endpoint(row: OutboxRecord, settings: Mapping[str, Any]) -> str:
    """The server a row goes to (while it is down, its other rows wait)."""
    try:
        return channel_of(row).endpoint(row.target, settings)
    except DeliveryError:
        return f"{row.channel} {row.target}"


def send_pending(
    store: Store,
    settings: Mapping[str, Any],
    *,
    now: dt.datetime | None = None,
    sender: str | None = None,
    limit: int = 500,
    lease_s: float = LEASE_S,
) -> SendReport:
    """One pass over the outbox: reclaim rows of dead senders, form the digests of days that are
    over, then deliver every due row once. Safe to run in several processes at once. `settings` are
    the project's (`project.settings`). Never raises for a delivery failure: see the report."""
    now = now or utcnow()
    me = sender or sender_id()
    report = SendReport()
    report.reclaimed = store.outbox.reclaim(now, lease_s, is_dead)
    report.digests = store.outbox.form_digests(now)
    due = store.outbox.due(now, limit)
    # endpoint → (its next attempt, why); an ordered channel's endpoint waits for its older rows
    down: dict[str, tuple[dt.datetime, str]] = {}
    waiting = _waiting(store, due, settings, now)
    for row in due:
        where = endpoint(row, settings)
        older = waiting.get(where)
        if older is not None and older[0] < row.id and where not in down:
            down[where] = (older[1], f"waits for alert {older[0]} to the same endpoint, sent first")
        if where in down:
            store.outbox.defer(row.id, *down[where])
            report.deferred += 1
            continue
        if not store.outbox.claim(row.id, me, now):
            continue  # another sender has it
        attempts = int(row.attempts) + 1
        try:
            note = deliver(row, settings)
        except DeliveryError as exc:
            retry_at = now + dt.timedelta(seconds=backoff(attempts, exc.retry_after))
            store.outbox.release(row.id, me, exc.message, retry_at)
            report.failed.append((row.id, exc.message))
            if exc.down or _ordered(row):
                down[where] = (retry_at, exc.message)
            continue
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the row claimed
            why = f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            store.outbox.release(row.id, me, why, now + dt.timedelta(seconds=backoff(attempts)))
            report.failed.append((row.id, why))
            continue
        if os.environ.get(CRASH_HOOK) == "1":
            os._exit(CRASH_EXIT)  # test hook: die between delivery and marking (see the module doc)
        store.outbox.mark_sent(row.id, me, utcnow(), note)
        report.sent.append(row.id)
        if note:
            report.notes.append(f"alert {row.id}: {note}")
    return report


def _ordered(row: OutboxRecord) -> bool:
    """Whether the row's channel delivers an endpoint's rows in order (PagerDuty: a resolve never
    overtakes the trigger it resolves)."""
    channel = CHANNELS.get(row.channel)
    return channel is not None and channel.ordered


def _waiting(
    store: Store, due: list[OutboxRecord], settings: Mapping[str, Any], now: dt.datetime
) -> dict[str, tuple[int, dt.datetime]]:
    """endpoint → (its oldest pending row that is not due yet, when it is) for ordered channels."""
    if not any(_ordered(row) for row in due):
        return {}
    out: dict[str, tuple[int, dt.datetime]] = {}
    for row in store.outbox.rows(status="pending", limit=10_000):  # newest first
        at = row.next_attempt_at
        if _ordered(row) and at is not None and utc(at) > now:
            out[endpoint(row, settings)] = (int(row.id), utc(at))
    return out
