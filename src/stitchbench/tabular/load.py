"""Load an exported tabular instance without torch: `load(DIR)` verifies every file's sha256 against
`DIR/manifest.json`, reads the Parquet tables and returns a `Problem` that scores exactly as the instance it
was exported from (the same tables, the same scorers: `EnsembleTable`, `GraphTable`, `moo.scoring`).
Imports numpy, pyarrow, pydantic and the torch-free `stitchbench.moo` and `stitchbench.tabular` only.

Export format 1 (written by `stitchbench table export`; a per-sample value of shape S is flattened into the
columns `p.0 .. p.{prod(S)-1}` (the class probabilities, for classification), S in the manifest):

| file | columns | families |
| --- | --- | --- |
| `baselines.parquet` | split, baseline, `f.<objective>` ... | all |
| `fronts.parquet` | split, `f.<objective>` ... (the front of `front_kind`; none: no rows) | all |
| `output_ensembles.parquet` | `w.<i>` per member, `val.<party>` ..., `test.<party>` ... (claim 4's E) | stitching |
| `members.parquet` | member, name (its weight variable), flops (the whole member, per sample) | ensembles |
| `labels.parquet` | party, split, sample, y (or `y.<i>`: flattened masks) | ensembles |
| `probs.parquet` | party, split, member, sample, `p.<i>` ... (float32) | ensemble-weights |
| `probs.parquet` | party, split, point, level, member, sample, `p.<i>` ... (float32) | stitch-ensemble |
| `alphas.parquet` | level, alpha (the alpha grid) | stitch-ensemble |
| `points.parquet` | point, name, prefix (FLOPs of every member up to it), `branch.<m>` per member | stitch-ensemble |
| `graph.<array>.parquet` | `value` (1-D) or `c.<j>` (2-D): the arrays of `GraphTable.to_arrays()` | stitch-graph |
"""

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from stitchbench.errors import InputError
from stitchbench.hashing import file_sha256
from stitchbench.moo.api import EVAL_SPLITS, Objective, Problem, Variable, check_split
from stitchbench.moo.instance import ProblemInstance
from stitchbench.moo.scoring import WeightedScores, weighted_scores
from stitchbench.tabular.ensemble import EnsembleTable, StitchEnsembleClaims, normalize, weighting_objectives
from stitchbench.tabular.graph import GraphTable

FORMAT = "stitchbench-table"
VERSION = 1
MANIFEST = "manifest.json"
FAMILIES = ("ensemble-weights", "stitch-ensemble", "stitch-graph")


class TableIntegrityError(InputError):
    """An exported table whose file is missing or does not match the sha256 in its manifest."""


def read_manifest(directory: Path, manifest_sha256: str | None = None) -> dict[str, Any]:
    """The manifest of an export, after checking the sha256 of every file it lists (and of the manifest
    itself, where `manifest_sha256` is given)."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise InputError(f"{directory} holds no exported table ({MANIFEST} not found); see 'stitchbench table export'")
    if manifest_sha256 is not None and (actual := file_sha256(path)) != manifest_sha256:
        raise TableIntegrityError(f"{path}: sha256 {actual}, expected {manifest_sha256}")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON: {e}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise InputError(f"{path}: not a {FORMAT} manifest of version {VERSION}")
    if manifest.get("family") not in FAMILIES:
        raise InputError(f"{path}: unknown family {manifest.get('family')!r}; valid families: {', '.join(FAMILIES)}")
    for name, expected in manifest.get("files", {}).items():
        if Path(name).name != name or name in (MANIFEST, "", ".", ".."):
            raise InputError(f"{path}: file name {name!r} is not a plain file name in {directory}")
        if not (directory / name).is_file():
            raise TableIntegrityError(f"{directory / name}: missing; the manifest lists it with sha256 {expected}")
        actual = file_sha256(directory / name)
        if actual != expected:
            raise TableIntegrityError(f"{directory / name}: sha256 {actual}, expected {expected} (from {MANIFEST})")
    return manifest


def value_columns(table: pa.Table, prefix: str) -> list[str]:
    """The columns `<prefix><i>` in order of i."""
    cols = [c for c in table.column_names if c.startswith(prefix) and c[len(prefix) :].isdigit()]
    return sorted(cols, key=lambda c: int(c[len(prefix) :]))


def dense(table: pa.Table, keys: list[str], shape: tuple[int, ...], cols: list[str], dtype=np.float32) -> np.ndarray:
    """A long table (one row per index tuple of `keys`, values in `cols`) as a dense array of shape
    `shape + (len(cols),)`; every index tuple must occur exactly once."""
    index = tuple(table.column(k).to_numpy().astype(np.int64) for k in keys)
    size = int(np.prod(shape))
    try:
        flat = np.ravel_multi_index(index, shape)
    except ValueError as e:
        raise InputError(f"table index {keys} outside the shape {shape}") from e
    if len(flat) != size or np.bincount(flat, minlength=size).max(initial=0) != 1:
        raise InputError(f"table index {keys} does not cover the shape {shape} exactly once")
    out = np.empty((size, len(cols)), dtype=dtype)
    out[flat] = np.column_stack([table.column(c).to_numpy() for c in cols])
    return out.reshape(*shape, len(cols))


def by_party_split(table: pa.Table):
    """(party, split, sub-table) for every (party, split) of a long table."""
    party, split = (table.column(c).cast(pa.string()) for c in ("party", "split"))
    for p in pc.unique(party).to_pylist():
        for s in pc.unique(split.filter(pc.equal(party, p))).to_pylist():
            yield p, s, table.filter(pc.and_(pc.equal(party, p), pc.equal(split, s)))


class TableProblem(Problem):
    """A tabular instance loaded from an export (see `load`): the API of the instance it was exported from,
    with `instance` (its ProblemInstance record) and `optuna()` (an optunahub-style benchmark problem)."""

    tabular = True
    zoo = None

    def __init__(self, manifest: dict[str, Any], directory: Path):
        super().__init__()
        self.directory, self.manifest = Path(directory), manifest
        self.instance = ProblemInstance(**manifest["instance"])
        self.name = manifest["family"]
        self.variables = [Variable(**{**v, "choices": tuple(v["choices"])}) for v in manifest["variables"]]
        self.objectives = [Objective(**o) for o in manifest["objectives"]]
        cols = [f"f.{o.name}" for o in self.objectives]
        self._baselines: dict[str, dict[str, np.ndarray]] = {s: {} for s in EVAL_SPLITS}
        t = self.read("baselines.parquet").to_pylist()
        for row in t:
            self._baselines[row["split"]][row["baseline"]] = np.array([row[c] for c in cols], dtype=float)
        fronts = self.read("fronts.parquet")
        split = fronts.column("split").to_numpy(zero_copy_only=False)
        values = np.column_stack([fronts.column(c).to_numpy() for c in cols])
        self._fronts = {s: values[split == s] for s in EVAL_SPLITS} if self.front_kind() != "none" else {}
        self._ensembles = None
        if "output_ensembles.parquet" in manifest["files"]:
            t = self.read("output_ensembles.parquet")
            self._ensembles = tuple(
                np.column_stack([t.column(c).to_numpy() for c in group])
                for group in (value_columns(t, "w."), *([f"{s}.{p}" for p in self.parties()] for s in EVAL_SPLITS))
            )

    def read(self, name: str) -> pa.Table:
        """A verified file of the export (`load` checked every sha256)."""
        if name not in self.manifest["files"]:
            raise InputError(f"{self.directory}: the {self.name} export lacks {name}")
        return pq.read_table(self.directory / name)

    def scenario_name(self) -> str:
        return self.instance.scenario_name

    def metric(self) -> str:
        return self.instance.metric

    def train_parties(self) -> list[str]:
        return list(self.manifest.get("train_parties", []))

    def member_kinds(self) -> list[str]:
        return list(self.instance.members)

    def baselines(self, split="test"):
        check_split(split)
        return {k: v.copy() for k, v in self._baselines[split].items()}

    def front_kind(self):
        return self.instance.front

    def exact_front(self, split="val"):
        check_split(split)
        return self._fronts[split].copy() if self._fronts else None

    def max_cost(self) -> float:
        return float(self.manifest["max_cost"])

    def output_ensembles(self):
        return None if self._ensembles is None else tuple(a.copy() for a in self._ensembles)

    def optuna(self, split: str = "val") -> "OptunaProblem":
        return as_optuna(self, split)

    def read_ensemble(self, keys: list[str]) -> tuple[dict, dict]:
        """probs[(party, split)] (index shape of `keys`..., N, *S) float32 and labels[(party, split)]."""
        sample_shape, label_shape = tuple(self.manifest["sample_shape"]), tuple(self.manifest["label_shape"])
        labels = {}
        for p, s, t in by_party_split(self.read("labels.parquet")):
            cols = ["y"] if "y" in t.column_names else value_columns(t, "y.")
            labels[p, s] = dense(t, ["sample"], (len(t),), cols, np.int64).reshape(len(t), *label_shape)
        shape = tuple(self.manifest["shape"])  # the index shape before the sample axis
        probs = {}
        for p, s, t in by_party_split(self.read("probs.parquet")):
            n = len(labels[p, s])
            probs[p, s] = dense(t, [*keys, "sample"], (*shape, n), value_columns(t, "p.")).reshape(
                *shape, n, *sample_shape
            )
        return probs, labels


class LoadedEnsembleWeights(TableProblem):
    """ensemble-weights from its table: the members' probabilities, scored by `moo.scoring`."""

    variable_kinds = frozenset({"real"})
    summary = "ensemble-weights loaded from an exported table"

    def __init__(self, manifest, directory):
        super().__init__(manifest, directory)
        probs, labels = self.read_ensemble(["member"])
        self.flops = self.read("members.parquet").column("flops").to_numpy().astype(float)
        self.scorers: dict[tuple[str, str], WeightedScores] = {
            k: weighted_scores(probs[k], labels[k], self.metric()) for k in probs
        }

    def _lookup(self, matrix, split):
        return weighting_objectives(normalize(matrix), self.objectives, lambda p: self.scorers[p, split], self.flops)


class LoadedStitchEnsemble(StitchEnsembleClaims, TableProblem):
    """A stitch-ensemble with alpha on a grid, from its `EnsembleTable`."""

    variable_kinds = frozenset({"categorical", "real"})
    summary = "stitch-ensemble (alpha on a grid) loaded from an exported table"

    def __init__(self, manifest, directory):
        super().__init__(manifest, directory)
        probs, labels = self.read_ensemble(["point", "level", "member"])
        alphas = self.read("alphas.parquet")
        points = self.read("points.parquet")
        order = np.argsort(points.column("point").to_numpy())
        branch = np.column_stack([points.column(c).to_numpy() for c in value_columns(points, "branch.")])
        full = self.read("members.parquet").column("flops").to_numpy().astype(float)
        self.alpha = next(v for v in self.variables if v.name == "alpha")
        grid = alphas.column("alpha").to_numpy()[np.argsort(alphas.column("level").to_numpy())]
        if self.alpha.levels != len(grid) or not np.array_equal(self.alpha.grid(), grid):
            raise InputError(f"{directory}: variable alpha has {self.alpha.levels} levels, alphas.parquet {len(grid)}")
        self.table = EnsembleTable(
            grid,
            probs,
            labels,
            self.metric(),
            full,
            points.column("prefix").to_numpy().astype(float)[order],
            branch.astype(float)[order],
        )

    def _lookup(self, matrix, split):
        return self.table.lookup(
            matrix[:, 0], self.alpha.level(matrix[:, 1]), matrix[:, 2:], [o.party for o in self.objectives], split
        )


class LoadedStitchGraph(TableProblem):
    """A tabular stitch graph (a point subset), from its `GraphTable`."""

    variable_kinds = frozenset({"binary", "categorical"})
    summary = "stitch-graph (a point subset) loaded from an exported table"

    def __init__(self, manifest, directory):
        super().__init__(manifest, directory)
        arrays = {}
        for name in manifest["graph_arrays"]:
            t = self.read(f"graph.{name}.parquet")
            cols = value_columns(t, "c.")
            arrays[name] = (
                np.column_stack([t.column(c).to_numpy() for c in cols]) if cols else t.column("value").to_numpy()
            )
        self.table = GraphTable.from_arrays(arrays)

    def _lookup(self, matrix, split):
        return self.table.lookup(matrix, split)


LOADERS = {
    "ensemble-weights": LoadedEnsembleWeights,
    "stitch-ensemble": LoadedStitchEnsemble,
    "stitch-graph": LoadedStitchGraph,
}


def load(directory: str | Path, manifest_sha256: str | None = None) -> TableProblem:
    """The tabular problem exported to `directory`, after verifying every file's sha256 (a mismatch raises
    `TableIntegrityError`, an InputError naming the file and both hashes)."""
    manifest = read_manifest(Path(directory), manifest_sha256)
    try:
        return LOADERS[manifest["family"]](manifest, Path(directory))
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, pa.ArrowException) as e:  # consistent hashes, malformed content
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
