"""The 12 checks as a Great Expectations (GX Core 1.x) suite on a SQL datasource; run inside the GX
virtual environment. Expectations are computed in the database.

    python run_gx.py ENGINE URL SCOPE     SCOPE: a ds value or `*` (whole table)
Prints {scope: {check: passed}} as JSON. A partition is a query asset (`WHERE ds = ...`): GX's
batch definitions partition only date/datetime columns, and `ds` is text.
"""

from __future__ import annotations

import json
import sys

import great_expectations as gx
import great_expectations.expectations as gxe
from suite import (
    AMOUNT_MAX,
    AMOUNT_MIN,
    COUNTRIES,
    DEVICES,
    EMAIL_REGEX,
    FRESHNESS,
    MEAN_MAX,
    MEAN_MIN,
    WHOLE,
    reference_time,
)


def expectations(scope: str) -> dict[str, gxe.Expectation]:
    return {
        "row_count": gxe.ExpectTableRowCountToBeBetween(min_value=1),
        "not_null_id": gxe.ExpectColumnValuesToNotBeNull(column="id"),
        "not_null_user_id": gxe.ExpectColumnValuesToNotBeNull(column="user_id"),
        "not_null_country": gxe.ExpectColumnValuesToNotBeNull(column="country"),
        "unique_id": gxe.ExpectColumnValuesToBeUnique(column="id"),
        "accepted_country": gxe.ExpectColumnValuesToBeInSet(column="country", value_set=COUNTRIES),
        "accepted_device": gxe.ExpectColumnValuesToBeInSet(column="device", value_set=DEVICES),
        "range_amount": gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=AMOUNT_MIN, max_value=AMOUNT_MAX),
        "regex_email": gxe.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL_REGEX),
        "freshness_event_ts": gxe.ExpectColumnMaxToBeBetween(
            column="event_ts", min_value=reference_time(scope) - FRESHNESS, strict_min=True
        ),
        "mean_amount": gxe.ExpectColumnMeanToBeBetween(column="amount", min_value=MEAN_MIN, max_value=MEAN_MAX),
        "unique_user_device": gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "device"]),
    }


def main() -> None:
    engine, url, scope = sys.argv[1:4]
    context = gx.get_context(mode="ephemeral")
    if engine == "postgres":
        source = context.data_sources.add_postgres("warehouse", connection_string=url)
    elif engine in ("trino", "spark"):  # trino's and pyhive's SQLAlchemy dialects (URL trino://, hive://)
        source = context.data_sources.add_sql("warehouse", connection_string=url)
    else:
        source = context.data_sources.add_sql(
            "warehouse", connection_string=url, kwargs={"connect_args": {"read_only": True}}
        )
    if scope == WHOLE:
        asset = source.add_table_asset("events", table_name="events", schema_name="bench")
    else:
        asset = source.add_query_asset("events", query=f"SELECT * FROM bench.events WHERE ds = '{scope}'")
    batch = asset.add_batch_definition_whole_table("batch").get_batch()
    suite = gx.ExpectationSuite(name="events")
    for name, expectation in expectations(scope).items():
        expectation.meta = {"check": name}
        suite.add_expectation(expectation)
    result = batch.validate(suite, result_format="BOOLEAN_ONLY")
    raised = [r for r in result.results if (r.exception_info or {}).get("raised_exception")]
    if not raised:  # the info is keyed by metric when a metric failed to resolve
        raised = [r for r in result.results if any(
            isinstance(v, dict) and v.get("raised_exception") for v in (r.exception_info or {}).values()
        )]
    if raised:
        info = raised[0].exception_info or {}
        detail = info.get("exception_message") or next(
            (v.get("exception_message") for v in info.values() if isinstance(v, dict)), "?"
        )
        sys.exit(f"GX could not compute {len(raised)} expectation(s), e.g. {detail}")
    passed = {r.expectation_config.meta["check"]: bool(r.success) for r in result.results}
    print(json.dumps({scope: passed}))


if __name__ == "__main__":
    main()
