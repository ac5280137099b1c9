"""`stitchbench list`: the registries' entries, built-ins and plugins (solvers and suites without torch)."""

import tomllib

import pandas as pd

from stitchbench._files import read_regular
from stitchbench._params import shown
from stitchbench.solvers import SOLVERS
from stitchbench.suites import shipped_suites

from ._base import Listing, add_format, emit
from ._builders import builders

LISTABLE = ("scenarios", "architectures", "problems", "solvers", "suites")


def register(sub) -> None:
    ls = sub.add_parser("list", help="list scenarios, architectures, problems, solvers or suites")
    ls.add_argument("what", choices=LISTABLE)
    add_format(ls, "table: one block per entry")
    ls.set_defaults(handler=handle)


def solvers() -> pd.DataFrame:
    rows = [(e.name, ", ".join(sorted(e.factory.supports)), shown(e.factory, e.parameters()), e.about) for e in SOLVERS]
    return pd.DataFrame(rows, columns=["name", "variable kinds", "parameters", "about"])


def suites() -> pd.DataFrame:
    """Each shipped suite's name, about, seeds, budget and file (`run SUITE --check` counts its jobs)."""
    rows = []
    for name, path in sorted(shipped_suites().items()):
        suite = tomllib.loads(read_regular(path))
        rows.append((name, suite.get("description", ""), len(suite.get("seeds", [])), suite.get("budget"), str(path)))
    return pd.DataFrame(rows, columns=["name", "about", "seeds", "budget", "file"])


TORCH_FREE = {"solvers": solvers, "suites": suites}


def handle(args) -> None:
    frame = TORCH_FREE[args.what]() if args.what in TORCH_FREE else builders().listing(args.what)
    emit(Listing({args.what: frame}, blocks=True), args.format)
