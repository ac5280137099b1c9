"""Tabular instances: problems served from precomputed tables, exported as Parquet and loaded without torch.

`stitchbench.tabular.load(DIR)` returns an exported problem, `load(NAME)` a shipped one (`catalog()` lists
them; the format: docs/tabular.md). Torch-free, as is everything this package imports;
`stitchbench.benchmark._export` builds and writes exports."""

from ._catalog import catalog
from ._ensemble import EnsembleTable
from ._graph import GraphTable
from ._load import TableIntegrityError, TableProblem, as_optuna, load
from ._weights import WeightsTable

__all__ = [
    "EnsembleTable",
    "GraphTable",
    "TableIntegrityError",
    "TableProblem",
    "WeightsTable",
    "as_optuna",
    "catalog",
    "load",
]
