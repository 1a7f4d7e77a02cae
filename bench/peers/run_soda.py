"""The 12 checks as a SodaCL file (soda_checks.yml) run by Soda Core 3.x; run inside the Soda
virtual environment.

    python run_soda.py ENGINE URL SCOPE     SCOPE: a ds value or `*` (whole table)
Prints {scope: {check: passed}} as JSON. Freshness is measured from the variable NOW, set to the
partition's end (or left to Soda's scan time for the whole table).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

from soda.scan import Scan
from suite import WHOLE, reference_time

HERE = Path(__file__).resolve().parent


def data_source(engine: str, url: str) -> str:
    if engine == "duckdb":
        return f"data_source warehouse:\n  type: duckdb\n  path: {url.removeprefix('duckdb:///')}\n  read_only: true\n"
    u = urlsplit(url)
    if engine == "trino":  # soda-core-trino; URL trino://user@host:port/catalog
        return (
            "data_source warehouse:\n  type: trino\n"
            f"  host: {u.hostname}\n  port: {u.port}\n  http_scheme: http\n  auth_type: NoAuthentication\n"
            f"  username: {u.username}\n  catalog: {u.path.strip('/')}\n  schema: bench\n"
        )
    if engine == "spark":  # soda-core-spark, method hive (pyhive over the binary Thrift transport)
        return (
            "data_source warehouse:\n  type: spark\n  method: hive\n  scheme: binary\n"
            f"  host: {u.hostname}\n  port: {u.port}\n  username: {u.username}\n"
            "  catalog: bench\n  database: bench\n  schema: bench\n"
        )
    return (
        "data_source warehouse:\n  type: postgres\n"
        f"  host: {u.hostname}\n  port: '{u.port or 5432}'\n  username: {u.username}\n"
        f"  password: {u.password or ''}\n  database: {u.path.lstrip('/')}\n  schema: bench\n"
    )


def main() -> None:
    engine, url, scope = sys.argv[1:4]
    checks = (HERE / "soda_checks.yml").read_text(encoding="utf-8")
    if scope == WHOLE:
        checks = re.sub(r"filter events \[partition\]:\n.*\n\n", "", checks).replace(" [partition]", "")
    if engine == "duckdb":  # Soda names DuckDB tables without a schema
        checks = checks.replace("for events", "for bench.events").replace("filter events", "filter bench.events")
    scan = Scan()
    scan.set_data_source_name("warehouse")
    scan.set_scan_definition_name("bench")
    scan.add_configuration_yaml_str(data_source(engine, url))
    if scope != WHOLE:
        scan.add_variables({"DS": scope, "NOW": reference_time(scope).isoformat()})
    scan.add_sodacl_yaml_str(checks)
    scan.execute()
    results = scan.get_scan_results()
    if results.get("hasErrors"):
        sys.exit(scan.get_logs_text())
    passed = {c["name"]: c["outcome"] == "pass" for c in results["checks"]}
    print(json.dumps({scope: passed}))


if __name__ == "__main__":
    main()
