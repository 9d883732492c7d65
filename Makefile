# Two commands on a fresh machine: `make run` (the platform with demo data) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-unit lint worker bench system-deps assets clean

$(VENV)/.installed: setup.cfg constraints.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

# The designer's and agents' diagram viewer (bpmn-js) and the browser tests' driver come from npm.
node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || { export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q && apt-get install -y -q nodejs npm; }
	npm ci --no-audit --no-fund --loglevel=error

assets: node_modules/.package-lock.json

run: $(VENV)/.installed assets
	FLOWDESK_DEMO=1 $(FLASK) db upgrade
	FLOWDESK_DEMO=1 $(FLASK) flowdesk seed-demo
	FLOWDESK_DEMO=1 $(FLASK) flowdesk serve --host $(HOST) --port $(PORT)

# Real servers for the integration tests (OpenLDAP's slapd for directory sign-in), Chromium (and
# CJK fonts) for the browser tests.
SYSTEM_PACKAGES := redis-server postgresql slapd ldap-utils chromium fonts-noto-cjk

system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  echo "slapd slapd/no_configuration boolean true" | debconf-set-selections; \
	  apt-get update -q && apt-get install -y -q $$missing; fi

# Every tier runs even when one fails; the summary says which failed and how long each took.
test: $(VENV)/.installed assets system-deps
	$(PY) tests/tiers.py

test-unit: $(VENV)/.installed
	$(PY) tests/tiers.py unit

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

worker: $(VENV)/.installed
	$(PY) -m workers

bench: $(VENV)/.installed
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) instance node_modules
