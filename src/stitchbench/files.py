"""Files written whole or not at all (torch-free). Temporary files carry a marker of ours
(`.<name>.stitchbench-<8 random characters>.tmp`, unique per writer), so cleaning up after a killed writer removes only
files stitchbench made, never a user's `.notes.tmp`."""

import os
import re
import tempfile
from pathlib import Path

from stitchbench.errors import InputError, shorten

TEMP_MARKER = ".stitchbench-"
# what `atomic_write` leaves behind when killed mid-write: mkstemp's 8 random characters, of its alphabet
TEMP_NAME = re.compile(rf"\..+{re.escape(TEMP_MARKER)}[a-z0-9_]{{8}}\.tmp")


def user_file_mode() -> int:
    """The mode `open()` gives a new file: 0o666 less the user's umask (read once, at import)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = user_file_mode()


NAME_MAX = 255  # bytes in one path component (Linux, macOS)


def check_folder(path: Path, what: str) -> None:
    """Refuse, before anything is created, a folder path that cannot be one: a part longer than NAME_MAX
    bytes, or a part that exists and is not a folder. `what` names it for the user (e.g. '--out')."""
    for part in Path(path).parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise InputError(f"{what} {shorten(str(path))}: a part of it is longer than {NAME_MAX} bytes")
    for p in (Path(path), *Path(path).parents):
        if p.exists() and not p.is_dir():
            raise InputError(f"{what} {path}: {p} is a file, not a folder")


def temporary(name: str) -> bool:
    """Whether a file name is one `atomic_write` makes (and a killed writer may leave behind)."""
    return TEMP_NAME.fullmatch(name) is not None


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a unique temporary file and a rename: never half-written, race-free."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARKER}", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)  # mkstemp's 0600 would hide results from the user's group
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
