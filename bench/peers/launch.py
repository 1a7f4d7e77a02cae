"""Runs one command and writes its wall time, peak RSS and exit code to a JSON file.

    python -S launch.py REPORT.json COMMAND [ARG ...]

The bench starts every measured process through this small launcher rather than directly: Linux
counts the memory of the process that forks (and, with vfork, the one whose memory is borrowed) in
the child's peak RSS until `exec`, so a child of the bench driver itself, which has DuckDB and
psycopg loaded, would never report less than the driver's size. Forked from this launcher
(about 9 MiB under `python -S`), the command's peak RSS is its own, with that small floor.
"""

import json
import os
import sys
import time


def main() -> None:
    report, argv = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    with open(report, "w", encoding="utf-8") as f:
        json.dump({"wall_s": wall, "maxrss_kib": usage.ru_maxrss, "exit": os.waitstatus_to_exitcode(status)}, f)


if __name__ == "__main__":
    main()
