"""Real servers for web tests: `quinto serve` (waitress) as a subprocess on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def quinto_serve(
    config: Path, token: str | None = None, log: Path | None = None, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """Starts `quinto serve` on a free port (with `extra_env` added to its environment) and yields
    its base URL; stops it afterwards."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("QUINTO_API_TOKEN", "QUINTO_API_TOKENS", "QUINTO_API_TOKENS_FILE"):
        env.pop(name, None)
    if token:
        env["QUINTO_API_TOKEN"] = token
    env.update(extra_env or {})
    out = open(log or os.devnull, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "quinto.cli", "serve", "-c", str(config), "--port", str(port)],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(300):  # waits for the port, up to ~30 s on a loaded machine
            if proc.poll() is not None:
                raise RuntimeError(f"quinto serve exited with {proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("quinto serve did not listen")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        out.close()
