"""Pools of worker processes that never outlive their driver (torch-free; this module imports nothing heavy,
so a spawned worker runs `worker_init` before any of stitchbench's heavy imports): killed with `kill -9` (as
the OOM killer does), at any moment of the pool's start, a driver takes its workers with it."""

import importlib
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor


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


def worker_init(setup: str | None, *args) -> None:
    """A pool's initializer: die with the driver; then `setup` ('module:function', imported only now) with
    `args`."""
    die_with_parent()
    if setup:
        module, _, name = setup.partition(":")
        getattr(importlib.import_module(module), name)(*args)


def worker_pool(workers: int, setup: str | None = None, *args) -> ProcessPoolExecutor:
    """A pool of `workers` spawned processes, each started by `worker_init(setup, *args)`."""
    ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=ctx, initializer=worker_init, initargs=(setup, *args))
