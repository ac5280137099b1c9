"""Executors: run jobs in-process (`local`), in a pool of processes (`process`), or as Ray tasks (`ray`).

Whichever runs them, results come back to the driver (`on_result`), which alone writes the run directory.
For Ray, the artifacts a job needs (models, stitch sets) travel through Ray's object store and are
materialized into a worker-local cache, so workers need no shared filesystem. Jobs run on the workspace's
device: process workers take the GPUs in turn, Ray tasks ask for one (`ray_resources`).
"""

import hashlib
import logging
import os
import signal
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import as_completed, wait
from contextlib import contextmanager, suppress
from pathlib import Path

import torch

from stitchbench._devices import resolve, worker_devices
from stitchbench._files import atomic_write
from stitchbench._processes import pin_threads, worker_pool, workers_of
from stitchbench.errors import InputError
from stitchbench.solvers import SOLVERS

from ._jobs import JobResult, execute
from ._suite import Job
from ._workspace import Workspace

log = logging.getLogger(__name__)

OnResult = Callable[[JobResult], None]

_worker_ws: Workspace | None = None
STOP_GRACE = 3.0  # seconds that job workers (processes, Ray tasks) have, after Ctrl-C, to hand back finished jobs


def run_local(jobs: Sequence[Job], workspace: Workspace, on_result: OnResult) -> None:
    for job in jobs:
        on_result(execute(job, workspace))


def _init_worker(device: str, cache_dir: str) -> None:
    """A job worker's setup, after `worker_init` (one BLAS/OpenMP thread; this module imports torch: seconds),
    on its own device, with one torch thread."""
    global _worker_ws
    torch.set_num_threads(1)
    _worker_ws = Workspace(Path(cache_dir), device=resolve(device))
    signal.signal(signal.SIGINT, _interrupt)


_stopping = False  # a job worker after Ctrl-C: it starts no more jobs
_in_job = False


def _interrupt(_signum, _frame) -> None:
    """Ctrl-C in a job worker: stop the job under way (if any) and start no more."""
    global _stopping, _in_job
    _stopping = True
    if _in_job:
        _in_job = False
        raise KeyboardInterrupt


def _process_jobs(jobs_json: list[str]) -> list[JobResult]:
    """Run a chunk of jobs; after a Ctrl-C, the results of those finished."""
    global _in_job
    assert _worker_ws is not None
    results = []
    try:
        for j in jobs_json:
            if _stopping:
                break
            _in_job = True
            results.append(execute(Job.model_validate_json(j), _worker_ws))
            _in_job = False
    except KeyboardInterrupt:
        pass
    return results


def chunks(jobs: Sequence[Job], workers: int) -> list[list[Job]]:
    """Consecutive jobs of one instance, at most len(jobs) / (4 workers) of them per chunk: a worker that
    takes a chunk loads (and builds the scorers of) its problem once, where single jobs would have every
    worker load every problem; four chunks per worker keep the load balanced."""
    size = max(1, -(-len(jobs) // (4 * workers)))
    out: list[list[Job]] = []
    for job in jobs:
        if out and out[-1][0].instance == job.instance and len(out[-1]) < size:
            out[-1].append(job)
        else:
            out.append([job])
    return out


def run_process(jobs: Sequence[Job], workspace: Workspace, workers: int, on_result: OnResult) -> None:
    """Run chunks of jobs in a pool, one worker per device (`worker_devices`: the GPUs in turn, or the CPU).
    Ctrl-C stops the jobs under way and the queued ones; the workers hand back the jobs they finished (within
    STOP_GRACE seconds), which are kept before the KeyboardInterrupt goes on (and `worker_pool` cancels what is
    left and ends the workers)."""
    devices = [str(d) for d in worker_devices(workspace.device, workers)]
    with worker_pool(devices, f"{__name__}:_init_worker", str(workspace.cache_dir)) as pool:
        futures = [pool.submit(_process_jobs, [j.model_dump_json() for j in c]) for c in chunks(jobs, workers)]
        pending, results = set(futures), []  # results handed back, not yet kept
        try:
            for f in as_completed(futures):
                results += f.result()
                pending.discard(f)
                while results:
                    on_result(results[0])
                    results.pop(0)
        except KeyboardInterrupt:  # the workers stop: their jobs under way, and their queued chunks run none
            for p in workers_of(pool):
                with suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGINT)
            results += [r for f in wait(pending, STOP_GRACE).done if not f.exception() for r in f.result()]
            for result in {r.job_id: r for r in results}.values():  # once each (atomic writes: again is harmless)
                on_result(result)
            raise


def bundle(workspace: Workspace) -> dict[str, bytes]:
    """Every artifact file the jobs need, by path relative to the cache."""
    files = {}
    for d in workspace.artifact_dirs():
        for f in d.iterdir():
            files[str(f.relative_to(workspace.cache_dir))] = f.read_bytes()
    return files


def ray_resources(device: torch.device) -> dict[str, int]:
    """What each Ray task asks for: a CPU, and on CUDA a whole GPU (Ray shows a task only the GPUs it asked
    for; a job loads its problem's members there, evaluates live there, and builds any stitch set or table
    it lacks there)."""
    return {"num_cpus": 1} | ({"num_gpus": 1} if device.type == "cuda" else {})


def _ray_job(job_json: str, files: dict[str, bytes], device: str) -> JobResult:
    """A job in a Ray worker: one torch and one BLAS/OpenMP thread (as a process worker), its artifacts
    materialized into a worker-local cache."""
    global _worker_ws
    torch.set_num_threads(1)
    pin_threads()
    digest = hashlib.sha256("".join(sorted(files)).encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / f"stitchbench-ray-{digest}"
    for rel, data in sorted(files.items(), key=lambda kv: kv[0].endswith("manifest.json")):
        path = cache / rel  # weights first, manifests last: a manifest on disk means a complete artifact
        if not path.exists():
            atomic_write(path, data)
    if _worker_ws is None or _worker_ws.cache_dir != cache:
        _worker_ws = Workspace(cache, device=resolve(device))
    return execute(Job.model_validate_json(job_json), _worker_ws)


def run_ray(jobs: Sequence[Job], workspace: Workspace, workers: int, address: str | None, on_result: OnResult) -> None:
    """Run each job as a Ray task (on a local Ray started here, or the cluster at `address`), no more at a time
    than `workers` or, where it has more, the Ray's task slots (CPUs; on CUDA, GPUs too), read again as each
    job ends: on a local Ray none waits in its queue. Ctrl-C submits no more; the tasks under way that finish
    within STOP_GRACE seconds are kept before the KeyboardInterrupt goes on, and the rest end with the driver's
    Ray session (a local Ray stops; a cluster ends the job's tasks when its driver leaves). Nothing is
    `ray.cancel`led: a cancel that meets a task's start aborts the driver (Ray 2.60, `Tried to complete task
    that was not pending`, 1 Ctrl-C in 12 under load)."""
    try:
        import psutil
        import ray
    except ImportError as e:
        raise InputError("executor 'ray' needs the ray extra: pip install 'stitchbench[ray]'") from e
    started = not ray.is_initialized()
    before = set(psutil.Process().children()) if started and not address else None  # before a local Ray starts
    owner = uuid.uuid4().hex if before is not None else None  # in the environment of the local Ray's processes
    heads = None
    try:
        if started:
            kwargs = {"address": address} if address else {"num_cpus": workers, "include_dashboard": False}
            with ray_owner(owner):
                ray.init(log_to_driver=False, configure_logging=False, **kwargs)
            heads = new_children(before)
        files = ray.put(bundle(workspace))
        task = ray.remote(**ray_resources(workspace.device))(_ray_job)
        todo, running = iter(jobs), []

        def top_up() -> None:
            capacity = max(workers, ray_slots(ray.cluster_resources(), workspace.device))
            while len(running) < capacity and (job := next(todo, None)) is not None:
                running.append(task.remote(job.model_dump_json(), files, workspace.device.type))

        try:
            top_up()
            while running:
                [done], _ = ray.wait(running, num_returns=1)
                on_result(ray.get(done))
                running.remove(done)
                top_up()
        except KeyboardInterrupt:
            ready = ray.wait(running, num_returns=len(running), timeout=STOP_GRACE)[0] if running else []
            for ref in ready:  # finished ones (saved again where the save was under way: atomic, harmless)
                with suppress(ray.exceptions.RayError):  # failed (a terminal's Ctrl-C reaches the tasks too)
                    on_result(ray.get(ref))
            raise
    finally:
        if started:
            stop_ray(ray, new_children(before) if heads is None else heads, owner)  # heads None: init interrupted


def ray_slots(resources: dict[str, float], device: torch.device) -> int:
    """How many of the tasks `ray_resources` asks for a Ray with `resources` runs at once."""
    slots = resources.get("CPU", 0)
    return int(min(slots, resources.get("GPU", 0)) if device.type == "cuda" else slots)


def new_children(before: set | None) -> set:
    """The driver's child processes that are not in `before` (psutil; None: none are wanted)."""
    import psutil

    return set() if before is None else set(psutil.Process().children()) - before


RAY_OWNER = "STITCHBENCH_RAY_OWNER"  # marks the processes of a local Ray that a run started


@contextmanager
def ray_owner(owner: str | None) -> Iterator[None]:
    """`owner` in the environment that the processes `ray.init` starts inherit (not the driver's own)."""
    if owner is None:
        yield
        return
    os.environ[RAY_OWNER] = owner
    try:
        yield
    finally:
        os.environ.pop(RAY_OWNER, None)


def owned(owner: str | None) -> set:
    """The live processes started with `owner` in their environment (psutil)."""
    import psutil

    found = set()
    for p in psutil.process_iter() if owner else ():
        with suppress(psutil.Error):
            if p.environ().get(RAY_OWNER) == owner:
                found.add(p)
    return found


def stop_ray(ray, heads: set, owner: str | None = None) -> None:
    """Shut Ray down, then kill what is left of a local Ray: its head processes `heads` (those `ray.init` started),
    their descendants, and every process that carries its `owner` mark (an agent whose raylet died first is
    nobody's descendant). Ray gives its raylet 1 s to stop on SIGTERM; one that takes longer (busy cores), or
    that a Ctrl-C to the process group ends, leaves its agents to spend 60 s reporting it to the stopped GCS
    before they exit."""
    import psutil

    processes = set(heads) | owned(owner)
    for head in heads:
        with suppress(psutil.Error):
            processes |= set(head.children(recursive=True))
    try:
        ray.shutdown()
    finally:
        processes |= owned(owner)
        for p in processes:
            with suppress(psutil.Error):  # gone already (or not ours to signal)
                p.kill()
        psutil.wait_procs(processes, timeout=STOP_GRACE)


def prepare_jobs(jobs: Sequence[Job], run_dir: Path) -> list[Job]:
    """Each job with the parameters its solver's `prepare` gives it in this run directory."""
    out = []
    for job in jobs:
        params = SOLVERS.entry(job.solver.name).factory.job_params(dict(job.solver.params), job.id, run_dir)
        out.append(job.model_copy(update={"solver": job.solver.model_copy(update={"params": params})}))
    return out


def reporting(on_result: OnResult) -> OnResult:
    """`on_result`, logging a failed job's error and traceback first (shown with --verbose)."""

    def report(result: JobResult) -> None:
        if result.status != "done":
            log.debug("job %s failed: %s\n%s", result.job_id, result.error, result.traceback or "(no traceback)")
        on_result(result)

    return report


def run_jobs(
    executor: str,
    jobs: Sequence[Job],
    workspace: Workspace,
    workers: int,
    address: str | None,
    on_result: OnResult,
    run_dir: Path,
) -> None:
    """Prepare every job's solver parameters (before any job starts), then run the jobs."""
    jobs = prepare_jobs(jobs, run_dir)
    on_result = reporting(on_result)
    if executor == "local":
        run_local(jobs, workspace, on_result)
    elif executor == "process":
        run_process(jobs, workspace, workers, on_result)
    elif executor == "ray":
        run_ray(jobs, workspace, workers, address, on_result)
    else:
        raise InputError(f"unknown executor {executor!r}; valid executors: local, process, ray")
