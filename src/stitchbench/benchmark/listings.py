"""The listings the CLI prints without torch: solvers and the shipped suites (read from their TOML)."""

import tomllib
from importlib import resources
from pathlib import Path

import pandas as pd

from stitchbench.files import read_regular
from stitchbench.params import shown
from stitchbench.solvers import SOLVERS

TORCH_FREE = ("solvers", "suites")


def shipped_suites() -> dict[str, Path]:
    folder = resources.files("stitchbench") / "suites"
    return {Path(str(f)).stem: Path(str(f)) for f in folder.iterdir() if str(f).endswith(".toml")}


def listing(what: str) -> pd.DataFrame:
    """`solvers` (name, variable kinds, parameters, about) or `suites` (name, about, seeds, budget, file; `run
    SUITE --check` counts its jobs)."""
    if what == "solvers":
        rows = [
            (e.name, ", ".join(sorted(e.factory.supports)), shown(e.factory, e.parameters()), e.about) for e in SOLVERS
        ]
        return pd.DataFrame(rows, columns=["name", "variable kinds", "parameters", "about"])
    rows = []
    for name, path in sorted(shipped_suites().items()):
        suite = tomllib.loads(read_regular(path))
        rows.append((name, suite.get("description", ""), len(suite.get("seeds", [])), suite.get("budget"), str(path)))
    return pd.DataFrame(rows, columns=["name", "about", "seeds", "budget", "file"])
