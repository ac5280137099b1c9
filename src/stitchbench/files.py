"""Files written whole or not at all (torch-free). Temporary files carry a marker of ours
(`.<name>.stitchbench-<8 random characters>.tmp`, unique per writer), so cleaning up after a killed writer removes only
files stitchbench made, never a user's `.notes.tmp`."""

import os
import tempfile
from pathlib import Path

TEMP_MARKER = ".stitchbench-"
TEMP_GLOB = f".*{TEMP_MARKER}*.tmp"  # what `atomic_write` leaves behind when killed mid-write


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a unique temporary file and a rename: never half-written, race-free."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARKER}", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
