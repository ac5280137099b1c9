"""The problem API: typed named variables, named objectives, batched evaluation with memoization.
Torch-free, so tabular problems load and run without the stitching layer.

Decision vectors are rows of a float matrix in the *numeric encoding*: reals and integers as themselves,
binaries as 0/1, categoricals as the index of the choice. Rows may also be given as dicts by name
(categoricals by choice name). Every objective is a score to maximize, except cost (FLOPs, minimized).
"""

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar, Literal

import numpy as np

from stitchbench.errors import InputError

from ._splits import check_split

INJECTABLE = ("zoo", "zoo_seed", "cache_dir")  # what the framework can pass a family: never a suite's to set
VariableKind = Literal["real", "integer", "categorical", "binary"]


@dataclass(frozen=True)
class Variable:
    name: str
    kind: VariableKind
    low: float = 0.0
    high: float = 1.0
    choices: tuple[str, ...] = ()
    levels: int = 0  # real variables on a grid: this many evenly spaced values from low to high (0: continuous)

    @property
    def bounds(self) -> tuple[float, float]:
        if self.kind == "categorical":
            return 0, len(self.choices) - 1
        return (0, 1) if self.kind == "binary" else (self.low, self.high)

    def check(self, value: Any) -> float:
        """The value in numeric encoding, or an InputError naming this variable."""
        if self.kind == "categorical" and isinstance(value, str):
            if value not in self.choices:
                raise InputError(f"variable {self.name!r}: unknown choice {value!r}; valid: {', '.join(self.choices)}")
            return float(self.choices.index(value))
        try:
            v = float(value)
        except (TypeError, ValueError) as e:
            raise InputError(f"variable {self.name!r}: {value!r} is not a number") from e
        if not math.isfinite(v):
            raise InputError(f"variable {self.name!r}: value {v} is not finite")
        lo, hi = self.bounds
        if not lo <= v <= hi:
            raise InputError(f"variable {self.name!r}: value {v} is outside its bounds [{lo}, {hi}]")
        if self.kind != "real" and v != round(v):
            raise InputError(f"variable {self.name!r} ({self.kind}): value {v} is not a whole number")
        return v

    def grid(self) -> np.ndarray:
        """The values of a gridded real variable (see `levels`)."""
        return np.linspace(self.low, self.high, self.levels)

    def level(self, values: np.ndarray) -> np.ndarray:
        """Index of the nearest grid value of each value (a gridded variable takes its nearest grid value)."""
        return np.rint((np.asarray(values) - self.low) / (self.high - self.low) * (self.levels - 1)).astype(int)

    def record(self) -> dict[str, Any]:
        """The variable as JSON-able data (for problem instance records)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "low": self.low,
            "high": self.high,
            "choices": list(self.choices),
            "levels": self.levels,
        }

    def describe(self) -> str:
        if self.kind == "categorical":
            return f"{self.name}: categorical {{{', '.join(self.choices)}}}"
        if self.kind == "binary":
            return f"{self.name}: binary"
        grid = f" on {self.levels} levels (a value takes the nearest)" if self.levels else ""
        return f"{self.name}: {self.kind} [{self.low:g}, {self.high:g}]{grid}"


@dataclass(frozen=True)
class Objective:
    name: str
    direction: Literal["max", "min"]
    party: str | None  # None for cost

    def describe(self) -> str:
        what = f"{self.name} score" if self.party else "cost (FLOPs per sample)"
        return f"{what}, {'maximize' if self.direction == 'max' else 'minimize'}"


class Problem(ABC):
    """A multi-objective problem over named variables; objectives per party (+ optional cost).

    What a family implements (the whole contract: docs/plugins.md): `variable_kinds` (the variable kinds
    its instances have), an `__init__` that sets `name`, `variables`, `objectives` and `zoo` (the models it
    combines), `_evaluate` (objective vectors of distinct canonical rows, memoized here) and `baselines`;
    where it can, `exact_front` (with `front_kind`). Everything else has a working default. A family whose
    objective vectors are looked up in precomputed tables subclasses `TabularProblem` instead.

    Reference fronts: `exact_front(split)` gives the problem's front where it can be computed (None where
    not), and `front_kind()` says what it is: "exact" when it is the true front of the problem on every
    split (every attainable objective vector is weakly dominated by one of its points, and each point is
    attained), "approximate" when it is an approximation (a grid's front), "none" when absent. Indicators
    against a front that is not exact are labelled approximate.

    Data ledger: `data_reads()` names the parties whose labelled splits the problem reads.
    The runner relies on nothing else: what results need of a problem goes into its `ProblemInstance`.
    """

    variable_kinds: ClassVar[frozenset[str]]
    summary: ClassVar[str]
    hosted: ClassVar[bool] = False  # takes a `host` party (suites build one instance per host)
    injected: ClassVar[frozenset[str]] = frozenset({"zoo", "zoo_seed"})  # passed by the framework (INJECTABLE)
    fidelity: float = 1.0  # the fraction of val samples scored (`with_fidelity`)
    fidelity_cost: Fraction = Fraction(1)  # one evaluation's cost in full-fidelity evaluations
    name: str
    variables: list[Variable]
    objectives: list[Objective]
    zoo: Any  # the Zoo whose models it combines (tabular problems have none)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Refuse a family written against the flag-based contract (before 0.2), naming what to implement."""
        super().__init_subclass__(**kwargs)
        flagged = "tabular" in vars(cls) or "_lookup" in vars(cls)
        if flagged and not issubclass(cls, globals().get("TabularProblem", cls)):  # (TabularProblem itself: ok)
            raise TypeError(
                f"{cls.__qualname__} sets 'tabular' or implements '_lookup' on a Problem: the tabular flag is "
                "gone; subclass stitchbench.moo.TabularProblem and implement '_lookup(matrix, split)' "
                "(docs/plugins.md)"
            )

    def __init__(self) -> None:
        self._memo: dict[tuple[str, tuple], np.ndarray] = {}
        self.evaluations = 0  # distinct (canonical) evaluations actually computed

    # --- the surface solvers and reports use ---
    @property
    def kinds(self) -> set[str]:
        return {v.kind for v in self.variables}

    @property
    def maximize(self) -> np.ndarray:
        return np.array([o.direction == "max" for o in self.objectives])

    def parties(self) -> list[str]:
        return [o.party for o in self.objectives if o.party]

    def scenario_name(self) -> str:
        return self.zoo.scenario.name

    def metric(self) -> str:
        return self.zoo.scenario.metric

    def with_fidelity(self, fidelity: float) -> "Problem":
        """This problem scoring a fraction of its val samples (tabular instances: `stitchbench.tabular._fidelity`);
        at fidelity 1, the problem itself. A live problem has only fidelity 1."""
        if fidelity == 1:
            return self
        raise InputError(
            f"{self.name!r} evaluates live and has no fidelities (asked for {fidelity!r}); valid: 1; tabular "
            "instances score any fraction in (0, 1] of their val samples"
        )

    def numeric_bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each variable's lowest and highest value in the numeric encoding, and whether it is whole; kept
        with the variables list it was computed from (one evaluation at a time pays it once; a list grown
        or replaced is computed again)."""
        kept = self.__dict__.get("_numeric_bounds")
        if kept is None or kept[0] is not self.variables or len(kept[1]) != len(self.variables):
            lo, hi = np.array([v.bounds for v in self.variables], dtype=float).reshape(-1, 2).T
            kept = (self.variables, lo, hi, np.array([v.kind != "real" for v in self.variables]))
            self.__dict__["_numeric_bounds"] = kept
        return kept[1:]

    def to_matrix(self, X: Any) -> np.ndarray:
        """Validate decision vectors (rows of numbers, or dicts by name) into the numeric encoding."""
        if isinstance(X, np.ndarray) and X.dtype.kind in "iuf" and X.ndim == 2 and X.shape[1] == len(self.variables):
            matrix = X.astype(float)
            lo, hi, whole = self.numeric_bounds()
            if matrix.size and np.isfinite(lo[0] + hi[0]) and (lo == lo[0]).all() and (hi == hi[0]).all():
                ok = matrix.min() >= lo[0] and matrix.max() <= hi[0]  # one pair of bounds (a NaN is in neither)
            else:
                ok = (np.isfinite(matrix) & (matrix >= lo) & (matrix <= hi)).all()
            if ok and whole.any():  # rounded only where some variable is whole
                columns = matrix if whole.all() else matrix[:, whole]
                ok = (columns == np.round(columns)).all()
            if ok:  # the fast path of numeric batches; otherwise the row-wise checks name the bad value
                return matrix
        rows = [X] if isinstance(X, Mapping) else list(X)
        out = np.empty((len(rows), len(self.variables)))
        for i, row in enumerate(rows):
            if isinstance(row, Mapping):
                missing = [v.name for v in self.variables if v.name not in row]
                extra = sorted(set(row) - {v.name for v in self.variables})
                if missing or extra:
                    raise InputError(
                        f"decision {i}: missing variables {missing}, unknown variables {extra}; "
                        f"variables of {self.name!r}: {', '.join(v.name for v in self.variables)}"
                    )
                values = [row[v.name] for v in self.variables]
            else:
                values = list(np.asarray(row, dtype=object).ravel())
                if len(values) != len(self.variables):
                    raise InputError(
                        f"decision {i} has {len(values)} values; {self.name!r} has {len(self.variables)} variables: "
                        + ", ".join(v.name for v in self.variables)
                    )
            out[i] = [v.check(x) for v, x in zip(self.variables, values, strict=True)]
        return out

    def evaluate(self, X: Any, split: str = "val") -> np.ndarray:
        """Objective matrix (n, n_objectives) of decision vectors X; identical canonical vectors once."""
        check_split(split)
        matrix = self.to_matrix(X)
        keys = [(split, self.canonical(row)) for row in matrix]
        todo = list(dict.fromkeys(k for k in keys if k not in self._memo))
        if todo:
            values = self._evaluate([np.array(k[1]) for k in todo], split)
            for k, v in zip(todo, values, strict=True):
                self._memo[k] = v
            self.evaluations += len(todo)
        return np.array([self._memo[k] for k in keys]).reshape(len(keys), len(self.objectives))

    def decode(self, row: np.ndarray) -> dict[str, Any]:
        """A numeric row as {name: value}, categoricals by choice name."""
        return {
            v.name: v.choices[int(x)] if v.kind == "categorical" else (int(x) if v.kind != "real" else float(x))
            for v, x in zip(self.variables, row, strict=True)
        }

    def record(self) -> dict[str, Any]:
        """The problem as JSON-able data: name, variables, objectives, front exactness, data ledger."""
        return {
            "name": self.name,
            "variables": [v.describe() for v in self.variables],
            "objectives": [o.describe() for o in self.objectives],
            "front_is_exact": self.front_is_exact,
            "reads": self.data_reads(),
        }

    def data_reads(self) -> dict[str, list[str]]:
        """Parties whose labelled splits the problem reads: "train" (stitch training: the host's alone),
        "val" (the search scores every party's val split), "test" (the report re-scores on test)."""
        return {"train": self.train_parties(), "val": self.parties(), "test": self.parties()}

    def train_parties(self) -> list[str]:
        """Parties whose training data made this problem's own artifacts (none by default)."""
        return []

    # --- what a family implements ---
    @classmethod
    def check_params(cls, scenario: Any, zoo_archs: list[str], params: dict[str, Any]) -> None:
        """Reject bad parameter values before anything is built or trained; names are checked by the
        registry. `zoo_archs`: the architectures the run's zoo will hold. Default: nothing more to check."""
        return None

    @classmethod
    def kinds_with(cls, params: dict[str, Any]) -> frozenset[str]:
        """The variable kinds of an instance with these parameters (what its solvers must support); default:
        `variable_kinds`."""
        return cls.variable_kinds

    @classmethod
    def untabular_reason(cls, params: dict[str, Any]) -> str | None:
        """None where the family with these parameters serves its objectives from a table; otherwise what
        would make it tabular (the export and the collection say so before building anything)."""
        return f"{cls.__name__} has no tabular form"

    def canonical(self, row: np.ndarray) -> tuple:
        """The canonical form of a row: equal forms mean equal candidates (default: the row itself)."""
        return tuple(float(x) for x in row)

    @abstractmethod
    def _evaluate(self, rows: Sequence[np.ndarray], split: str) -> list[np.ndarray]:
        """The objective vectors of distinct canonical rows (`evaluate` memoizes them).

        Args:
            rows: validated decision vectors in the numeric encoding, one canonical form each.
            split: "val" (what solvers search) or "test" (what the report re-scores).
        Returns:
            One float vector per row, in the order of `objectives`.
        """

    @abstractmethod
    def baselines(self, split: str = "test") -> dict[str, np.ndarray]:
        """Named reference objective vectors (e.g. `local:<party>`, `ensemble`) on `split`.

        Returns:
            {name: float vector in the order of `objectives`}.
        """

    def exact_front(self, split: str = "val") -> np.ndarray | None:
        """The front where the space can be enumerated, or approximated on a grid (see `front_kind`);
        None otherwise."""
        return None

    def front_kind(self) -> Literal["exact", "approximate", "none"]:
        return "none"

    @property
    def front_is_exact(self) -> bool:
        return self.front_kind() == "exact"

    def max_cost(self) -> float:
        return 0.0

    def output_ensembles(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """For problems that combine members beyond an output ensemble: the front of the members' weighted
        output ensembles (weights, val scores, test scores per party), chosen on val; None otherwise."""
        return None

    def artifacts(self) -> dict[str, Any]:
        """The stored artifacts (models, stitch sets) this problem uses, by name (each with `path` and a
        `manifest` holding its `sha256`)."""
        return {}


class TabularProblem(Problem):
    """A problem whose objective vectors are looked up in precomputed tables: a family implements `_lookup`
    (vectorized, over whole batches) instead of `_evaluate`. Every row is looked up (that costs less than
    the memo's keys); `stitchbench.tabular` serves its tables' families this way."""

    @abstractmethod
    def _lookup(self, matrix: np.ndarray, split: str) -> np.ndarray:
        """The objective matrix of a validated batch, vectorized (not memoized).

        Args:
            matrix: (n, len(variables)) decision vectors in the numeric encoding.
            split: "val" or "test".
        Returns:
            (n, len(objectives)) floats, in the order of `objectives`.
        """

    def evaluate(self, X: Any, split: str = "val") -> np.ndarray:
        check_split(split)
        matrix = self.to_matrix(X)
        self.evaluations += len(matrix)
        return self._lookup(matrix, split)

    def _evaluate(self, rows: Sequence[np.ndarray], split: str) -> list[np.ndarray]:
        return list(self._lookup(np.array(rows), split))

    @classmethod
    def untabular_reason(cls, params: dict[str, Any]) -> str | None:
        return None


def sample_uniform(problem: Problem, n: int, rng: np.random.Generator) -> np.ndarray:
    """n decisions drawn uniformly from the space, in numeric encoding."""
    cols = []
    for v in problem.variables:
        lo, hi = v.bounds
        cols.append(rng.uniform(lo, hi, n) if v.kind == "real" else rng.integers(int(lo), int(hi) + 1, n))
    return np.stack(cols, 1).astype(float)
