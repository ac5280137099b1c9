"""`stitchbench table export`: build (or reuse from the cache) an instance of a suite and write it with
`stitchbench.tabular._export`."""

import time
from pathlib import Path

from stitchbench._artifacts import default_cache_dir
from stitchbench._devices import resolve
from stitchbench.errors import InputError, unknown
from stitchbench.problems import PROBLEMS
from stitchbench.tabular._export import check_out, export_problem, not_tabular

from ._suite import expand, load_suite
from ._workspace import Workspace


def check_tabular(job) -> None:
    """Refuse, before anything is trained, a suite job whose problem is not tabular (saying what would be), or
    is a shipped table already."""
    if job.table is not None:
        raise InputError(
            f"{job.instance} is the shipped table {job.table!r} already: load it with "
            f"stitchbench.tabular.load({job.table!r}), or export the suite's problem that builds it"
        )
    reason = PROBLEMS.entry(job.family).factory.untabular_reason(job.problem_params)
    if reason is not None:
        raise not_tabular(job.instance, job.family, reason)


def export_instance(
    instance_id: str, out: Path, suite_ref: str = "quick", cache_dir: Path | None = None, device: str | None = None
):
    """Build (or reuse from the cache) the instance of a suite on `device` (default: the suite's) and export
    it; returns (manifest, seconds)."""
    start = time.perf_counter()
    suite = load_suite(suite_ref)
    jobs = {j.instance: j for j in expand(suite)}
    if instance_id not in jobs:
        raise unknown("instance", instance_id, jobs)
    job = jobs[instance_id]
    check_tabular(job)
    check_out(Path(out))
    workspace = Workspace(cache_dir or default_cache_dir(), device=resolve(device or suite.device))
    manifest = export_problem(workspace.problem(job), workspace.instance(job), Path(out))
    return manifest, time.perf_counter() - start
