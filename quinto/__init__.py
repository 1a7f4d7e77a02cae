"""Quinto: data-quality audits for partitioned warehouse tables.

import quinto
result = quinto.audit("dw.fact_playback", "ds=2026-11-27")
result.exit_code, [o.status for o in result.outcomes]
"""

from quinto.app import audit
from quinto.audit import AuditResult
from quinto.errors import QuintoError, SpecError, StoreError, UsageError, WarehouseError
from quinto.evaluate import Status
from quinto.results import Outcome, Run
from quinto.spec import load_project, load_suite
from quinto.validation import Validation, validate
from quinto.workspace import Workspace

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
    "Workspace",
    "audit",
    "load_project",
    "load_suite",
    "validate",
]
