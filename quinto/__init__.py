"""Quinto: data-quality audits for partitioned warehouse tables.

import quinto
result = quinto.audit("dw.fact_playback", "ds=2026-11-27")
result.exit_code, [o.status for o in result.outcomes]
"""

from quinto.audit import AuditResult, Validation, audit, validate
from quinto.errors import QuintoError, SpecError, StoreError, UsageError, WarehouseError
from quinto.evaluate import Status
from quinto.results import Outcome, Run
from quinto.spec import load_project, load_suite

__version__ = "0.1.0"

__all__ = [
    "AuditResult",
    "Outcome",
    "QuintoError",
    "Run",
    "SpecError",
    "Status",
    "StoreError",
    "UsageError",
    "Validation",
    "WarehouseError",
    "audit",
    "load_project",
    "load_suite",
    "validate",
]
