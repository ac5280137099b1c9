# Every target creates its virtualenv if missing and installs the tested set (constraints.txt) first.
# .venv: everything (the torch builders, Ray, the dev tools, the example plugin);
# .venv-core: `pip install stitchbench` without extras (no torch), where the core's tests run.
# pip byte-compiles at install (no --no-compile): where PYTHONDONTWRITEBYTECODE is set, as on CI, nothing would
# ever cache the compiled modules, and every process would compile torch again (the tests took 40% longer).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
CORE := .venv-core
CORE_STAMP := $(CORE)/.installed-stamp
WORKERS ?= 2

# what a GPU image with torch lacks (benchmarks/gpu_check.sh installs those it does lack; docs/gpu.md)
GPU_WHEELS := pymoo optuna moocore pydantic sqlalchemy mlxtend nibabel nilearn pytest

.PHONY: install demo test test-core bench lint clean gpu-wheels

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt tests/plugin_example/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[torch,dev,ray]' -e tests/plugin_example
	touch $(STAMP)

$(CORE_STAMP): pyproject.toml constraints.txt
	test -x $(CORE)/bin/python || $(PYTHON) -m venv $(CORE)
	$(CORE)/bin/python -m pip install -q -c constraints.txt -e '.[test]'
	! $(CORE)/bin/python -c "import torch" 2>/dev/null  # the core install must not pull torch
	touch $(CORE_STAMP)

demo: $(STAMP)
	$(VENV)/bin/stitchbench run quick --out runs/quick

# tests/core ran in test-core, torch-free; of it only what needs torch (the builders' public names) runs again here
FULL_TESTS := $(wildcard tests/test_*.py) tests/core/test_boundary.py

test:
	$(MAKE) $(CORE_STAMP)  # first alone: an editable install writes the package's metadata into src/
	$(MAKE) -j2 $(STAMP) test-core  # the full install beside the torch-free core's tests
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n $(WORKERS) --dist worksteal -q $(FULL_TESTS)

test-core: $(CORE_STAMP)
	$(CORE)/bin/python -m pytest -n $(WORKERS) --dist worksteal -q -p no:cacheprovider tests/core

bench: $(STAMP)
	$(PY) -m pytest benchmarks -p no:xdist -s --benchmark-only --benchmark-columns=min,mean,rounds --benchmark-json=.benchmarks/latest.json -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/lint-imports

gpu-wheels: $(STAMP)  # cp312 manylinux wheels (and their dependencies) for benchmarks/gpu_check.sh, and stitchbench's
	rm -rf gpu-wheels
	$(PY) -m pip download -q -c constraints.txt --only-binary=:all: --python-version 3.12 \
		--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d gpu-wheels $(GPU_WHEELS)
	$(PY) -m pip wheel -q --no-deps -w gpu-wheels .

clean:
	rm -rf $(VENV) $(CORE) .pytest_cache .ruff_cache runs gpu-wheels
