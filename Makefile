# Two commands: `make run` (serve the demo) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi

.PHONY: run test install install-test migrate demo lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

migrate: install
	$(BIN)/flask db upgrade

demo: migrate
	$(BIN)/flask demo --port $(PORT)

# gunicorn and the job worker together (deploy/run.sh); Ctrl-C stops both.
run: demo
	@echo "Majlis on http://127.0.0.1:$(PORT)  (API: /api/v1/openapi.json, dashboard: /dashboard/; jobs: flask worker)"
	MAJLIS_BIND=127.0.0.1:$(PORT) MAJLIS_PUBLIC_URL=$${MAJLIS_PUBLIC_URL:-http://127.0.0.1:$(PORT)} MAJLIS_BIN=$(BIN) deploy/run.sh

# TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test make test  runs it on PostgreSQL.
# PYTEST_ARGS="-m 'not production'" make test  leaves out the production stack (tests/production).
test: install-test lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) instance .pytest_cache
