"""The solver API and the evaluator that owns the budget.

A solver asks the evaluator for objective values; the evaluator counts every requested evaluation, logs
each one (1-based index, decision, objectives on val, wall time), serves at most `budget` of them (a batch
that does not fit is cut), and refuses any further request by raising BudgetExhausted, which ends the
solver's run cleanly. It also raises JobTimeout once a configured time limit has passed.
"""

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from stitchbench.deprecation import deprecated
from stitchbench.moo.api import Problem


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


@dataclass
class Evaluator:
    problem: Problem
    budget: int
    split: str = "val"
    time_limit: float | None = None
    log: list[Evaluation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.deadline = None if self.time_limit is None else time.monotonic() + self.time_limit

    def past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    @property
    def remaining(self) -> int:
        return self.budget - len(self.log)

    def __call__(self, X: Any) -> np.ndarray:
        """Objectives of a batch of decisions; at most `remaining` rows are evaluated (and returned). Past
        the deadline no batch starts (JobTimeout); one that has started runs to its end."""
        if self.past_deadline():
            raise JobTimeout(f"time limit of {self.time_limit} s exceeded after {len(self.log)} evaluations")
        if self.remaining <= 0:
            raise BudgetExhausted(f"budget of {self.budget} evaluations is spent")
        matrix = self.problem.to_matrix(X)[: self.remaining]
        start = time.perf_counter()
        F = self.problem.evaluate(matrix, self.split)
        each = (time.perf_counter() - start) / max(1, len(matrix))
        for x, f in zip(matrix, F, strict=True):
            self.log.append(Evaluation(len(self.log) + 1, x, f, each))
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
        starts (e.g. to put files in the run directory or create a shared resource once). Default: as given
        (a solver that still overrides the deprecated `prepare` gets that called, with a warning)."""
        if "prepare" in vars(cls) or any("prepare" in vars(k) for k in cls.__mro__[1:] if k is not Solver):
            deprecated(f"{cls.__name__}.prepare()", "Solver.job_params()")
            return cls.prepare(params, job_id, run_dir)
        return params

    def check_budget(self, budget: int) -> None:
        """Refuse (an InputError) parameters no search of `budget` evaluations can honour. Default: none."""
        return None

    @abstractmethod
    def solve(self, problem: Problem, evaluator: Evaluator, budget: int, seed: int) -> None:
        """Search until the evaluator's budget is spent (BudgetExhausted may end it) or the solver is done."""
