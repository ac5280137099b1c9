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

from pathlib import Path

import pyarrow as pa

from stitchbench.errors import InputError
from stitchbench.moo.api import Problem

from .catalog import resolve
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
    """The tabular problem exported to `directory`, or the shipped instance of that name (see
    `stitchbench.tabular.catalog()`; its manifest's sha256 pinned by the catalog), after verifying every
    file's sha256 (a mismatch raises `TableIntegrityError`, an InputError naming the file and both hashes)."""
    if isinstance(directory, str) and not Path(directory).exists():
        directory, manifest_sha256 = resolve(directory)
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


def as_optuna(problem: Problem, split: str = "val"):
    """The Optuna-ready benchmark problem of any `Problem` (loaded or in-process): an
    `stitchbench.tabular.optuna_problem.OptunaProblem` (optunahub is imported here, on first use)."""
    from .optuna_problem import OptunaProblem

    return OptunaProblem(problem, split)
