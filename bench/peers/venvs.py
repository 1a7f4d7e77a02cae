"""Each peer tool runs in its own virtual environment, created from its pinned requirements and
cached under ~/.cache/quinto/bench-venvs/<tool>-<hash> (QUINTO_BENCH_VENVS overrides the folder).
The hash covers the requirements file and the Python version, so a changed pin makes a new venv and
a rerun with the same pins reuses the old one."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIREMENTS = {
    "gx": HERE / "requirements-gx.txt",
    "soda": HERE / "requirements-soda.txt",
    # Trino and the Spark Thrift Server: the same tool versions plus the engines' clients
    # (soda-core-trino, soda-core-spark with pyhive over pure-sasl; GX through trino's and pyhive's
    # SQLAlchemy dialects), in venvs of their own so the DuckDB/PostgreSQL pins stay as measured.
    "gx-engines": HERE / "requirements-gx-engines.txt",
    "soda-engines": HERE / "requirements-soda-engines.txt",
}
JVM_ENGINES = ("trino", "spark")
# Set in every peer process: no usage statistics sent anywhere while we measure.
SODA_CONFIG = "send_anonymous_usage_stats: false\n"


class VenvError(RuntimeError):
    pass


def variant(tool: str, engine: str) -> str:
    """The venv TOOL runs from on ENGINE: `gx`/`soda`, or `gx-engines`/`soda-engines` on Trino and Spark."""
    return f"{tool}-engines" if engine in JVM_ENGINES else tool


def cache_root() -> Path:
    return Path(os.environ.get("QUINTO_BENCH_VENVS", "~/.cache/quinto/bench-venvs")).expanduser()


def venv_dir(tool: str) -> Path:
    req = REQUIREMENTS[tool].read_bytes()
    key = hashlib.sha256(req + f"{sys.version_info[0]}.{sys.version_info[1]}".encode()).hexdigest()[:12]
    return cache_root() / f"{tool}-{key}"


def ensure(tool: str, log: bool = True) -> Path:
    """The Python executable of TOOL's venv, created (once, under a lock) when missing."""
    target = venv_dir(tool)
    python = target / "bin" / "python"
    done = target / ".complete"
    if done.exists():
        return python
    cache_root().mkdir(parents=True, exist_ok=True)
    with open(cache_root() / f"{tool}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return python
        shutil.rmtree(target, ignore_errors=True)
        if log:
            print(f"# creating the {tool} venv in {target} ...", file=sys.stderr, flush=True)
        base = getattr(sys, "_base_executable", sys.executable)
        for cmd in (
            [base, "-m", "venv", str(target)],
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(REQUIREMENTS[tool])],
        ):
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                shutil.rmtree(target, ignore_errors=True)
                raise VenvError(f"{tool} venv: {' '.join(cmd[:4])} failed: {proc.stderr.strip()[-2000:]}")
        home = target / "home" / ".soda"
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.yml").write_text(SODA_CONFIG, encoding="utf-8")
        done.touch()
    return python


def peer_env(tool: str) -> dict[str, str]:
    """Environment of a peer's process: its own HOME (Soda reads ~/.soda/config.yml there), GX
    analytics off."""
    env = {"GX_ANALYTICS_ENABLED": "false"}
    if tool.startswith("soda"):
        env["HOME"] = str(venv_dir(tool) / "home")
    return env
