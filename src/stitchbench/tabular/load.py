"""Load an exported tabular instance without torch: `load(DIR)` verifies every file's sha256 against
`DIR/manifest.json`, reads the Parquet tables into the instance's table class and returns a `TableProblem`
that scores exactly as the instance it was exported from (the same table class, the same scorers).

Export format 1 (written by `stitchbench table export`; see `stitchbench.tabular.files`):

| file | columns | families |
| --- | --- | --- |
| `baselines.parquet` | split, baseline, `f.<objective>` ... | all |
| `fronts.parquet` | split, `f.<objective>` ... (the front of `front_kind`; none: no rows) | all |
| `output_ensembles.parquet` | `w.<i>` per member, `val.<party>` ..., `test.<party>` ... (chosen on val) | stitching |
| `members.parquet` | member, name (its weight variable), flops (the whole member, per sample) | ensembles |
| `labels.parquet` | party, split, sample, y (or `y.<i>`: flattened masks) | ensembles |
| `probs.parquet` | party, split, member, sample, `p.<i>` ... (float32) | ensemble-weights |
| `probs.parquet` | party, split, point, level, member, sample, `p.<i>` ... (float32) | stitch-ensemble |
| `alphas.parquet` | level, alpha (the alpha grid) | stitch-ensemble |
| `points.parquet` | point, name, prefix (FLOPs of every member up to it), `branch.<m>` per member | stitch-ensemble |
| `graph.<array>.parquet` | `value` (1-D) or `c.<j>` (2-D): the arrays of `GraphTable.to_arrays()` | stitch-graph |
"""

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from stitchbench.errors import InputError
from stitchbench.moo.api import Problem, check_split

from .files import FORMAT, TABLE_MANIFEST, VERSION, TableIntegrityError, read_manifest
from .problem import TABLES, TableProblem

FAMILIES = tuple(TABLES)

__all__ = [
    "FAMILIES",
    "FORMAT",
    "TABLE_MANIFEST",
    "VERSION",
    "TableIntegrityError",
    "TableProblem",
    "as_optuna",
    "load",
]


def load(directory: str | Path, manifest_sha256: str | None = None) -> TableProblem:
    """The tabular problem exported to `directory`, after verifying every file's sha256 (a mismatch raises
    `TableIntegrityError`, an InputError naming the file and both hashes)."""
    directory = Path(directory)
    manifest = read_manifest(directory, manifest_sha256)
    family = manifest.get("family")
    if family not in TABLES:
        raise InputError(
            f"{directory / TABLE_MANIFEST}: unknown family {family!r}; valid families: {', '.join(TABLES)}"
        )
    try:
        return TableProblem(manifest, directory, TABLES[family].read(directory, manifest))
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, pa.ArrowException) as e:  # consistent hashes, bad content
        raise InputError(f"{directory}: malformed export ({type(e).__name__}: {e})") from e


def suggest(trial, name: str, dist) -> Any:
    """A value of `dist` from an Optuna trial, through the public suggest API."""
    import optuna

    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, optuna.distributions.IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)


class OptunaProblem:
    """A problem with the surface of optunahub's `benchmarks.BaseProblem` (a subclass of it where optunahub
    is installed): `search_space`, `directions`, `evaluate(params)` and `__call__(trial)`, scored on `split`.
    Params are by variable name, categoricals by choice name; a gridded real takes its nearest grid value."""

    def __init__(self, problem: Problem, split: str = "val"):
        check_split(split)
        self.problem, self.split = problem, split

    @property
    def search_space(self) -> dict:
        from stitchbench.moo.adapters import optuna_space

        return optuna_space(self.problem)

    @property
    def directions(self) -> list:
        import optuna

        d = optuna.study.StudyDirection
        return [d.MAXIMIZE if o.direction == "max" else d.MINIMIZE for o in self.problem.objectives]

    def evaluate(self, params: Mapping[str, Any]) -> list[float]:
        return [float(v) for v in self.problem.evaluate([dict(params)], self.split)[0]]

    def __call__(self, trial) -> list[float]:
        return self.evaluate({name: suggest(trial, name, d) for name, d in self.search_space.items()})


@cache
def optuna_class() -> type:
    """`OptunaProblem`, made a subclass of optunahub's `benchmarks.BaseProblem` where optunahub is installed
    (imported on first use: it brings requests and its warning filters)."""
    try:
        from optunahub.benchmarks import BaseProblem
    except ImportError:
        return OptunaProblem
    return type("OptunaProblem", (OptunaProblem, BaseProblem), {"__doc__": OptunaProblem.__doc__})


def as_optuna(problem: Problem, split: str = "val") -> OptunaProblem:
    """The Optuna-ready benchmark problem of any `Problem` (loaded or in-process)."""
    return optuna_class()(problem, split)
