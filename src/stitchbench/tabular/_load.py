"""Load an exported tabular instance without torch: `load(DIR)` verifies every file's sha256 against
`DIR/manifest.json`, reads the Parquet tables into the instance's table class and returns a `TableProblem`
that scores exactly as the instance it was exported from (the same table class, the same scorers).

Export format 1 (written by `stitchbench table export`; see `stitchbench.tabular._files`):

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
| `graph.<array>.parquet` | `value` (1-D) or `c.<j>` (2-D): `to_arrays()` of the graph table | stitch-graph |
"""

import json
import warnings
from pathlib import Path

import numpy as np

from stitchbench.errors import InputError
from stitchbench.moo._api import Problem, sample_uniform
from stitchbench.moo._instance import ProblemInstance
from stitchbench.moo._splits import EVAL_SPLITS

from ._catalog import collection_name, read_catalog, resolve
from ._fidelity import val_sizes
from ._files import FORMAT, TABLE_MANIFEST, VERSION, TableIntegrityError, malformed, read_manifest
from ._problem import TABLES, TableProblem

FAMILIES = tuple(TABLES)

__all__ = [
    "FAMILIES",
    "FORMAT",
    "TABLE_MANIFEST",
    "VERSION",
    "TableIntegrityError",
    "TableProblem",
    "as_optuna",
    "check_scores",
    "load",
    "shipped",
]

SCORE_SAMPLE = 64  # decisions `check_scores` draws


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
    with malformed(directory):
        return TableProblem(manifest, directory, TABLES[family].read(directory, manifest))


def load_shipped(name: str) -> TableProblem:
    """The shipped instance `name` from the installed collection, its manifest pinned by the catalog (never a
    folder of that name in the working directory, which `load(name)` would take)."""
    return load(*resolve(name))


def holds(directory: Path, instance: ProblemInstance) -> bool:
    """Whether the export in `directory` is of `instance` (the same record: every parameter and every
    artifact's sha256, so the same models scored on the same samples); True for a damaged manifest (`load`
    says what is wrong)."""
    try:
        manifest = json.loads((directory / TABLE_MANIFEST).read_bytes())
        recorded = ProblemInstance(**manifest["instance"]).model_dump(mode="json")
    except (OSError, ValueError, KeyError, TypeError):
        return True
    return recorded == instance.model_dump(mode="json")


def is_shipped(instance: ProblemInstance) -> bool | None:
    """Whether `instance` is the shipped instance of its name (`holds`); None where the collection has none of
    that name. Models trained on another CPU differ in their last bits, so theirs is another instance."""
    name = collection_name(instance.id)
    if name not in read_catalog():
        return None
    return holds(resolve(name)[0], instance)


def shipped(instance: ProblemInstance) -> TableProblem | None:
    """The shipped instance that `instance` is (`is_shipped`), loaded and verified, else None."""
    if not is_shipped(instance):
        return None
    problem = load_shipped(collection_name(instance.id))
    return problem if problem.instance.model_dump(mode="json") == instance.model_dump(mode="json") else None


CHECK_FIDELITY = 0.5  # `check_scores` scores val at it too, where the table has fidelities


def check_scores(problem: TableProblem, n: int = SCORE_SAMPLE) -> None:
    """Score n decisions drawn uniformly from the space (seed 0) on every split, and on val at CHECK_FIDELITY
    where the table has per-sample scores (which it reads then: a deep graph's bits), through the table's
    scorers as a run would: a table that cannot score one, or scores a party outside [0, 1] or a cost below 0
    or not finite, is refused (an InputError naming the objective, the split and the decision)."""
    X = sample_uniform(problem, n, np.random.default_rng(0))
    views = [(split, split, problem) for split in EVAL_SPLITS]
    if val_sizes(problem):
        views.append((f"val at fidelity {CHECK_FIDELITY}", "val", problem.with_fidelity(CHECK_FIDELITY)))
    for where, split, view in views:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):  # an empty mean: NaN, refused below
                warnings.simplefilter("ignore", RuntimeWarning)
                F = view.evaluate(X, split)
        except (ArithmeticError, LookupError, TypeError, ValueError) as e:
            raise InputError(f"{problem.directory}: cannot score on {where} ({type(e).__name__}: {e})") from e
        for j, o in enumerate(problem.objectives):
            bad = ~np.isfinite(F[:, j]) | (F[:, j] < 0) | ((F[:, j] > 1) & (o.party is not None))
            if bad.any():
                i = int(np.argmax(bad))
                raise InputError(
                    f"{problem.directory}: {o.name} is {F[i, j]} on {where} at {problem.decode(X[i])}; a score "
                    "lies in [0, 1], a cost is finite and >= 0"
                )


def as_optuna(problem: Problem, split: str = "val"):
    """The Optuna-ready benchmark problem of any `Problem` (loaded or in-process): an
    `stitchbench.tabular.OptunaProblem` (optunahub is imported here, on first use)."""
    from ._optuna_problem import OptunaProblem

    return OptunaProblem(problem, split)
