"""Tabular instances: problems served from precomputed tables, exported as Parquet and loaded without torch.

`stitchbench.tabular.load(DIR)` returns an exported problem (see `stitchbench.tabular.load`; torch-free, as
is everything this package imports; `stitchbench.benchmark.export` builds and writes exports)."""

from .load import TableIntegrityError, TableProblem, as_optuna, load

__all__ = ["TableIntegrityError", "TableProblem", "as_optuna", "load"]
