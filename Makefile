# Quinto: `make demo` runs the demo end to end; `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install demo test engines engines-stop lint bench image clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Builds a DuckDB warehouse with known defects, audits every partition into SQLite, serves the UI.
demo: install
	$(BIN)/quinto demo

# Starts throw-away PostgreSQL and MariaDB servers on 127.0.0.1 (installing them from apt if needed)
# and runs pytest. The Spark Thrift, Trino and Presto servers are started first unless running
# (scripts/engines/ensure.sh: downloaded once, left running for the next run; QUINTO_ENGINES=0 starts none).
test: install
	@scripts/engines/ensure.sh
	@url=$$(scripts/pg.sh start) || { echo "PostgreSQL could not be started; its tests will skip" >&2; url=""; }; \
	myurl=$$(scripts/mariadb.sh start) || { echo "MariaDB could not be started; its tests will skip" >&2; myurl=""; }; \
	QUINTO_TEST_PG_URL="$$url" QUINTO_TEST_MYSQL_URL="$$myurl" $(BIN)/pytest $(PYTEST_ARGS)

# Real Spark Thrift (Hive), Trino and Presto servers on 127.0.0.1, downloaded once into ~/.cache/quinto;
# `make test` starts them too, and runs the engine tests against them (they skip, with the reason, when a
# server cannot be had).
engines:
	scripts/engines/spark-thrift.sh start
	scripts/engines/trino.sh start
	scripts/engines/presto.sh start

engines-stop:
	-scripts/engines/presto.sh stop
	-scripts/engines/trino.sh stop
	-scripts/engines/spark-thrift.sh stop

# The container image (deploy/Containerfile) on a Debian bookworm base made by mmdebstrap (cached in
# ~/.cache/quinto), built with buildah and smoke-tested inside: demo, validate, scheduler, web pages.
image:
	scripts/image.sh

lint: install
	$(BIN)/ruff check quinto web tests bench
	$(BIN)/mypy quinto web

bench: install
	$(BIN)/python bench/core_scan.py
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/via.py
	$(BIN)/python bench/backfill.py
	$(BIN)/python bench/backfill_year.py
	$(BIN)/python bench/verdict_quality.py
	$(BIN)/python bench/compare.py
	$(BIN)/python bench/web_pages.py
	$(BIN)/python bench/web_pages.py --stores sqlite --tables 1 --partitions 3650 --checks 12 --daily
	$(BIN)/python bench/scale.py --tables 100,500,1000
	$(BIN)/python bench/store_growth.py --tables 20 --days 90

clean:
	rm -rf $(VENV) .quinto-demo .pytest_cache
