"""What an alert says, channel by channel, from payloads as the outbox holds them: the offending
values an invalid-value or duplicate failure names (counted in its sampled failing rows), the checks
a message about several changes names in its first line, and what a recovery follows. Rendering is
pure; the end-to-end path (audit → outbox → SMTP and Slack servers) is in tests/test_alerts.py."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from quinto.alerts.channels.email import render_email
from quinto.alerts.channels.slack import render_slack
from quinto.alerts.channels.teams import card
from quinto.alerts.channels.webhook import Webhook
from quinto.alerts.render import headline, history, top_values
from quinto.checks import CHECK_TYPES, TopValues
from quinto.checks.base import top_values as count_top_values
from quinto.evaluate import Status
from quinto.results import Outcome, Run
from quinto.spec import parse_check_file

INDENT = "\u2003\u2003"


def change(check: str, kind: str = "failing", status: str = "FAIL", **more: Any) -> dict[str, Any]:
    return {
        "partition": "2026-11-27",
        "check": check,
        "check_type": "invalid_count",
        "kind": kind,
        "status": status,
        "previous": None,
        "value": 20.0,
        "threshold": "= 0",
        "band_low": None,
        "band_high": None,
        "message": "",
        "source": "c.yaml:7:5",
        **more,
    }


def payload(*changes: dict[str, Any]) -> dict[str, Any]:
    return {
        "table": "dw.t",
        "run_id": 9,
        "partition_column": "ds",
        "owners": ["a@example.com"],
        "base_url": "https://q.example.com",
        "at": "2026-11-28T06:00:00+00:00",
        "changes": list(changes),
    }


TOP = {
    "columns": ["country"],
    "rows_sampled": 20,
    "values": [
        {"value": "XX", "rows": 12},
        {"value": "<!channel> & <b>", "rows": 5},
        {"value": None, "rows": 3},
    ],
}


# -- counting the offending values ----------------------------------------------------------------
def test_top_values_are_counted_in_the_samples_most_frequent_first_ties_by_value() -> None:
    rows = [{"id": i, "COUNTRY": c} for i, c in enumerate(["b", "a", None, "a", 5, "b", None, 5, "zz", "q", "x" * 300])]
    top = count_top_values(rows, ["country"])  # an engine that upper-cases column names
    assert top is not None and top.columns == ("country",) and top.sampled == 11
    assert top.values == ((5, 2), ("a", 2), ("b", 2), (None, 2), ("q", 1))  # numbers, text, NULL last
    assert ("x" * 199 + "\u2026", 1) in count_top_values(rows, ["country"], limit=20).values  # type: ignore[union-attr]
    assert count_top_values(rows, ["city"]) is None  # the samples lack the column
    assert count_top_values([], ["country"]) is None and count_top_values(None, ["country"]) is None
    pairs = [{"a": 1, "b": "tv"}, {"a": 1, "b": "tv"}, {"a": 1, "b": "web"}, {"a": 2, "b": None}]
    found = count_top_values(pairs, ["a", "b"])
    assert found == TopValues(("a", "b"), 4, (((1, "tv"), 2), ((1, "web"), 1), ((2, None), 1)))
    assert found.as_json()["values"][0] == {"value": [1, "tv"], "rows": 2}
    assert json.loads(json.dumps(found.as_json())) == found.as_json()


def test_which_check_types_name_offending_values(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(
        "table: dw.t\nchecks:\n  - invalid_percent(country) < 1%: {valid_values: [US, CA]}\n"
        "  - duplicate_percent(user_id, device) < 1%\n  - missing_count(country) = 0\n"
        "  - reference(user_id) in dw.users(id)\n",
        encoding="utf-8",
    )
    invalid, duplicate, missing, orphan = parse_check_file(tmp_path / "t.yaml").checks
    rows = [{"country": "XX", "user_id": 1, "device": "tv"}, {"country": "XX", "user_id": 1, "device": "tv"}]
    found = CHECK_TYPES[invalid.type].offending(invalid, rows)
    assert found is not None and found.values == (("XX", 2),)
    found = CHECK_TYPES[duplicate.type].offending(duplicate, rows)
    assert found is not None and found.values == (((1, "tv"), 2),)
    found = CHECK_TYPES[orphan.type].offending(orphan, rows)  # the keys with no match
    assert found is not None and found.values == ((1, 2),)
    assert CHECK_TYPES[missing.type].offending(missing, rows) is None  # every missing value is NULL: nothing to name


def test_a_spooled_run_keeps_its_top_values_and_an_older_spool_file_still_loads() -> None:
    run = Run("dw.t", "warehouse", "ds", ["2026-11-27"], dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
    run.outcomes.append(
        Outcome("dw.t", "2026-11-27", "c", "invalid_count", "m", "fp", Status.FAIL, 2.0, "", "= 0", "c.yaml:1:1")
    )
    run.outcomes[0].top_values = TOP
    assert Run.from_json(run.to_json()).outcomes[0].top_values == TOP
    older = json.loads(run.to_json())
    del older["outcomes"][0]["top_values"]  # written before outcomes had them
    assert Run.from_json(json.dumps(older)).outcomes[0].top_values is None


# -- the words ------------------------------------------------------------------------------------
def test_top_values_say_they_are_counted_in_the_sampled_rows() -> None:
    assert top_values(change("c", top_values=TOP)) == (
        "top values of country in 20 sampled failing rows: 'XX' (12), '<!channel> & <b>' (5), NULL (3)"
    )
    key = {"columns": ["user_id", "device"], "rows_sampled": 1, "values": [{"value": [42, "tv"], "rows": 1}]}
    assert top_values(change("c", top_values=key)) == (
        "top values of (user_id, device) in 1 sampled failing row: (42, 'tv') (1)"
    )
    long = {"columns": ["note"], "rows_sampled": 7, "values": [{"value": "y" * 200, "rows": 7}]}
    cut = f"'{'y' * 59}\u2026'"
    assert top_values(change("c", top_values=long)) == f"top values of note in 7 sampled failing rows: {cut} (7)"
    assert top_values(change("c")) is None and top_values(change("c", top_values=None)) is None


def test_every_channel_shows_the_top_values_escaped() -> None:
    p = payload(change("invalid_count(country) = 0", top_values=TOP, incident=4))
    said = "top values of country in 20 sampled failing rows: 'XX' (12), '<!channel> & <b>' (5), NULL (3)"
    _, text, html = render_email(p)
    assert f"{' ' * 14}{said}" in text.splitlines()
    assert "&#x27;&lt;!channel&gt; &amp; &lt;b&gt;&#x27; (5)" in html and "<!channel>" not in html
    section = render_slack(p)["blocks"][1]["text"]["text"]
    escaped = "'XX' (12), '&lt;!channel&gt; &amp; &lt;b&gt;' (5), NULL (3)"
    assert f"{INDENT}top values of country in 20 sampled failing rows: {escaped}" in section.splitlines()
    assert "<!channel>" not in section  # no mention smuggled in by a value
    facts = [b for b in card(p)["body"] if b["type"] == "Container"][0]["items"][1]["facts"]
    assert facts[0]["value"] == f"20 rows, expected = 0\n\n{said}"
    assert Webhook().render(p)["alert"]["changes"][0]["top_values"] == TOP  # the JSON as the payload holds it


def test_a_payload_queued_before_top_values_renders_as_it_did() -> None:
    p = payload(change("invalid_count(country) = 0", incident=4))
    assert render_slack(p)["blocks"][1]["text"]["text"].splitlines()[1] == (
        "*FAIL* `invalid_count(country) = 0`: 20 rows, expected = 0 <https://q.example.com/incidents/4|incident 4>"
    )
    recovered = change("c", kind="recovered", status="PASS", previous="bad", incident=4)  # no `since`: says nothing
    assert history(recovered) is None
    section = render_slack(payload(recovered))["blocks"][1]["text"]["text"]
    assert section.endswith("<https://q.example.com/incidents/4|incident 4>")


def test_a_recovery_says_what_it_follows() -> None:
    since = "2026-11-27T06:30:00+00:00"
    first = {"incident": 4, "incident_first_partition": "2026-11-25"}
    recovered = change("c", "recovered", "PASS", previous="bad", since=since, **first)
    assert history(recovered, "ds") == "was failing since 2026-11-27 06:30 UTC; the incident began at ds=2026-11-25"
    erring = change("c", "recovered", "PASS", previous="error", since=since)  # an ERROR is in no incident
    assert history(erring) == "was in error since 2026-11-27 06:30 UTC"
    section = render_slack(payload(erring))["blocks"][1]["text"]["text"]
    assert section.splitlines()[-1] == f"{INDENT}was in error since 2026-11-27 06:30 UTC"
    reminder = change("c", "reminder", "ERROR", since=since)
    assert history(reminder) == "in error since 2026-11-27 06:30 UTC"
    assert history(change("c", since=since, **first)) is None  # a FAILING alert begins it
    lines = render_slack(payload(recovered))["blocks"][1]["text"]["text"].splitlines()
    assert lines[1:] == [
        "*RECOVERED* `c`: 20 rows, expected = 0",
        f"{INDENT}follows <https://q.example.com/incidents/4|incident 4>: "
        "was failing since 2026-11-27 06:30 UTC; the incident began at ds=2026-11-25",
    ]


# -- the first line -------------------------------------------------------------------------------
def test_a_headline_of_several_changes_names_the_checks() -> None:
    two = payload(change("row_count anomaly"), change("invalid_count(country) = 0"))
    assert headline(two) == "dw.t ds=2026-11-27: 2 failing (row_count anomaly, invalid_count(country) = 0)"
    many = payload(
        *[change(f"check_{i}") for i in range(5)],
        change("row_count > 0", "recovered", "PASS"),
        change("freshness(ts) < 26h", "error", "ERROR"),
    )
    assert headline(many) == (
        "dw.t ds=2026-11-27: 5 failing (check_0, check_1, check_2, +2 more), 1 in error, 1 recovered"
    )
    mixed = payload(change("a"), change("b", "recovered", "PASS"), change("c", "reminder"))
    assert headline(mixed) == "dw.t ds=2026-11-27: 1 failing (a), 1 still failing (c), 1 recovered (b)"
    long = "avg(duration_seconds_of_the_playback_session) between 60 and 7200"
    cut = headline(payload(change(long), change("b")))
    assert cut == "dw.t ds=2026-11-27: 2 failing (avg(duration_seconds_of_the_playback_se\u2026, b)"
    subject, _, _ = render_email(two)
    assert subject == "[Quinto] dw.t ds=2026-11-27: 2 failing (row_count anomaly, invalid_count(country) = 0)"
    wide = payload(*[change("x" * 39 + str(i)) for i in range(4)])
    header = render_slack(wide)["blocks"][0]["text"]["text"]
    assert len(headline(wide)) > 150 and len(header) == 150 and header.endswith("\u2026")  # Slack's limit
