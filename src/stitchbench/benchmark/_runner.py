"""Run a suite into a results directory in three steps: prepare (zoos, problems, stitch sets, instance
records and reference tables), run the jobs, aggregate (tables, indicators, statistics, claims, report).
The runner alone writes the manifest. Reruns resume: finished jobs are skipped, and a finished directory
is left untouched."""

import logging
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stitchbench._artifacts import default_cache_dir, versions
from stitchbench._devices import describe, gpus, resolve
from stitchbench._files import check_folder
from stitchbench.errors import InputError
from stitchbench.moo._instance import ProblemInstance
from stitchbench.results import RunDir, write_outputs, write_references
from stitchbench.tabular._load import is_shipped

from ._executors import run_jobs
from ._jobs import JobResult
from ._prepare import Prepared, builds, check_models, prepare, zoo_models
from ._suite import Suite, expand
from ._workspace import Workspace

log = logging.getLogger(__name__)
# the manifest is rewritten whole (MBs on a large run): at most this often while jobs finish, and when they stop
# (a driver killed with -9 leaves the jobs of its last seconds unrecorded: they run again on resume)
SAVE_EVERY = 2.0


@dataclass
class RunOutcome:
    path: Path
    ran: int
    failed: int
    skipped: bool
    timings: dict
    instances: dict  # instance id -> its ProblemInstance record (JSON)
    rebuilt: list[str] = field(default_factory=list)  # aggregates found damaged and rebuilt

    def not_shipped(self) -> list[str]:
        """Instances named as shipped ones (`stitchbench.tabular.catalog()`) but built from other models or
        parameters (`is_shipped`): their tables and reference fronts are not the collection's."""
        return [i for i, rec in self.instances.items() if is_shipped(ProblemInstance(**rec)) is False]

    def fronts(self) -> dict[str, list[str]]:
        """Instance ids by the kind of their reference front (exact, approximate, none), tabular ones marked."""
        out: dict[str, list[str]] = {}
        for iid, rec in self.instances.items():
            out.setdefault(rec["front"], []).append(iid + (" (tabular)" if rec.get("tabular") else ""))
        return out


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


def check_writable(path: Path) -> None:
    """Refuse, creating nothing, results folder `path` where this process cannot write: its nearest existing
    folder (itself, or the one it would be made in) on a read-only file system or not writable by this user."""
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(
            f"cannot write results to {path}: {existing} is read-only or not writable by this user; "
            "choose another --out"
        )


def run_suite(
    suite: Suite,
    out: Path,
    executor: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    cache_dir: Path | None = None,
    quiet: bool = False,
    device: str | None = None,
) -> RunOutcome:
    """Run `suite` into `out` on `device` (default: the suite's). Everything the jobs need is prepared in the
    cache before the results directory is made: a damaged cache entry is refused with nothing written there."""
    jobs = expand(suite)
    on = resolve(device or suite.device)
    cache = Path(cache_dir or default_cache_dir())
    run, manifest = check_dirs(suite, out, cache)
    if finished(run, manifest):  # nothing to write: also on a read-only mount
        return RunOutcome(run.path, 0, 0, True, manifest.get("timings", {}), manifest.get("instances", {}))
    check_unfinished(run, manifest, jobs, cache, on)
    executor = executor or suite.executor
    workers = workers or suite.workers
    ws = Workspace(cache, zoo_workers=training_workers(executor, workers, on), device=on)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, disable=quiet, transient=False) as progress:
        refs = prepared(jobs, ws, progress) if needs_jobs(run, manifest) else None
        with run.lock():
            return run_locked(suite, jobs, run, executor, workers, address, ws, refs, progress)


def check_dirs(suite: Suite, out: Path, cache: Path) -> tuple[RunDir, dict | None]:
    """The results directory and its manifest (None: no run yet), after checking (writing nothing) that it
    and the cache can be used."""
    check_folder(out, "--out")
    check_folder(cache, "--cache")
    run = RunDir(out)
    manifest = run.manifest()
    run.check_is_run_or_empty(manifest)
    run.check_folders()
    check_same_suite(run, manifest, suite)
    return run, manifest


def check_unfinished(run: RunDir, manifest: dict | None, jobs: list, cache: Path, device: torch.device) -> None:
    """What a run with work to do checks before it writes anything: its device, the cached models, and that
    it can write the results directory."""
    if needs_jobs(run, manifest):
        check_same_device(run, manifest, device)
    check_models(jobs, Workspace(cache))
    check_writable(run.path)


def check_run(suite: Suite, out: Path, cache_dir: Path | None, device: str | None = None) -> int:
    """Validate a run as `run_suite` would before it writes anything; the number of jobs."""
    jobs = expand(suite)
    on = resolve(device or suite.device)
    cache = Path(cache_dir or default_cache_dir())
    run, manifest = check_dirs(suite, out, cache)
    if not finished(run, manifest):
        check_unfinished(run, manifest, jobs, cache, on)
    return len(jobs)


def check_same_suite(run: RunDir, manifest: dict | None, suite: Suite) -> None:
    if manifest is not None and manifest.get("suite_key") != suite.key:
        raise InputError(
            f"{run.path} holds a run of another suite ({manifest['suite'].get('name')!r}, a different "
            "configuration); choose another --out"
        )


def training_workers(executor: str, workers: int, device: torch.device) -> int:
    """The processes that train models and build stitch sets and tables here, before the jobs: none but this
    one for the local executor; else one per GPU on CUDA, or as many as workers, at most one per core."""
    if executor == "local":
        return 1
    return len(gpus(device)) if device.type == "cuda" else min(workers, os.cpu_count() or 1)


def check_same_device(run: RunDir, manifest: dict | None, device: torch.device) -> None:
    """A run resumes on the kind of device it started on (a run from before devices: the CPU), so that its
    jobs' results do not mix devices."""
    recorded = (manifest or {}).get("device")
    started = recorded.get("kind") if isinstance(recorded, dict) else "cpu"
    if manifest is not None and started != device.type:
        raise InputError(
            f"{run.path} holds a run started on {started}, not {device.type}; resume it with --device {started}, "
            "or choose another --out"
        )


def finished(run: RunDir, manifest: dict | None) -> bool:
    """A complete run whose recorded files (job files, references, aggregates) are all intact."""
    return (
        manifest is not None
        and manifest.get("status") == "complete"
        and not run.damaged_files(manifest)
        and not run.damaged_aggregates(manifest)
    )


def reset_damaged(run: RunDir, manifest: dict) -> bool:
    """Mark finished jobs whose files are missing or changed as pending (they run again); True if any
    recorded file was damaged."""
    bad = set(run.damaged_files(manifest))
    for job, state in manifest["jobs"].items():
        if state["status"] == "done" and bad & set(state.get("files", {})):
            log.warning("job %s: its files changed since they were written; running it again", job)
            manifest["jobs"][job] = {"status": "pending", "instance": state.get("instance")}
    return bool(bad)


def needs_jobs(run: RunDir, manifest: dict | None) -> bool:
    """Whether jobs run (and so are prepared): for all but a complete run whose job files are intact (its
    damaged aggregates, if any, are rebuilt from them)."""
    return manifest is None or manifest.get("status") != "complete" or bool(run.damaged_files(manifest))


def prepared(jobs: list, ws: Workspace, progress: Progress) -> Prepared:
    """`prepare` with a progress bar per phase; its timings include the whole as zoo_stitches_and_references."""
    t = time.perf_counter()
    bars = {
        "models": len(zoo_models(jobs, ws)),
        "stitch sets, tables and references": len(builds(jobs)),
        "instances": len({j.instance for j in jobs}),  # references ready
    }
    tasks = {name: progress.add_task(name, total=total) for name, total in bars.items()}

    def step(bar: str):
        return lambda done: progress.update(tasks[bar], advance=1, description=f"{bar} ({done})")

    refs = prepare(jobs, ws, *(step(b) for b in bars))
    for name in bars:
        progress.update(tasks[name], description=name)
    refs.timings = {"zoo_stitches_and_references": time.perf_counter() - t, **refs.timings}
    return refs


def run_locked(
    suite, jobs, run: RunDir, executor, workers, address, ws: Workspace, refs: Prepared | None, progress: Progress
) -> RunOutcome:
    manifest = run.manifest()  # again, under the lock: another run may have started it meanwhile
    check_same_suite(run, manifest, suite)
    if manifest is not None and manifest.get("status") == "complete" and not reset_damaged(run, manifest):
        bad = run.damaged_aggregates(manifest)
        if bad:
            log.warning("%s: rebuilding %s (missing or changed since the run wrote them)", run.path, ", ".join(bad))
            write_outputs(run, manifest)
            run.save_manifest(manifest)
        timings, instances = manifest.get("timings", {}), manifest.get("instances", {})
        return RunOutcome(run.path, 0, 0, not bad, timings, instances, bad)
    check_same_device(run, manifest, ws.device)
    run.clean_temporary()
    refs = refs or prepared(jobs, ws, progress)  # prepared already, but where a job file changed meanwhile
    timings: dict[str, float] = dict(refs.timings)
    manifest = manifest or {
        "suite": suite.model_dump(),
        "suite_key": suite.key,
        "jobs": {j.id: {"status": "pending", "instance": j.instance} for j in jobs},
    }
    manifest |= {
        "status": "running",
        "started": now(),
        "versions": versions(),
        "git_commit": git_commit(),
        "host": platform.node(),
        "executor": executor,
        "workers": workers,
        "device": describe(ws.device),
        "cache": str(ws.cache_dir),
        "instances": {k: v.model_dump() for k, v in refs.instances.items()},
    }
    run.save_manifest(manifest)  # first: a run killed while writing the references is a run, and resumes
    manifest["references"] = write_references(run, refs.tables)
    run.save_manifest(manifest)

    t = time.perf_counter()
    todo = [j for j in jobs if manifest["jobs"][j.id]["status"] == "pending"]
    jbar = progress.add_task("jobs", total=len(jobs), completed=len(jobs) - len(todo))

    saved = time.monotonic()

    def record(result: JobResult) -> None:
        nonlocal saved
        files = run.save_job(result.job_id, result.tables())
        entry = manifest["jobs"][result.job_id] | {
            "files": files,
            "status": result.status,
            "error": result.error,
            "seconds": round(result.seconds, 3),
            "evaluations": len(result.evaluations),
        }
        if result.traceback:
            entry["log"] = run.save_log(result.job_id, result.traceback)
        manifest["jobs"][result.job_id] = entry
        if time.monotonic() - saved >= SAVE_EVERY:
            run.save_manifest(manifest)
            saved = time.monotonic()
        progress.advance(jbar)

    try:
        run_jobs(executor, todo, ws, workers, address, record, run.path)
    except KeyboardInterrupt:
        done = sum(s["status"] == "done" for s in manifest["jobs"].values())
        log.warning("interrupted: %d of %d jobs are done and saved; the same command resumes", done, len(jobs))
        raise
    finally:
        run.save_manifest(manifest)
    timings["search"] = time.perf_counter() - t
    t = time.perf_counter()
    write_outputs(run, manifest)
    timings["report"] = time.perf_counter() - t
    failed = sum(1 for s in manifest["jobs"].values() if s["status"] != "done")
    manifest |= {"status": "complete", "ended": now(), "timings": {k: round(v, 2) for k, v in timings.items()}}
    run.save_manifest(manifest)
    return RunOutcome(run.path, len(todo), failed, False, manifest["timings"], manifest["instances"])
