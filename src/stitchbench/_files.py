"""Files written whole or not at all (torch-free). Temporary files carry a marker of ours
(`.<name>.stitchbench-<8 random characters>.tmp`, unique per writer), so cleaning up after a killed writer removes only
files stitchbench made, never a user's `.notes.tmp`."""

import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stitchbench.errors import InputError, shorten

TEMP_MARKER = ".stitchbench-"
# what `atomic_write` leaves behind when killed mid-write: mkstemp's 8 random characters, of its alphabet
TEMP_NAME = re.compile(rf"\..+{re.escape(TEMP_MARKER)}[a-z0-9_]{{8}}\.tmp")
MAX_DEPTH = 64  # nesting levels of a file stitchbench reads (a few thousand overflow Python's parsers)
INPUT_DEPTH = 32  # of a suite or a `-p` value: the manifests written from them nest them a few levels deeper


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


def read_regular(path: Path) -> str:
    """A file's text (UTF-8). A FIFO, socket or device is refused (an InputError) before it is opened: reading
    one may wait forever. A missing file or a folder raises the OSError that reading it would."""
    mode = os.stat(path).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise InputError(f"{path} is not a regular file (a FIFO, socket or device); give a file")
    return Path(path).read_text(encoding="utf-8")


def parse(loads: Callable[[str], Any], text: str, what: str, limit: int = MAX_DEPTH) -> Any:
    """`loads(text)` (json.loads, tomllib.loads), refused (an InputError naming `what`) where its lists and
    tables nest deeper than `limit` levels."""
    deep = InputError(f"{what}: nested deeper than {limit} levels")
    try:
        data = loads(text)
    except RecursionError:  # the parser's own stack ran out: thousands of levels
        raise deep from None
    level, todo = 0, [data]
    while todo:
        if level > limit:
            raise deep
        todo = [c for v in todo if isinstance(v, dict | list) for c in (v.values() if isinstance(v, dict) else v)]
        level += 1
    return data


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A unique temporary path next to `path`, for the caller to write; renamed to `path` when the block ends
    (synced first), removed if it raises: `path` is never half-written, race-free."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARKER}", suffix=".tmp", dir=path.parent)
    try:
        try:
            os.fchmod(fd, FILE_MODE)  # mkstemp's 0600 would hide results from the user's group
        finally:
            os.close(fd)
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole or not at all (`atomic_file`)."""
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)
