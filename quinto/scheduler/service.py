"""`quinto scheduler`: audits each partition as it lands (sensors), on cron, and when asked over
HTTP; every request is a run row in the store, claimed by one scheduler at a time.

One round (`Scheduler.step`) reloads changed check files, enqueues what cron firings and sensors
call for, claims queued runs up to the per-connection limit and hands them to worker threads;
APScheduler runs the rounds and the heartbeats on intervals. All state is in the store, so a
restarted scheduler, or another one sharing a PostgreSQL store, carries on where it stopped.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
import time
import traceback
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from quinto.alerts.policy import policy_for
from quinto.alerts.sender import send_pending
from quinto.audit import Auditor, suite_fingerprint, validate_partition
from quinto.errors import EXIT_BAD_SPEC, EXIT_INFRA, QuintoError, SpecError, UsageError, first_line
from quinto.record import record, replay
from quinto.results import Run
from quinto.scheduler.cron import cron
from quinto.scheduler.log import EventLog
from quinto.scheduler.sensors import Sensors
from quinto.scheduler.triggers import Clock, SystemClock
from quinto.spec import Project, TableSpec
from quinto.spec.project import PROJECT_FILE
from quinto.store import ClaimLost, Store
from quinto.store.common import aware, utcnow
from quinto.workspace import Workspace

AUTOMATIC = ("sensor", "cron")  # triggers that skip a partition already audited with the same checks
MAX_BACKOFF = 3600.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Scheduler:
    def __init__(
        self,
        project: Project,
        store: Store,
        *,
        clock: Clock | None = None,
        log: EventLog | None = None,
        name: str | None = None,
        workspace: Workspace | None = None,
    ) -> None:
        self.project, self.store = project, store
        self.workspace = workspace or Workspace(project, store)
        self.clock = clock or SystemClock()
        self.name = name or worker_name()
        self.log = log or EventLog(scheduler=self.name)
        self.log.scheduler = self.name
        s = self.workspace.settings
        self.timezone = s.scheduler_timezone
        self.concurrency = s.audit_concurrency
        self.policy = s.reaudit_on_change
        self.retry_attempts = s.retry_attempts
        self.retry_backoff = s.retry_backoff
        self.heartbeat_interval = s.heartbeat_interval
        self.queue_interval = s.queue_interval
        self.queue_watch = s.queue_watch
        self.watched = 0  # the newest queued run id `watch` has seen
        self.spool_dir = self.workspace.spool_dir
        self.sensors = Sensors(self)
        self.tables: dict[str, TableSpec] = {}  # the last good version of every table
        self.file_table: dict[str, str] = {}  # check file → the table it declared when it last parsed
        self.problems: dict[str, str] = {}
        self.due: dict[str, dt.datetime] = {}  # `cron:T` → next firing
        self.recheck: set[str] = set()  # tables whose checks changed: their latest cron partition is re-audited
        self.running: dict[int, tuple[str, Future[None]]] = {}  # run id → (connection, future)
        self.settled: set[int] = set()  # runs this scheduler completes (saving or saved) whose thread is still busy
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.serving = False  # audits run on worker threads (`serve`), not inline
        workers = self.concurrency * max(1, len(project.connections))
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="audit")

    # -- check files ---------------------------------------------------------------------------
    def reload(self) -> bool:
        """Look at the check files through the workspace, which parses again only the files that
        are new or changed (by mtime and size). A file that stops parsing keeps its last good
        version; its problem is logged and stored. True when a table's checks changed."""
        loaded = self.workspace.tables()
        problems = loaded.messages()
        if PROJECT_FILE in loaded.problems and not loaded.tables:  # the list of files itself is broken
            return self._set_problems({**self.problems, PROJECT_FILE: problems[PROJECT_FILE]})
        for shown, message in problems.items():
            if self.problems.get(shown) != message:
                kept = self.file_table.get(shown)
                self.log(
                    "check_file_problem",
                    file=shown,
                    message=message,
                    kept=f"last good version of {kept}" if kept else "nothing (it never parsed)",
                )
        changed = False
        for table, spec in loaded.tables.items():
            before = self.tables.get(table)
            if before is None or suite_fingerprint(before) != suite_fingerprint(spec):
                changed = True
                self.recheck.add(table)
                self.due.pop(f"cron:{table}", None)
                self.log("checks_loaded", file=spec.file, table=table, fingerprint=suite_fingerprint(spec))
        for table in sorted(set(self.tables) - set(loaded.tables)):  # a deleted file takes its table with it
            self.log("checks_removed", file=self.tables[table].file, table=table)
            changed = True
        self.tables = dict(loaded.tables)
        self.file_table = {spec.file: table for table, spec in self.tables.items() if spec.file}
        self._set_problems(problems)
        if changed:
            self.sensors.forget()
        return changed

    def _set_problems(self, problems: dict[str, str]) -> bool:
        if problems != self.problems:
            self.problems = problems
            try:
                self.store.report_problems(self.name, problems)
            except Exception as exc:  # noqa: BLE001 - the store may be down; the log has them
                self.log("store_error", message=first_line(exc, 500))
        return False

    # -- triggers ------------------------------------------------------------------------------
    def enqueue(self, spec: TableSpec, partition: str, trigger: str, reason: str | None = None) -> int | None:
        run_id, created = self.store.enqueue(
            spec.table,
            spec.connection,
            spec.partition,
            partition,
            fingerprint=suite_fingerprint(spec),
            trigger=trigger,
            requested_by=self.name,
            now=self.clock.now(),
        )
        if created:
            self.log("enqueued", table=spec.table, partition=partition, run_id=run_id, trigger=trigger, reason=reason)
        return run_id

    def triggers(self) -> None:
        specs = list(self.tables.values())
        for spec in specs:
            if self.stopping.is_set():
                return
            try:
                if spec.schedule is not None:
                    cron(self, spec)
            except Exception as exc:  # noqa: BLE001 - one table's trouble must not stop the others
                self.log("trigger_error", table=spec.table, message=first_line(exc, 500))
        self.sensors.run(specs)

    # -- the queue -----------------------------------------------------------------------------
    def stale_before(self, now: dt.datetime) -> dt.datetime:
        return now - dt.timedelta(seconds=3 * self.heartbeat_interval)

    def dispatch(self, inline: bool = False) -> list[int]:
        """Claim what this scheduler has room for and start the audits (in this thread with
        `inline`); returns the run ids claimed."""
        if self.stopping.is_set():
            return []
        now = self.clock.now()
        with self._lock:
            busy: dict[str, int] = {}
            for conn, fut in self.running.values():
                if not fut.done():
                    busy[conn] = busy.get(conn, 0) + 1
        connections = set(self.project.connections) | {s.connection for s in self.tables.values()}
        capacity = {c: self.concurrency - busy.get(c, 0) for c in connections if c}
        rows = self.store.claim(self.name, capacity, self.concurrency, self.stale_before(now), now)
        for row in rows:
            if row.get("reclaimed_from"):
                self.log(
                    "reclaimed",
                    table=row["table_name"],
                    partition=row["partition_value"],
                    run_id=row["id"],
                    message=f"heartbeat of {row['reclaimed_from']} went stale",
                )
            if inline:
                self.audit(row)
                continue
            fut = self.pool.submit(self._audit_then_refill, row)
            with self._lock:
                self.running[int(row["id"])] = (str(row["connection"]), fut)
        return [int(r["id"]) for r in rows]

    def watch(self) -> None:
        """Between rounds: when a run was queued since the last look (an ETL job's POST waits for
        its verdict), claim and start it now rather than at the next round. A store that does not
        answer is left to the round to report (ten looks a second must not log ten errors)."""
        try:
            newest = self.store.newest_queued()
        except Exception:  # noqa: BLE001 - the round logs the store's trouble
            return
        if newest > self.watched:
            self.watched = newest
            self.dispatch()

    def queued(self) -> None:
        """Runs were just queued (a sensor's listing): when serving, start them now if there is
        room, instead of after the round's other listings."""
        if self.serving and not self.stopping.is_set():
            self._guarded("dispatch", self.dispatch)

    def _audit_then_refill(self, row: dict[str, Any]) -> None:
        """Audit, then claim at once for the freed slot instead of waiting for the next round."""
        try:
            self.audit(row)
        finally:
            with self._lock:  # complete: a heartbeat from now on must not call it lost
                self.settled.add(int(row["id"]))
        if not self.stopping.is_set():
            self._guarded("dispatch", self.dispatch)

    def beat(self) -> None:
        """Heartbeat the runs being audited; forget finished ones."""
        with self._lock:
            for rid in [rid for rid, (_, fut) in self.running.items() if fut.done()]:
                self.running.pop(rid)
                self.settled.discard(rid)
            ids = list(self.running)
        if not ids:
            return
        try:
            held = self.store.heartbeat(self.name, ids, self.clock.now())
        except Exception as exc:  # noqa: BLE001 - the store may be down for a while
            self.log("store_error", message=f"heartbeat: {first_line(exc, 500)}")
            return
        with self._lock:
            # a run that finished meanwhile is no longer held either; only an unfinished one was taken over
            gone = [
                rid
                for rid in set(ids) - held
                if rid in self.running and not self.running[rid][1].done() and rid not in self.settled
            ]
        # not held may also mean completed by this scheduler a moment ago: lost only if another holds it
        lost = [rid for rid in gone if _held_by_another(self.store.run_result(rid), self.name)]
        for rid in sorted(lost):
            self.log("claim_lost", run_id=rid, message="another scheduler took this run over")

    def audit(self, row: dict[str, Any]) -> None:
        """Audit one claimed run and complete its row: the verdict, a retry later (ERROR), or a
        readable error (bad checks)."""
        rid, table, named = int(row["id"]), str(row["table_name"]), _partitions_of(row)
        part = ", ".join(named) if len(named) > 1 else str(row["partition_value"] or "*")
        attempt, trigger = int(row["attempts"]), str(row["trigger"])
        fields: dict[str, Any] = {"table": table, "partition": part, "run_id": rid, "trigger": trigger}
        spec = self.tables.get(table)
        if spec is None:
            message = f"no checks declared for table '{table}' (its check file is gone or does not parse)"
            self.store.finish_without_outcomes(rid, self.name, message, EXIT_BAD_SPEC)
            self.log("audit_done", **fields, outcome="ERROR", exit_code=EXIT_BAD_SPEC, message=message)
            return
        if attempt > self.retry_attempts:
            message = f"gave up after {attempt - 1} attempt(s): {row.get('error') or 'its scheduler stopped'}"
            self.store.finish_without_outcomes(rid, self.name, message, EXIT_INFRA)
            self.log("gave_up", **fields, outcome="ERROR", exit_code=EXIT_INFRA, message=message)
            return
        wanted = named if spec.partition else []
        if trigger in AUTOMATIC and not row["force"] and wanted:
            fp = suite_fingerprint(spec)
            seen = self.store.audited(table, wanted)
            wanted = [p for p in wanted if fp not in seen.get(p, set())]
            if not wanted:
                if self.store.forget(rid, self.name):
                    self.log("skipped", **fields, reason="audited meanwhile with the same checks")
                return
        self.log("audit_started", **fields, attempt=attempt)
        started = time.perf_counter()
        run: Run | None = None
        error: str | None = None
        code = EXIT_INFRA
        try:
            parts = [validate_partition(p, spec) for p in wanted]
            with self.workspace.connectors.use(spec.connection) as connector:  # its connection stays open
                run = Auditor(self.project, spec, connector, self.store, self.clock.now()).run(parts, trigger)
        except (SpecError, UsageError) as exc:
            error, code = exc.message, EXIT_BAD_SPEC
        except QuintoError as exc:
            error = exc.message
        except Exception as exc:  # noqa: BLE001 - an unforeseen failure is an ERROR, not a crash
            error = f"internal error: {type(exc).__name__}: {first_line(exc, 500)}"
            self.log("internal_error", **fields, message="".join(traceback.format_exception(exc))[-2000:])
        duration = round(time.perf_counter() - started, 3)
        retryable = code == EXIT_INFRA and (run is None or run.verdict_code == EXIT_INFRA)
        if retryable and attempt < self.retry_attempts:
            delay = min(self.retry_backoff * 2 ** (attempt - 1), MAX_BACKOFF)
            why = error or (run.error if run is not None else None) or _errors_of(run)
            when = self.clock.now() + dt.timedelta(seconds=delay)
            if self.store.retry_later(rid, self.name, when, why):
                self.log("retry", **fields, attempt=attempt, duration_s=duration, not_before=when, message=why)
            return
        if run is None:
            self.store.finish_without_outcomes(rid, self.name, error or "no result", code)
            self.log("audit_done", **fields, outcome="ERROR", exit_code=code, duration_s=duration, message=error)
            return
        run.id = rid
        run.alert_policy = policy_for(self.project, spec, trigger)  # state changes alert as after `quinto audit`
        with self._lock:  # being saved: once committed, a heartbeat no longer holds it, and must not call it lost
            self.settled.add(rid)
        try:
            recorded = record(self.store, run, self.spool_dir, claimed_by=self.name)
        except ClaimLost:
            self.log("claim_lost", **fields, duration_s=duration, message="another scheduler audits it; result dropped")
            return
        if recorded.error is not None:  # the store is down: kept for replay when it could be spooled
            self.log("spooled" if recorded.spooled else "store_error", **fields, message=recorded.error)
            return
        self.log(
            "audit_done",
            **fields,
            outcome=str(run.status),
            exit_code=run.verdict_code,
            duration_s=duration,
            attempt=attempt,
            statements=len(run.statements),
            warehouse_s=round(sum(float(st.get("duration_ms") or 0.0) for st in run.statements) / 1000.0, 3),
            sensor_lag_s=self._sensor_lag(row),
        )

    def _sensor_lag(self, row: dict[str, Any]) -> float | None:
        """Seconds from the sensor first seeing the run's (oldest) partition, when it queued the
        run, to now that its verdict is stored; None for other triggers."""
        seen = aware(row.get("requested_at"))
        if row.get("trigger") != "sensor" or seen is None:
            return None
        return round(max(0.0, (self.clock.now() - seen).total_seconds()), 3)

    # -- running -------------------------------------------------------------------------------
    def step(self, inline: bool = False) -> list[int]:
        """One round: reload, spooled runs, triggers, claims. With `inline`, the audits run in this
        thread until the queue holds nothing more to claim now; returns the run ids claimed."""
        self.reload()
        try:
            replay(self.store, self.spool_dir)
        except Exception as exc:  # noqa: BLE001 - still down: the files stay for the next round
            self.log("store_error", message=f"spooled runs not replayed: {first_line(exc, 500)}")
        self.triggers()
        if not inline:
            return self.dispatch()
        claimed: list[int] = []
        while ids := self.dispatch(inline=True):  # inline: until nothing more can be claimed now
            claimed += ids
        return claimed

    def send_alerts(self) -> None:
        """Deliver the alerts that are due (ours and any other process's: senders never send a row twice)."""
        report = send_pending(self.store, self.project.settings, sender=self.name)
        if report.sent or report.failed or report.digests:
            self.log(
                "alerts_sent",
                sent=len(report.sent),
                failed=len(report.failed),
                digests=report.digests,
                message=report.error(),
            )

    def retention(self) -> None:
        """Apply `retention.keep` once a day (UTC): the first scheduler to swap the day into the
        store's `retention` state row prunes; the others see the day taken and skip."""
        keep = self.workspace.settings.retention.get("keep")
        if not keep:
            return
        now = self.clock.now()
        today = now.date().isoformat()
        last = self.store.state("retention")
        before = last[0] if last is not None else None
        if before == today or not self.store.state_swap("retention", before, today, now):
            return
        from quinto.store.retention import prune

        report = prune(self.store.engine, dt.timedelta(seconds=keep), now=now)
        fields = {k: v for k, v in report.as_dict().items() if k not in ("dry_run", "by_table")}
        self.log("retention_pruned", **fields, tables=report.by_table)

    def _guarded(self, what: str, fn: Any) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - a failed round is logged; the next one tries again
            self.log("round_error", message=f"{what}: {first_line(exc, 500)}")

    def serve(self, stop: threading.Event, force: threading.Event | None = None) -> None:
        """Run rounds and heartbeats on APScheduler until `stop` is set, then wait for the audits
        in progress; when `force` is set too, release them to other schedulers instead."""
        force = force or threading.Event()
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        jobs = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
        now = utcnow()
        jobs.add_job(
            lambda: self._guarded("round", self.step),
            IntervalTrigger(seconds=self.queue_interval),
            id="round",
            next_run_time=now,
            misfire_grace_time=None,
        )
        if self.queue_watch:
            jobs.add_job(
                lambda: self._guarded("dispatch", self.watch),
                IntervalTrigger(seconds=self.queue_watch),
                id="watch",
                next_run_time=now,
                misfire_grace_time=None,
            )
        jobs.add_job(
            lambda: self._guarded("alerts", self.send_alerts),
            IntervalTrigger(seconds=max(self.queue_interval, 5.0)),
            id="alerts",
            next_run_time=now,
            misfire_grace_time=None,
        )
        jobs.add_job(
            lambda: self._guarded("retention", self.retention),
            IntervalTrigger(hours=1),
            id="retention",
            next_run_time=now + dt.timedelta(minutes=1),
            misfire_grace_time=None,
        )
        jobs.add_job(
            lambda: self._guarded("heartbeat", self.beat),
            IntervalTrigger(seconds=self.heartbeat_interval),
            id="heartbeat",
            next_run_time=now,
            misfire_grace_time=None,
        )
        self.log(
            "scheduler_started",
            tables=len(self.tables),
            problems=len(self.problems),
            store=self.store.where,
            pid=os.getpid(),
        )
        self.serving = True
        jobs.start()
        try:
            stop.wait()
        finally:
            self.stopping.set()
            jobs.shutdown(wait=True)
        with self._lock:
            left = [fut for _, fut in self.running.values() if not fut.done()]
        self.log("scheduler_stopping", running=len(left))
        # heartbeats go on while the audits in progress finish
        while any(not f.done() for f in left) and not force.is_set():
            self._guarded("heartbeat", self.beat)
            _wait_any(left, self.heartbeat_interval)
        if any(not f.done() for f in left):
            released = self.store.release(self.name)
            self.log("released", runs=released)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.workspace.connectors.close()
        self.log("scheduler_stopped")

    def load(self) -> None:
        """The first look at the check files (every problem is logged and stored)."""
        loaded = self.workspace.tables()
        self.tables = dict(loaded.tables)
        problems = loaded.messages()
        for shown, problem in problems.items():
            self.log("check_file_problem", file=shown, message=problem, kept="nothing (it never parsed)")
        self.file_table = {spec.file: table for table, spec in self.tables.items() if spec.file}
        self.recheck = set(self.tables)  # checks may have changed while no scheduler ran
        self._set_problems(problems)


def _held_by_another(run: dict[str, Any] | None, me: str) -> bool:
    return run is not None and run["status"] == "RUNNING" and run["claimed_by"] not in (None, me)


def _partitions_of(row: dict[str, Any]) -> list[str]:
    """The partitions a queued run asks for: a sensor's run names several."""
    listed = json.loads(row["partitions"]) if row.get("partitions") else []
    return [str(p) for p in listed] or [str(row["partition_value"])]


def _wait_any(futures: list[Future[None]], timeout: float) -> None:
    from concurrent.futures import FIRST_COMPLETED, wait

    wait(futures, timeout=timeout, return_when=FIRST_COMPLETED)


def _errors_of(run: Run | None) -> str:
    if run is None:
        return "no result"
    errors = sorted({o.message for o in run.outcomes if str(o.status) == "ERROR"})
    return "; ".join(errors)[:1000] or "ERROR"
