"""The `stitchbench` command line. Exit codes: 0 success, 2 bad input, 1 failure inside a run."""

import errno
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from stitchbench._processes import interruptible
from stitchbench.errors import InputError, explain

from . import _list, _results, _run, _stitch, _table, _zoo
from ._base import Parser, device

GROUPS = (_run, _results, _list, _zoo, _stitch, _table)  # in the order --help lists them
log = logging.getLogger("stitchbench")
# a path the user gave that cannot be used: bad input (exit 2), not a failure (a full disk stays one)
PATH_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.EEXIST}


def build_parser() -> Parser:
    p = Parser(prog="stitchbench", description=__doc__)
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--verbose", action="store_true", help="debug logging, with the traceback of every failure")
    p.add_argument("--cache", type=Path, help="artifact cache (default $STITCHBENCH_CACHE or ~/.cache/stitchbench)")
    p.add_argument(
        "--device",
        type=device,
        help="where torch work runs: auto (the first CUDA device torch sees, else the CPU), cpu, cuda (every GPU) "
        "or cuda:N (default: the suite's device, else auto; build-collection: cpu)",
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in GROUPS:
        group.register(sub)
    return p


def setup_logging(verbose: bool) -> None:
    """Warnings on stderr; with `verbose`, stitchbench's debug messages too (failed jobs' tracebacks)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.DEBUG if verbose else logging.NOTSET)


def main(argv: Sequence[str] | None = None) -> int:
    with interruptible():  # a second Ctrl-C exits at once
        try:
            args = build_parser().parse_args(argv)
            setup_logging(args.verbose)
            return args.handler(args) or 0
        except (InputError, ValidationError) as e:
            print(f"error: {explain(e)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except Exception as e:  # a failure inside a run: say what, not a traceback
            if isinstance(e, OSError) and e.errno in PATH_ERRORS and e.filename:  # a path given cannot be used
                print(f"error: cannot use {e.filename}: {e.strerror or e}", file=sys.stderr)
                return 2
            log.debug("failure", exc_info=True)
            print(f"failed: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
