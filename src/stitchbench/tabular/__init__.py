"""Tabular instances: problems served from precomputed tables, exported as Parquet and loaded without torch.

`stitchbench.tabular.load(DIR)` returns an exported problem, `load(NAME)` a shipped one (`catalog()` lists
them; the format: docs/tabular.md); `problem.optuna()` is an `OptunaProblem`. Torch-free, as is everything
this package imports (optuna only when `OptunaProblem` is first used); `stitchbench table export` builds and
writes exports."""

from importlib import import_module

from ._catalog import catalog
from ._ensemble import EnsembleTable
from ._graph import ChainGraphTable, GraphTable
from ._load import TableIntegrityError, TableProblem, as_optuna, load
from ._weights import WeightsTable

LAZY = {"OptunaProblem": "_optuna_problem"}


def __getattr__(name: str):
    if name in LAZY:
        return getattr(import_module(f"{__name__}.{LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ChainGraphTable",
    "EnsembleTable",
    "GraphTable",
    "OptunaProblem",
    "TableIntegrityError",
    "TableProblem",
    "WeightsTable",
    "as_optuna",
    "catalog",
    "load",
]
