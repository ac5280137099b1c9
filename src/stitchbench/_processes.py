"""Pools of worker processes that never outlive their driver (torch-free; this module imports nothing heavy,
so a spawned worker runs `worker_init` before any of stitchbench's heavy imports): killed with `kill -9` (as
the OOM killer does), at any moment of the pool's start, a driver takes its workers with it; interrupted
(Ctrl-C), it stops them without waiting for their tasks. A pool can give each worker a device of its own."""

import importlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

# what native thread pools read when they load (OpenMP, OpenBLAS, MKL, BLIS, Apple Accelerate, numexpr), and
# stitchbench's fused ensemble accuracy (`moo._mixture.threads`)
THREAD_VARIABLES = (
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def die_with_parent() -> None:
    """In a pool worker: exit at once when the process that started it dies, also where it died before this
    ran. A daemon thread waits on the pipe that only the parent holds open (multiprocessing's parent sentinel);
    the parent's death closes it."""
    parent = multiprocessing.parent_process()
    if parent is None:  # not started by multiprocessing
        return

    def watch() -> None:
        parent.join()  # returns when the pipe closes
        os._exit(1)

    threading.Thread(target=watch, name="stitchbench-parent-watch", daemon=True).start()


def pin_threads() -> None:
    """One BLAS/OpenMP thread in this process, as a pool's workers share the cores: the native thread pools
    loaded already are limited (threadpoolctl), and those loaded later read THREAD_VARIABLES. Without it,
    each worker's BLAS starts a thread per core and the workers' threads contend (17x slower, issue 35)."""
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    threadpool_limits(1)


def worker_init(setup: str | None, devices, *args) -> None:
    """A pool's initializer: die with the driver, and leave Ctrl-C to it (a terminal sends it to every process
    of the foreground group); one BLAS/OpenMP thread (`pin_threads`); then `setup` ('module:function',
    imported only now) with `args`, after the worker's own device where the pool hands them out (`devices`: a
    queue of them, or None)."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pin_threads()
    if setup:
        module, _, name = setup.partition(":")
        own = () if devices is None else (devices.get(),)
        getattr(importlib.import_module(module), name)(*own, *args)


def workers_of(pool: ProcessPoolExecutor) -> list[multiprocessing.Process]:
    """A pool's live worker processes (no public way before Python 3.14)."""
    return list((pool._processes or {}).values())


@contextmanager
def worker_pool(workers: int | list[str], setup: str | None = None, *args) -> Iterator[ProcessPoolExecutor]:
    """A pool of spawned processes, each started by `worker_init`: `workers` of them, or one per device of a
    list (each worker's `setup` then takes a device of its own first: two workers share a GPU only where the
    list names it twice). Left by an exception (a KeyboardInterrupt), it cancels the queued tasks and
    terminates the workers: no waiting for the tasks under way."""
    ctx = multiprocessing.get_context("spawn")
    devices = None
    if not isinstance(workers, int):
        devices = ctx.Queue()
        for device in workers:
            devices.put(device)
    count = workers if isinstance(workers, int) else len(workers)
    pool = ProcessPoolExecutor(count, mp_context=ctx, initializer=worker_init, initargs=(setup, devices, *args))
    try:
        yield pool
    except BaseException:
        running = workers_of(pool)
        pool.shutdown(wait=False, cancel_futures=True)
        for p in running:
            p.terminate()
        raise
    pool.shutdown()


def mapped(fn: Callable, tasks: list[tuple], minimum: int, chunksize: int = 1) -> list:
    """fn(*task) of every task, in order: in a pool of one process per core (up to 4) from `minimum` tasks on
    (work that runs on one core: matplotlib, hypervolumes), else here; `chunksize` tasks per round trip."""
    workers = min(os.cpu_count() or 1, 4)
    if workers < 2 or len(tasks) < minimum:
        return [fn(*t) for t in tasks]
    with worker_pool(workers) as pool:
        return list(pool.map(fn, *zip(*tasks, strict=True), chunksize=chunksize))


@contextmanager
def interruptible() -> Iterator[None]:
    """Within (in the main thread): the first Ctrl-C raises KeyboardInterrupt, so the program stops and saves
    what it has; a second one ends it at once (the system's default action: even inside a system call)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(_signum, _frame) -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGINT) is first:  # not interrupted: as before (else a second still exits)
            signal.signal(signal.SIGINT, previous)
