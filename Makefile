# Storefront commerce API: every entry point a developer or CI needs.
SHELL := /bin/bash
PY_BOOT ?= python3
VENV := .venv
UV := .uv/bin/uv
PY := $(VENV)/bin/python
MANAGE := cd backend && ../$(PY) manage.py
export DJANGO_SETTINGS_MODULE ?= config.settings.dev

DATABASE_URL_UP ?= postgres://postgres@127.0.0.1:5432/storefront
REDIS_URL_UP ?= redis://127.0.0.1:6379/0

.PHONY: help install system-packages schema-lint run migrate seed test check lint format typecheck unit integration up lock bench bench-smoke schema clean

help:
	@grep -E '^[a-z-]+:.*?## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(UV):
	$(PY_BOOT) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv==0.13.8

$(VENV)/.installed: $(UV) requirements.lock
	[ -x $(PY) ] || $(UV) venv --quiet --python $(PY_BOOT) $(VENV)
	VIRTUAL_ENV=$(VENV) $(UV) pip sync --quiet requirements.lock
	touch $@

install: $(VENV)/.installed ## create .venv and install the locked dependencies

# Debian packages the tests and the benchmark run, as command:package. As root they are
# installed when missing; otherwise the missing ones are named, and under CI (CI set)
# that is a failure, never a skip.
SYSTEM_PACKAGES := chromium:chromium wrk:wrk promtool:prometheus docker-compose:docker-compose
# Installed without their recommended packages (prometheus would bring node-exporter, a daemon).
SYSTEM_PACKAGES_BARE := prometheus

system-packages: ## Debian's chromium, wrk, prometheus (promtool), docker-compose: installed if missing (as root)
	@missing=""; for pair in $(SYSTEM_PACKAGES); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq || exit 1; \
	  for pkg in $$missing; do \
	    case " $(SYSTEM_PACKAGES_BARE) " in *" $$pkg "*) opts=--no-install-recommends;; *) opts=;; esac; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$opts "$$pkg" >/dev/null || exit 1; \
	  done; \
	  missing=""; for pair in $(SYSTEM_PACKAGES); do \
	    command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	  done; \
	fi; \
	if [ -n "$$missing" ]; then \
	  echo "missing Debian packages:$$missing (as root: apt-get install$$missing)"; \
	  if [ -n "$$CI" ]; then echo "CI is set: a missing tool is a failure"; exit 1; fi; \
	fi

migrate: install
	$(MANAGE) migrate --noinput

run: migrate ## embedded default: SQLite, eager tasks, demo data, serve on 127.0.0.1:8000
	$(MANAGE) seed_demo
	$(MANAGE) runserver 127.0.0.1:8000

test: install system-packages check schema-lint unit integration ## lint, types, schema lint, unit and integration tests

check: lint typecheck

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: install
	$(VENV)/bin/mypy backend

unit: install ## unit tests beside each app (SQLite, fakeredis, eager Celery)
	DJANGO_SETTINGS_MODULE=config.settings.test $(VENV)/bin/pytest backend -q -n 2 -p xdist

integration: install ## tests/ on real PostgreSQL + Redis + a real Celery worker
	DJANGO_SETTINGS_MODULE=config.settings.integration $(VENV)/bin/pytest tests -q

up: install ## full stack natively: gunicorn + worker + beat on PostgreSQL and Redis
	export DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_UP)} REDIS_URL=$${REDIS_URL:-$(REDIS_URL_UP)} \
	  DJANGO_SETTINGS_MODULE=config.settings.dev CELERY_TASK_ALWAYS_EAGER=false DEBUG=false; \
	(cd backend && ../$(PY) manage.py ensure_database) && \
	(cd backend && ../$(PY) manage.py collectstatic --noinput -v0) && \
	rm -rf "$${PROMETHEUS_MULTIPROC_DIR:-/tmp/storefront-prometheus}" && \
	mkdir -p "$${PROMETHEUS_MULTIPROC_DIR:-/tmp/storefront-prometheus}" && \
	$(VENV)/bin/honcho start -f Procfile

schema: install ## write and validate the OpenAPI document
	$(MANAGE) spectacular --validate --fail-on-warn --file ../openapi.yaml

REDOCLY_DIR := tools/redocly
REDOCLY := $(REDOCLY_DIR)/node_modules/.bin/redocly

$(REDOCLY): $(REDOCLY_DIR)/package-lock.json
	npm ci --prefix $(REDOCLY_DIR) --silent --no-audit --no-fund
	touch $@

schema-lint: schema ## Redocly's lint of openapi.yaml (Node.js and npm; the CLI is pinned in tools/redocly)
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "schema-lint: npm is not installed (Node.js >= 20.19)"; \
	  if [ -n "$$CI" ]; then exit 1; fi; exit 0; \
	fi; \
	$(MAKE) --no-print-directory $(REDOCLY) && \
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
	  $(REDOCLY) lint openapi.yaml --config $(REDOCLY_DIR)/redocly.yaml --format=summary

lock: $(UV) ## re-resolve requirements.lock (and its runtime part, requirements-prod.lock) from pyproject.toml
	$(UV) pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock --quiet
	$(UV) pip compile pyproject.toml --constraint requirements.lock --generate-hashes --python-version 3.11 -o requirements-prod.lock --quiet

clean:
	rm -rf $(VENV) .uv backend/db.sqlite3*

bench: install system-packages ## benchmark on PostgreSQL + Redis + wrk (minutes): writes bench/RESULTS.md
	$(PY) bench/run.py

bench-smoke: install system-packages ## ~2 s of every benchmark scenario (CI): bench/out/RESULTS-smoke.md
	$(PY) bench/run.py --smoke
