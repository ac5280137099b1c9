"""Loading a shipped instance by name (issue 23: under 1 s on a torch-free install): in a fresh interpreter
with torch made unimportable, `import stitchbench.tabular` and `load(NAME)` (every sha256 verified), per
instance of the collection; and the bare interpreter's start, measured in the same run, for the ratio.
Then each instance's throughput: candidates scored per second in a batch of 1,000 uniform ones on val."""

import subprocess
import sys

import pytest

from stitchbench.tabular import load
from stitchbench.tabular._catalog import read_catalog

NO_TORCH = "import sys; sys.modules['torch'] = None; "


def start(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bare_interpreter(benchmark):
    benchmark.pedantic(start, args=("pass",), rounds=3, iterations=1)


@pytest.mark.parametrize("name", sorted(read_catalog()))
def test_load_shipped_instance_without_torch(benchmark, name):
    code = f"{NO_TORCH}from stitchbench.tabular import load; load({name!r}).evaluate"
    benchmark.pedantic(start, args=(code,), rounds=3, iterations=1)


@pytest.mark.parametrize("name", sorted(read_catalog()))
def test_shipped_instance_throughput(throughput, name):
    throughput(load(name), name)
