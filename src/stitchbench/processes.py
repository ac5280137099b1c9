"""Worker processes that never outlive their driver (torch-free): killed with `kill -9` (as the OOM killer
does), a driver takes its pool workers with it within `WATCH_INTERVAL` seconds."""

import os
import threading
import time

WATCH_INTERVAL = 0.5  # seconds between checks that the parent is alive


def die_with_parent(interval: float = WATCH_INTERVAL) -> None:
    """In a worker process: exit at once when the process that started it dies (it is then adopted by
    another, so its parent pid changes). A daemon thread checks; it works on every POSIX system."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="stitchbench-parent-watch", daemon=True).start()
