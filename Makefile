# The two commands of the contract: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PG_URL ?= postgres://postgres@127.0.0.1:5432/wetech
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test test-clock lint format test-sqlite test-postgres test-e2e bench bench-scale clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## make run: the site on http://127.0.0.1:8000 with the gateway simulators, demo catalogue loaded,
## and the background worker (embedded queue, emails printed to this console); Ctrl-C stops both.
run: $(VENV)/.runtime
	DEBUG=true GATEWAY_SIMULATOR=true $(PY) manage.py migrate --noinput
	DEBUG=true GATEWAY_SIMULATOR=true $(PY) manage.py seed_demo
	DEBUG=true GATEWAY_SIMULATOR=true PY=$(PY) tools/run_dev.sh

## make test: lint, the suite on SQLite, then again on PostgreSQL (+ Redis) when they answer.
## Timing-dependent drills (marker slow_drill) run in both passes; skip them locally with
## `.venv/bin/pytest -m "not e2e and not slow_drill"`. Drills whose result does not depend on the
## database (marker db_independent) run once, in the SQLite pass.
## Each pass says how long it took (tools/timed.sh), and the summary at the end lists them all.
test: $(VENV)/.dev test-clock lint test-sqlite test-e2e test-postgres
	@echo "== time per pass"; sed 's/^/   /' artifacts/test-times.txt

test-clock:
	@mkdir -p artifacts && : >artifacts/test-times.txt

## make lint: ruff (lint + format), then the import-layer contracts in pyproject.toml.
lint: $(VENV)/.dev
	@tools/timed.sh lint bash -c '$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . \
	  && $(VENV)/bin/lint-imports --no-logo'

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test-sqlite: $(VENV)/.dev
	@echo "== test suite on SQLite"
	@tools/timed.sh "SQLite pass" env -u DATABASE_URL -u REDIS_URL $(VENV)/bin/pytest -q -m "not e2e"

test-e2e: $(VENV)/.dev
	@if [ -x /usr/bin/chromium ]; then \
	  echo "== browser end-to-end tests (Chromium, SQLite)"; \
	  tools/timed.sh "browser pass" env -u DATABASE_URL -u REDIS_URL $(VENV)/bin/pytest -q wetech/tests/e2e; \
	else \
	  echo "== /usr/bin/chromium not found: browser tests skipped (.ci/run installs it)"; \
	fi

test-postgres: $(VENV)/.dev
	@if timeout 2 bash -c '</dev/tcp/127.0.0.1/5432' 2>/dev/null; then \
	  redis=""; \
	  if timeout 2 bash -c '</dev/tcp/127.0.0.1/6379' 2>/dev/null; then redis="$(REDIS_TEST_URL)"; fi; \
	  echo "== test suite on PostgreSQL$${redis:+ with Redis} (the db_independent drills ran in the SQLite pass: deselected here)"; \
	  tools/timed.sh "PostgreSQL$${redis:+ + Redis} pass" env DATABASE_URL=$(PG_URL) REDIS_URL=$$redis \
	    $(VENV)/bin/pytest -q -m "not e2e and not db_independent"; \
	else \
	  echo "== PostgreSQL does not answer on 127.0.0.1:5432: PostgreSQL pass skipped"; \
	fi

## make bench: the load benchmark against bare Django and the bare lead and settlement, then the
## worker's email throughput (not part of make test); each writes its section of bench/results.md.
bench: $(VENV)/.dev
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq wrk; }
	$(PY) bench/run.py
	$(PY) bench/email_bench.py

## make bench-scale N=200000 [LABEL=after]: seed N invoices with their history on PostgreSQL
## (SCALE_DATABASE_URL, default database wetech_scale_bench) and time every admin list, search and
## change page, the dashboard and the integrity audit; writes bench/results.md. Not part of make test.
N ?= 10000
bench-scale: $(VENV)/.dev
	$(PY) bench/scale.py --invoices $(N) $(if $(LABEL),--label "$(LABEL)")

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .hypothesis artifacts .grimp_cache .import_linter_cache
