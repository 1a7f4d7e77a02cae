"""The scheduler: audits each partition as it lands (`on: new_partition`), on cron (`schedule:`),
and when an ETL job asks over HTTP (`submit`); see `quinto scheduler`."""

from quinto.scheduler.lock import SchedulerBusy, single_instance
from quinto.scheduler.queue import load_tables, submit
from quinto.scheduler.service import Scheduler
from quinto.scheduler.triggers import Clock, FixedClock, SystemClock

__all__ = [
    "Clock",
    "FixedClock",
    "Scheduler",
    "SchedulerBusy",
    "SystemClock",
    "load_tables",
    "single_instance",
    "submit",
]
