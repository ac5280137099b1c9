"""Import time of each torch-free core package, in a fresh interpreter, as a ratio to a bare interpreter's
start (both measured in this run)."""

import subprocess
import sys

import pytest

CORE = ("stitchbench.moo", "stitchbench.tabular", "stitchbench.solvers", "stitchbench.results")


def start(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bare_interpreter(benchmark):
    benchmark.pedantic(start, args=("pass",), rounds=5, iterations=1)


@pytest.mark.parametrize("package", CORE)
def test_import_core_package(benchmark, package):
    benchmark.pedantic(start, args=(f"import {package}",), rounds=5, iterations=1)
