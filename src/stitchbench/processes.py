"""Worker processes that never outlive their driver (torch-free): killed with `kill -9` (as the OOM killer
does), a driver takes its pool workers with it within `WATCH_INTERVAL` seconds. Pools give each worker a
device of its own (`device_pool`)."""

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

WATCH_INTERVAL = 0.5  # seconds between checks that the parent is alive


def die_with_parent(interval: float = WATCH_INTERVAL, parent: int | None = None) -> None:
    """In a worker process: exit at once when the process that started it (`parent`, default: its parent
    now) dies (it is then adopted by another, so its parent pid changes). A daemon thread checks; it works
    on every POSIX system."""
    parent = parent or os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="stitchbench-parent-watch", daemon=True).start()


def device_pool(devices: list[str], initializer: Callable[..., None], *initargs) -> ProcessPoolExecutor:
    """A pool (spawn) of one worker process per entry of `devices`: each dies with this process (also when it
    died while the worker imported torch, which takes seconds) and runs `initializer(device, *initargs)`
    with an entry of its own, so two workers never share a GPU unless `devices` names it twice."""
    ctx = get_context("spawn")
    queue = ctx.Queue()
    for device in devices:
        queue.put(device)
    start = (os.getpid(), queue, initializer, initargs)
    return ProcessPoolExecutor(len(devices), mp_context=ctx, initializer=_start, initargs=start)


def _start(parent: int, queue, initializer: Callable[..., None], initargs: tuple) -> None:
    die_with_parent(parent=parent)
    initializer(queue.get(), *initargs)
