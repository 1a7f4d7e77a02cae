"""The 12-check suite, as data every runner reads (standard library only: it is imported by the
runners inside each tool's own virtual environment).

Each check has one name across the four tools; a runner prints {partition: {name: passed}}.
"""

from __future__ import annotations

import datetime as dt

TABLE = "bench.events"
COUNTRIES = ["US", "CA", "BR", "MX", "GB", "DE", "FR", "IN"]
DEVICES = ["tv", "web", "mobile", "console"]
AMOUNT_MIN, AMOUNT_MAX = 0, 10000
EMAIL_REGEX = r"^[^@]+@[^@]+\.[a-z]+$"
FRESHNESS = dt.timedelta(hours=26)
MEAN_MIN, MEAN_MAX = 10, 200

CHECKS = [
    "row_count",  # row_count > 0
    "not_null_id",  # missing_count(id) = 0
    "not_null_user_id",  # missing_count(user_id) = 0
    "not_null_country",  # missing_count(country) = 0
    "unique_id",  # duplicate_count(id) = 0
    "accepted_country",  # invalid_count(country) = 0, valid values COUNTRIES
    "accepted_device",  # invalid_count(device) = 0, valid values DEVICES
    "range_amount",  # invalid_count(amount) = 0, valid between AMOUNT_MIN and AMOUNT_MAX
    "regex_email",  # invalid_count(email) = 0, valid regex EMAIL_REGEX
    "freshness_event_ts",  # newest event_ts less than FRESHNESS before the reference time
    "mean_amount",  # avg(amount) between MEAN_MIN and MEAN_MAX
    "unique_user_device",  # duplicate_count(user_id, device) = 0
]

WHOLE = "*"  # the scope that means the whole table


def reference_time(scope: str) -> dt.datetime:
    """What freshness is measured from (naive UTC, like event_ts): a daily partition's end, or now
    for the whole table (Quinto's default, `relative_to: partition_end` for date partitions)."""
    if scope == WHOLE:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return dt.datetime.strptime(scope, "%Y-%m-%d") + dt.timedelta(days=1)
