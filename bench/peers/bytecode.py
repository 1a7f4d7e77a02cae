"""Measure Quinto as an installed package runs: with its modules' bytecode.

`pip install quinto` compiles every module to bytecode, and so do the peers' virtual environments;
an editable checkout compiles a module the first time it is imported, and not at all when
`PYTHONDONTWRITEBYTECODE` is set (some CI images and sandboxes set it). Then every `quinto audit`
process compiles its ~75 modules from source again (about 0.09 s of a 0.57 s audit of a 20,000-row
partition), a cost no installed copy pays. The benchmarks call `as_installed()` first."""

from __future__ import annotations

import compileall
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def as_installed() -> None:
    """Compile Quinto's packages to bytecode and let the processes the benchmark starts use it."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for package in ("quinto", "web"):
        compileall.compile_dir(str(ROOT / package), quiet=1, workers=1)
