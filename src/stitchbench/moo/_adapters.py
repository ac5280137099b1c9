"""One problem definition, two solver families: a pymoo Problem and an Optuna search space."""

import numpy as np
import optuna
from pymoo.core.problem import Problem as PymooBase
from pymoo.core.variable import Binary, Choice, Integer, Real

from ._api import Problem


def pymoo_vars(problem: Problem) -> dict:
    """pymoo's mixed-variable declaration of the problem's variables."""
    out = {}
    for v in problem.variables:
        if v.kind == "real":
            out[v.name] = Real(bounds=(v.low, v.high))
        elif v.kind == "integer":
            out[v.name] = Integer(bounds=(int(v.low), int(v.high)))
        elif v.kind == "binary":
            out[v.name] = Binary()
        else:
            out[v.name] = Choice(options=list(v.choices))
    return out


class PymooProblem(PymooBase):
    """The problem for pymoo (minimization: scores are negated). `mixed` uses pymoo's variable types
    (X rows are dicts); otherwise the numeric encoding with bounds (integers/categoricals as whole numbers)."""

    def __init__(self, problem: Problem, split: str = "val", mixed: bool = False):
        self.problem, self.split, self.mixed = problem, split, mixed
        self.evaluated: list[np.ndarray] = []  # every batch of objective vectors evaluated, as the problem scores
        self.sign = np.where(problem.maximize, -1.0, 1.0)
        n_obj = len(problem.objectives)
        if mixed:
            super().__init__(vars=pymoo_vars(problem), n_obj=n_obj)
        else:
            xl, xu, _ = problem.numeric_bounds()
            super().__init__(n_var=len(xl), n_obj=n_obj, xl=xl, xu=xu)

    def rows(self, X) -> list | np.ndarray:
        """Decision vectors in a form `Problem.evaluate` takes: dicts in mixed form, else a matrix whose whole
        variables are rounded and clipped to their bounds (a matrix takes `to_matrix`'s vectorized checks)."""
        if self.mixed:
            return [{k: (int(v) if isinstance(v, (bool, np.bool_)) else v) for k, v in x.items()} for x in X]
        X = np.array(X, dtype=float)
        lo, hi, whole = self.problem.numeric_bounds()
        X[:, whole] = np.clip(np.round(X[:, whole]), lo[whole], hi[whole])
        return X

    def _evaluate(self, X, out, *args, **kwargs):
        F = self.problem.evaluate(self.rows(X), self.split)
        self.evaluated.append(F)
        out["F"] = self.sign * F

    def archive(self) -> np.ndarray:
        """Every objective vector evaluated so far, as the problem scores them (not negated): what a search
        found, where pymoo's `result.F` holds only its final population."""
        return np.concatenate(self.evaluated) if self.evaluated else np.empty((0, len(self.problem.objectives)))

    def _calc_pareto_front(self, *args, **kwargs):
        """The exact front on this split in pymoo's minimization convention (`pareto_front()`); None where the
        problem knows no exact front."""
        if self.problem.front_kind() != "exact":
            return None
        front = self.problem.exact_front(self.split)
        return None if front is None else self.sign * np.asarray(front, dtype=float)


def to_pymoo(problem: Problem, split: str = "val", mixed: bool = False, fidelity: float = 1.0) -> PymooProblem:
    """The pymoo problem of `problem` at `fidelity` (`Problem.with_fidelity`; its front is that fidelity's)."""
    return PymooProblem(problem.with_fidelity(fidelity), split, mixed)


def optuna_space(problem: Problem) -> dict[str, optuna.distributions.BaseDistribution]:
    """The Optuna search space of the problem (binary as integers 0/1, categoricals by choice name, a gridded
    real with its grid's `step`)."""
    space: dict[str, optuna.distributions.BaseDistribution] = {}
    for v in problem.variables:
        if v.kind == "real":
            step = (v.high - v.low) / (v.levels - 1) if v.levels else None
            space[v.name] = optuna.distributions.FloatDistribution(v.low, v.high, step=step)
        elif v.kind in ("integer", "binary"):
            lo, hi = v.bounds
            space[v.name] = optuna.distributions.IntDistribution(int(lo), int(hi))
        else:
            space[v.name] = optuna.distributions.CategoricalDistribution(list(v.choices))
    return space


def optuna_directions(problem: Problem) -> list[str]:
    return ["maximize" if o.direction == "max" else "minimize" for o in problem.objectives]
