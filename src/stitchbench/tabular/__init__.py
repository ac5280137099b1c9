"""Tabular instances: problems served from precomputed tables, exported as Parquet and loaded without torch.

`stitchbench.tabular.load(DIR)` returns an exported problem, `load(NAME)` a shipped one (`catalog()` lists
them); see `stitchbench.tabular.load`. Torch-free, as is everything this package imports;
`stitchbench.benchmark.export` builds and writes exports."""

from .catalog import catalog
from .ensemble import EnsembleTable
from .graph import GraphTable
from .load import TableIntegrityError, TableProblem, as_optuna, load
from .weights import WeightsTable

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
