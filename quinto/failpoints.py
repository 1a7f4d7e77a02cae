"""Failpoints for crash-consistency tests: `QUINTO_TEST_CRASH_AT=<step>` (or several, comma
separated) in the environment makes the process die with SIGKILL when it reaches that step, the
same as `kill -9` at the worst moment. The steps are named where they are reached:

- save: `save_before_commit` (the run's transaction is written, not committed), `save_committed`
  (committed, before the record path has checked it);
- spool: `spool_tmp_written` (the temporary file is written, not renamed), `spool_renamed`;
- replay: `replay_claimed` (a spool file is claimed, nothing saved), `replay_saved` (saved, the
  file not yet removed);
- alert outbox: `alert_claimed` (a row is claimed, not sent), `alert_sent` (sent, not marked; also
  `QUINTO_TEST_CRASH_AFTER_SEND=1`), `alert_marked`.

Unset (always, outside the tests) a failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

CRASH_AT = "QUINTO_TEST_CRASH_AT"
STEPS = (
    "save_before_commit",
    "save_committed",
    "spool_tmp_written",
    "spool_renamed",
    "replay_claimed",
    "replay_saved",
    "alert_claimed",
    "alert_sent",
    "alert_marked",
)


def crash_point(step: str) -> None:
    """Die here, as by `kill -9`, when the environment asks for a crash at `step`."""
    wanted = os.environ.get(CRASH_AT)
    if wanted and step in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
