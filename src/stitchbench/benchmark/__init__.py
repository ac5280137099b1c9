"""Running suites (the builders' top, torch): a suite file validated up front (`load_suite`), expanded into
jobs (`expand`), and run into a results directory (`run_suite`), resumably, on a local, process or Ray
executor. `stitchbench run` is the same from the command line."""

from ._runner import RunOutcome, run_suite
from ._suite import Job, Suite, expand, load_suite

__all__ = ["Job", "RunOutcome", "Suite", "expand", "load_suite", "run_suite"]
