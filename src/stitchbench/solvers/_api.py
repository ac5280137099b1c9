"""The solver API and the evaluator that owns the budget.

A solver asks the evaluator for objective values; the evaluator counts every requested evaluation, logs
each one (1-based index, decision, objectives on val, wall time, fidelity and cost), serves at most `budget`
full-fidelity evaluations' worth of them (an evaluation at fidelity f costs the fraction of val samples it
scores; a batch that does not fit is cut), and refuses any further request by raising BudgetExhausted, which
ends the solver's run cleanly. It also raises JobTimeout once a configured time limit has passed.
"""

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from stitchbench.moo._api import Problem


class BudgetExhausted(Exception):
    """The budget is spent: the solver must stop."""


class JobTimeout(Exception):
    """The job ran past its time limit."""


@dataclass
class Evaluation:
    index: int  # 1-based
    x: np.ndarray  # numeric encoding
    f: np.ndarray  # objectives on the search split
    seconds: float
    fidelity: float = 1.0  # the fraction of val samples scored
    cost: float = 1.0  # in full-fidelity evaluations


@dataclass
class Evaluator:
    problem: Problem
    budget: int
    split: str = "val"
    time_limit: float | None = None
    log: list[Evaluation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.deadline = None if self.time_limit is None else time.monotonic() + self.time_limit
        self.spent = Fraction(0)  # full-fidelity evaluations spent, exactly

    def past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    @property
    def remaining(self) -> int:
        """Full-fidelity evaluations left."""
        return math.floor(self.budget - self.spent)

    def fits(self, fidelity: float = 1.0) -> int:
        """Evaluations at `fidelity` left in the budget."""
        return math.floor((self.budget - self.spent) / self.problem.with_fidelity(fidelity).fidelity_cost)

    def __call__(self, X: Any, fidelity: float = 1.0) -> np.ndarray:
        """Objectives of a batch of decisions at `fidelity` (on val; see `Problem.with_fidelity`); at most
        `fits(fidelity)` rows are evaluated (and returned). Past the deadline no batch starts (JobTimeout); one
        that has started runs to its end."""
        if self.past_deadline():
            raise JobTimeout(f"time limit of {self.time_limit} s exceeded after {len(self.log)} evaluations")
        problem, fits = self.problem.with_fidelity(fidelity), self.fits(fidelity)
        if fits <= 0:
            raise BudgetExhausted(f"budget of {self.budget} evaluations is spent ({float(self.spent):g} used)")
        matrix = self.problem.to_matrix(X)[:fits]
        start = time.perf_counter()
        F = problem.evaluate(matrix, self.split)
        each = (time.perf_counter() - start) / max(1, len(matrix))
        self.spent += problem.fidelity_cost * len(matrix)
        cost = float(problem.fidelity_cost)
        for x, f in zip(matrix, F, strict=True):
            self.log.append(Evaluation(len(self.log) + 1, x, f, each, problem.fidelity, cost))
        return F

    def X(self) -> np.ndarray:
        return np.array([e.x for e in self.log]).reshape(len(self.log), len(self.problem.variables))


class Solver(ABC):
    """A multi-objective solver. Subclasses take their parameters as keyword arguments in __init__."""

    name: ClassVar[str]
    supports: ClassVar[frozenset[str]]

    @classmethod
    def job_params(cls, params: dict[str, Any], job_id: str, run_dir: Path) -> dict[str, Any]:
        """A job's parameters as its solver will get them, called in the driver once per job before any job
        starts (e.g. to put files in the run directory or create a shared resource once). Default: as given."""
        return params

    def check_budget(self, budget: int) -> None:
        """Refuse (an InputError) parameters no search of `budget` evaluations can honour. Default: none."""
        return None

    @abstractmethod
    def solve(self, problem: Problem, evaluator: Evaluator, budget: int, seed: int) -> None:
        """Search until the evaluator's budget is spent (BudgetExhausted may end it) or the solver is done."""
