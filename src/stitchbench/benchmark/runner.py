"""Run a suite into a results directory: build or reuse the zoo and stitch sets, run the jobs, write the
tables, indicators, claims check and report. Reruns resume: finished jobs are skipped, and a finished
directory is left untouched."""

import logging
import platform
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stitchbench.artifacts import default_cache_dir, versions
from stitchbench.errors import InputError
from stitchbench.results import RunDir, write_outputs
from stitchbench.results.store import write_parquet

from .executors import run_jobs
from .suite import Job, Suite, expand
from .workspace import JobResult, Workspace

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    path: Path
    ran: int
    failed: int
    skipped: bool
    timings: dict


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def problem_meta(job: Job, problem) -> dict:
    return {
        "scenario": job.scenario.name,
        "zoo_seed": job.zoo_seed,
        "family": job.family,
        "host": job.problem_params.get("host"),
        "objectives": [o.name for o in problem.objectives],
        "parties": problem.parties(),
        "maximize": [bool(m) for m in problem.maximize],
        "reference_point": [float(r) for r in problem.reference_point()],
        "metric": problem.zoo.scenario.metric,
        "variables": problem.describe()["variables"],
    }


def reference_tables(jobs: list[Job], ws: Workspace) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Problem metadata, baselines and exact fronts of every problem instance (val and test)."""
    metas, base_rows, exact_rows = {}, [], []
    for job in jobs:
        if job.problem_id in metas:
            continue
        problem = ws.problem(job)
        metas[job.problem_id] = problem_meta(job, problem)
        for split in ("val", "test"):
            for name, vec in problem.baselines(split).items():
                base_rows += [
                    (job.problem_id, split, name, o.name, float(v))
                    for o, v in zip(problem.objectives, vec, strict=True)
                ]
            front = problem.exact_front(split)
            if front is not None:
                exact_rows += [
                    (job.problem_id, split, i, o.name, float(v))
                    for i, f in enumerate(front)
                    for o, v in zip(problem.objectives, f, strict=True)
                ]
    cols = ["problem", "split", "baseline", "objective", "value"]
    return (
        metas,
        pd.DataFrame(base_rows, columns=cols),
        pd.DataFrame(exact_rows, columns=["problem", "split", "point", "objective", "value"]),
    )


def check_writable(path: Path) -> None:
    """Fail early, with the reason, when results cannot be written to `path`."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise InputError(f"cannot write results to {path}: {e.strerror or e}") from e


def run_suite(
    suite: Suite,
    out: Path,
    executor: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    cache_dir: Path | None = None,
    quiet: bool = False,
) -> RunOutcome:
    jobs = expand(suite)
    run = RunDir(out)
    manifest = run.manifest()
    if manifest is not None:
        if manifest.get("suite_key") != suite.key:
            raise InputError(
                f"{out} holds a run of another suite ({manifest['suite'].get('name')!r}, a different "
                "configuration); choose another --out"
            )
        if manifest.get("status") == "complete":
            return RunOutcome(run.path, 0, 0, True, manifest.get("timings", {}))
    check_writable(run.path)
    run.clean_temporary()
    executor = executor or suite.executor
    workers = workers or suite.workers
    cache = Path(cache_dir or default_cache_dir())
    manifest = manifest or {
        "suite": suite.model_dump(),
        "suite_key": suite.key,
        "jobs": {j.id: {"status": "pending"} for j in jobs},
    }
    manifest |= {
        "status": "running",
        "started": now(),
        "versions": versions(),
        "git_commit": git_commit(),
        "host": platform.node(),
        "executor": executor,
        "workers": workers,
        "cache": str(cache),
    }
    run.save_manifest(manifest)
    timings: dict[str, float] = {}
    ws = Workspace(cache)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, disable=quiet, transient=False) as progress:
        t = time.perf_counter()
        n_models = len({(j.scenario.model_dump_json(), j.zoo_seed) for j in jobs})
        zbar = progress.add_task("zoo", total=n_models)
        for j in jobs:
            ws.zoo(j.scenario, j.zoo, j.zoo_seed)
            progress.update(zbar, completed=len(ws.zoos))
        timings["zoo"] = time.perf_counter() - t
        t = time.perf_counter()
        sbar = progress.add_task("problems and stitch sets", total=len({j.problem_id for j in jobs}))
        for j in jobs:
            ws.problem(j)
            progress.update(sbar, completed=len(ws.problems))
        metas, baselines, exact = reference_tables(jobs, ws)
        manifest["problems"] = metas
        write_parquet(run.file("baselines.parquet"), baselines)
        write_parquet(run.file("exact_fronts.parquet"), exact)
        timings["stitch_training_and_baselines"] = time.perf_counter() - t

        t = time.perf_counter()
        todo = [j for j in jobs if manifest["jobs"][j.id]["status"] == "pending"]
        jbar = progress.add_task("jobs", total=len(jobs), completed=len(jobs) - len(todo))

        def record(result: JobResult) -> None:
            run.save_job(result.job_id, result.evaluations, result.front)
            manifest["jobs"][result.job_id] = {
                "status": result.status,
                "error": result.error,
                "seconds": round(result.seconds, 3),
                "evaluations": len(result.evaluations),
            }
            run.save_manifest(manifest)
            progress.advance(jbar)

        run_jobs(executor, todo, ws, workers, address, record, run.path)
        timings["search"] = time.perf_counter() - t
        t = time.perf_counter()
        write_outputs(run, [j.id for j in jobs], metas, baselines, exact)
        timings["report"] = time.perf_counter() - t
    failed = sum(1 for s in manifest["jobs"].values() if s["status"] != "done")
    manifest |= {"status": "complete", "ended": now(), "timings": {k: round(v, 2) for k, v in timings.items()}}
    run.save_manifest(manifest)
    return RunOutcome(run.path, len(todo), failed, False, manifest["timings"])
