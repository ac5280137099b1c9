# Every target creates .venv if missing and installs the tested set (constraints.txt) first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
WORKERS ?= 2

.PHONY: install demo test bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt tests/plugin_example/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[dev,ray]' -e tests/plugin_example
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/stitchbench run quick --out runs/quick

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -n $(WORKERS) --dist loadgroup -q

bench: $(STAMP)
	$(PY) -m pytest benchmarks -p no:xdist -s --benchmark-only --benchmark-columns=min,mean,rounds --benchmark-json=.benchmarks/latest.json -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache runs
