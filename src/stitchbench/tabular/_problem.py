"""Problems served from a table (torch-free): one table class per table kind (`WeightsTable`,
`EnsembleTable`, `GraphTable`) scores candidates, gives the front and claim 4's pools, and writes and reads
its own files. `TableBackedProblem` is the problem side of any of them, the base of the builders' tabular
families (which build their table) and of `TableProblem`, an exported table loaded without torch."""

import copy
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from stitchbench.moo._api import Objective, TabularProblem, Variable
from stitchbench.moo._instance import ProblemInstance
from stitchbench.moo._pools import ClaimPools
from stitchbench.moo._splits import EVAL_SPLITS, check_split

from ._ensemble import EnsembleTable
from ._fidelity import check_fidelity, fidelity_cost, prefix
from ._files import column, read, value_columns
from ._graph import GraphTable
from ._grid import ONE_SHOT_FAMILIES, GridTable
from ._weights import WeightsTable


class Table(Protocol):
    family: str  # a class attribute, or an instance's (`GridTable` serves three families)

    def lookup(self, matrix: np.ndarray, objectives: list[str | None], split: str) -> np.ndarray: ...
    def val_samples(self, party: str) -> int: ...
    def restrict(self, keep: dict[str, np.ndarray], objectives: list[str | None]) -> "Table": ...
    def front_kind(self) -> str: ...
    def front(self, objectives: list[str | None], maximize: np.ndarray, split: str) -> np.ndarray: ...
    def stitch_alpha(self, matrix: np.ndarray) -> np.ndarray | None: ...
    def check_variables(self, variables: list[Variable]) -> None: ...
    def claim_pools(self, parties: list[str]) -> ClaimPools | None: ...
    def write(self, directory: Path) -> dict[str, Any]: ...


TABLES: dict[str, type] = {t.family: t for t in (WeightsTable, EnsembleTable, GraphTable)}
TABLES |= dict.fromkeys(ONE_SHOT_FAMILIES, GridTable)


class TableBackedProblem(TabularProblem):
    """A tabular problem served by one of the tables above (`self.table`): its lookups, fidelities and front
    come from the table, exactly as for the same table loaded without torch (`TableProblem`)."""

    table: Table
    full: "TableBackedProblem | None" = None  # a fidelity view's instance at fidelity 1

    def objective_parties(self) -> list[str | None]:
        """Each objective's party (None: cost), in order: what a table scores."""
        return [o.party for o in self.objectives]

    def _lookup(self, matrix: np.ndarray, split: str) -> np.ndarray:
        return self.table.lookup(matrix, self.objective_parties(), split)

    def with_fidelity(self, fidelity: float) -> "TableBackedProblem":
        """A view of this instance that scores each party's val split on the prefix of its samples that
        `fidelity` takes (`stitchbench.tabular._fidelity`), with its `fidelity` and `fidelity_cost`; at
        fidelity 1 the instance itself. Views are cached per fidelity; baselines and test stay whole."""
        f, base = check_fidelity(fidelity), self.full or self
        if f == 1:
            return base
        views = base.__dict__.setdefault("_fidelity_views", {})
        if f not in views:
            sizes = {p: base.table.val_samples(p) for p in base.parties()}  # refuses a table without samples
            view = copy.copy(base)
            view._memo, view.evaluations, view.full = {}, 0, base
            view.table = base.table.restrict({p: prefix(p, n, f) for p, n in sizes.items()}, base.objective_parties())
            view.fidelity, view.fidelity_cost = f, fidelity_cost(sizes, f)
            views[f] = view
        return views[f]

    def front_kind(self):
        return self.table.front_kind()

    def exact_front(self, split: str = "val") -> np.ndarray | None:
        check_split(split)
        return self.table.front(self.objective_parties(), self.maximize, split)


class TableProblem(TableBackedProblem):
    """An exported table loaded without torch (see `stitchbench.tabular._load`): the API of the instance it
    was exported from, with `instance` (its ProblemInstance record) and `optuna()` (an optunahub-style
    benchmark problem). Baselines and fronts are the exported ones."""

    zoo = None

    def __init__(self, manifest: dict[str, Any], directory: Path, table: Table):
        super().__init__()
        self.directory, self.manifest, self.table = Path(directory), manifest, table
        self.instance = ProblemInstance(**manifest["instance"])
        self.name = manifest["instance"]["id"]  # the instance's name; its family is `manifest["family"]`
        self.variables = [Variable(**{**v, "choices": tuple(v["choices"])}) for v in manifest["variables"]]
        table.check_variables(self.variables)
        self.variable_kinds = frozenset(v.kind for v in self.variables)
        self.summary = f"{manifest['family']} loaded from an exported table"
        self.objectives = [Objective(**o) for o in manifest["objectives"]]
        cols = [f"f.{o.name}" for o in self.objectives]
        self._baselines: dict[str, dict[str, np.ndarray]] = {s: {} for s in EVAL_SPLITS}
        baselines = read(directory, manifest, "baselines.parquet")
        values = np.column_stack([column(baselines, c) for c in cols]).astype(float).reshape(-1, len(cols))
        names = (column(baselines, c).tolist() for c in ("split", "baseline"))
        for s, b, v in zip(*names, values, strict=True):
            self._baselines[s][b] = v
        fronts = read(directory, manifest, "fronts.parquet")
        split = column(fronts, "split")
        values = np.column_stack([column(fronts, c) for c in cols])
        self._fronts = {s: values[split == s] for s in EVAL_SPLITS}
        self._ensembles = None
        if "output_ensembles.parquet" in manifest["files"]:
            t = read(directory, manifest, "output_ensembles.parquet")
            self._ensembles = tuple(
                np.column_stack([column(t, c) for c in group])
                for group in (value_columns(t, "w."), *([f"{s}.{p}" for p in self.parties()] for s in EVAL_SPLITS))
            )

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

    def exact_front(self, split="val"):
        check_split(split)
        if self.fidelity < 1 and split == "val":  # the exported front is fidelity 1's
            return super().exact_front(split)
        return self._fronts[split].copy()

    def max_cost(self) -> float:
        return float(self.manifest["max_cost"])

    def output_ensembles(self):
        return None if self._ensembles is None else tuple(a.copy() for a in self._ensembles)

    def optuna(self, split: str = "val", fidelity: float = 1.0):
        from ._optuna_problem import OptunaProblem

        return OptunaProblem(self, split, fidelity)
