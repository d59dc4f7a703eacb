# DRS Fleet Sync: every target installs what it needs into project-local venvs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Lambda runs python3.12: use it for the venv when this machine has it (pyenv or PATH), else python3.
PYTHON ?= $(shell for p in $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do \
             [ -x "$$p" ] && "$$p" -V >/dev/null 2>&1 && { echo "$$p"; exit; }; done; echo python3)
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
PYTEST_WORKERS ?= 2
# Each holds tests with its own conftest and sibling imports: mypy checks them one folder at a time.
TEST_DIRS := tests/api tests/unit/layer tests/unit/console tests/sandbox tests/unit/template tests/workflows tests/console

.PHONY: help venv demo console check test lint typecheck complexity fast-tests other-tests browser-tests security \
        template-checks bench bench-scale chaos clean

help:
	@echo "make demo   run the inventory sync (and every other sync) on the offline sandbox"
	@echo "make console  the demo's runs in the sandbox console: http://127.0.0.1:5055/console/ (Ctrl-C stops)"
	@echo "make check  the fast gate (under 2 min): ruff, mypy, complexity and size, the fast tests (layer, template, simulator)"
	@echo "make test   make check, bandit, cfn-lint, sam validate --lint, checkov and the rest of pytest (sandbox, API, workflows, browser)"
	@echo "make bench  benchmarks, printed side by side"
	@echo "make bench-scale  discovery runs at 1k and 3k work items (BENCH_SCALE_SIZES), then docs/scale.md"
	@echo "make chaos  the chaos property with many random fault schedules (CHAOS_EXAMPLES, default 25)"

$(VENV)/.stamp: requirements-dev.txt functions/shared/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

$(SAM_VENV)/.stamp: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q --upgrade pip
	$(SAM_VENV)/bin/python -m pip install -q -r requirements-sam.txt
	touch $@

# checkov pins its own boto3/botocore: like SAM CLI it gets a venv of its own (one-time install, about 35 s).
$(CHECKOV_VENV)/.stamp: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install -q -r requirements-checkov.txt
	touch $@

venv: $(VENV)/.stamp

demo: $(VENV)/.stamp
	$(VENV)/bin/drs-fleet-sync sandbox demo

# serve on the demo fleet with the demo's executions already run (docs/console.md)
console: $(VENV)/.stamp
	$(VENV)/bin/drs-fleet-sync sandbox serve --demo

# ruff's rules include the complexity gate (C901, PLR0912/0913/0915: see pyproject.toml).
lint: $(VENV)/.stamp
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# [tool.mypy] in pyproject.toml: strict on the layer, lighter on the sandbox and the tests.
typecheck: $(VENV)/.stamp
	$(VENV)/bin/mypy
	for d in $(TEST_DIRS); do $(VENV)/bin/mypy --follow-imports=silent $$d || exit 1; done

# Lines per function and per module ([tool.size-gate]); ruff (lint) checks the rest of the gate.
complexity: $(VENV)/.stamp
	$(PY) .ci/size_gate.py

# The tiers are given by path in tests/conftest.py.
fast-tests: $(VENV)/.stamp
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) -m fast

other-tests: $(VENV)/.stamp
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) -m "not fast" --ignore=tests/console

# The console in headless Chromium (Debian's chromium and chromedriver, installed here when missing: browsers
# downloaded by test tools are not reachable offline). Screenshots land in build/console-screenshots.
CHROMIUM ?= $(shell command -v chromium || echo /usr/bin/chromium)
CHROMEDRIVER ?= $(shell command -v chromedriver || echo /usr/bin/chromedriver)
browser-tests: $(VENV)/.stamp
	@if [ ! -x "$(CHROMIUM)" ] || [ ! -x "$(CHROMEDRIVER)" ]; then \
	    if [ "$$(id -u)" != 0 ]; then echo "browser-tests need chromium and chromium-driver (apt-get install as root)"; exit 1; fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver; \
	fi
	CONSOLE_CHROMIUM=$(CHROMIUM) CONSOLE_CHROMEDRIVER=$(CHROMEDRIVER) $(PY) -m pytest -q -n 0 tests/console

check: lint typecheck complexity fast-tests

# bandit: suppressions are `# nosec BXXX  # reason` lines and the [tool.bandit] skips in pyproject.toml.
security: $(VENV)/.stamp
	$(VENV)/bin/bandit -r functions sandbox -c pyproject.toml -q

# checkov reads .checkov.yaml (files, and each skipped check with its reason); BC_SKIP_MAPPING keeps it offline.
template-checks: $(VENV)/.stamp $(SAM_VENV)/.stamp $(CHECKOV_VENV)/.stamp
	$(VENV)/bin/cfn-lint template.yaml templates/*.yaml
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml --region $(AWS_DEFAULT_REGION)
	$(PY) -m sandbox.stack expand template.yaml build/template.expanded.json
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

# The three venvs install side by side first (about 40 s on a clean clone instead of 75 s one after another).
# The checks then run one after another: beside the sandbox tests, which keep both cores busy, the static
# checks saved no time.
test:
	$(MAKE) -j3 $(VENV)/.stamp $(SAM_VENV)/.stamp $(CHECKOV_VENV)/.stamp
	$(MAKE) check security template-checks other-tests browser-tests

bench: $(VENV)/.stamp
	$(PY) -m bench

# Not in make test: each size is one discovery execution in a process of its own (minutes per thousand items);
# then Update region status alone at 1k and 10k pairs. BENCH_SCALE_SIZES="1000 3000 10000" adds 10k items.
BENCH_SCALE_SIZES ?= 1000 3000
bench-scale: $(VENV)/.stamp
	BENCH_SCALE_SIZES="$(BENCH_SCALE_SIZES)" BENCH_REGION_STATUS_PAIRS="1000 10000" $(PY) -m bench.scale

# `make test` runs tests/workflows/test_chaos.py with a fixed seed and few examples; this runs new ones.
CHAOS_EXAMPLES ?= 25
chaos: $(VENV)/.stamp
	CHAOS_RANDOM=1 CHAOS_EXAMPLES=$(CHAOS_EXAMPLES) $(PY) -m pytest -q -n 0 tests/workflows/test_chaos.py

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis .aws-sam
