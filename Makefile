# Sinergi: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
PORT ?= 5000
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint worker beat bench bench-smoke bench-notifications bench-dashboard bench-import install translations clean help

help:
	@echo "make run    - install, migrate, load demo data (first start) and serve http://127.0.0.1:$(PORT)"
	@echo "make test   - install test tools and run lint + the test suite (SQLite; PostgreSQL/Redis when TEST_* set)"
	@echo "make worker - Celery worker (needs REDIS_URL)      make beat - Celery beat (one per deployment)"
	@echo "make bench  - page timings at 10k/100k/1M cases on PostgreSQL + Redis under gunicorn (docs/performance.md)"
	@echo "make bench-smoke - the same at 10k cases, a few requests per page (also a PostgreSQL test)"
	@echo "make bench-notifications - notification throughput through Celery + Redis vs a no-op task"
	@echo "make bench-import - DTSEN import (100k households) vs a bare COPY, and search at 1 M persons (needs PostgreSQL)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(STAMP) translations

translations: $(STAMP)
	@$(BIN)/pybabel -q compile -d caseapp/translations

run: install
	$(FLASK) db upgrade
	@if [ ! -f instance/.demo-loaded ]; then $(FLASK) demo load && touch instance/.demo-loaded; fi
	@echo "Sinergi: http://127.0.0.1:$(PORT)  (demo users: see README.md)"
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

lint: $(TEST_STAMP)
	$(BIN)/ruff check caseapp workers tests config.py wsgi.py
	$(BIN)/lint-imports
	$(BIN)/bandit -q -r caseapp workers config.py wsgi.py --severity-level medium

test: $(TEST_STAMP) translations lint
	@echo "== test suite on SQLite =="
	env -u TEST_POSTGRES_URL $(BIN)/python -m pytest
	@if [ -n "$$TEST_POSTGRES_URL" ]; then \
		echo "== again on PostgreSQL ($$TEST_POSTGRES_URL) with Redis ($$TEST_REDIS_URL) =="; \
		$(BIN)/python -m pytest; \
	fi

worker: install
	$(BIN)/celery -A workers.celery_app worker --queues default,notifications --loglevel INFO

beat: install
	$(BIN)/celery -A workers.celery_app beat --loglevel INFO

# Not part of `make test` (a smoke run of it is). Page timings at 10,000 / 100,000 / 1,000,000 cases:
# databases sinergi_bench_<size> on BENCH_POSTGRES_URL's server (created, bulk-loaded, reused), Redis
# BENCH_REDIS_URL (default db 13), gunicorn on 127.0.0.1. Writes bench/results.json and docs/performance.md.
bench: $(TEST_STAMP) translations
	$(BIN)/python bench/pages.py

bench-smoke: $(TEST_STAMP) translations
	$(BIN)/python bench/pages.py --sizes 10k --requests 10 --no-load-test --no-docs --output /tmp/sinergi-bench-smoke.json

# Starts its own redis-server, SMTP server and worker; needs PostgreSQL (BENCH_POSTGRES_URL, default the
# local server). Writes bench/results-notifications.json.
bench-notifications: $(TEST_STAMP) translations
	$(BIN)/python bench/notifications.py

# DTSEN import vs a bare COPY of the same file, stage times, peak RSS; NIK and misspelt-name search
# at 1 M persons (BENCH_POSTGRES_URL; BENCH_HOUSEHOLDS, BENCH_PERSONS). Writes bench/results-import.json.
bench-import: $(TEST_STAMP) translations
	$(BIN)/python bench/import.py

# Dashboard statements and request on whatever the configured database holds (issue #6).
bench-dashboard: $(TEST_STAMP) translations
	$(BIN)/python bench/dashboard.py

clean:
	rm -rf $(VENV) instance/sinergi.db instance/.demo-loaded *.egg-info
