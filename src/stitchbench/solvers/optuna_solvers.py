"""Optuna's samplers through ask-and-tell: each job its own study, in memory or in a storage URL."""

import logging
import warnings
from collections.abc import Callable

import optuna

from stitchbench.errors import InputError
from stitchbench.problems import Problem, optuna_directions, optuna_space

from .api import Evaluator, Solver
from .builtin import space_size

optuna.logging.set_verbosity(logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

ALL = frozenset({"real", "integer", "categorical", "binary"})


def sampler(kind: str, seed: int, population_size: int):
    s = optuna.samplers
    if kind == "nsga2":
        return s.NSGAIISampler(population_size=population_size, seed=seed)
    if kind == "nsga3":
        return s.NSGAIIISampler(population_size=population_size, seed=seed)
    if kind == "tpe":
        return s.TPESampler(seed=seed, multivariate=True, n_startup_trials=10)
    if kind == "gp":
        return s.GPSampler(seed=seed, n_startup_trials=10)
    if kind == "random":
        return s.RandomSampler(seed=seed)
    if kind == "qmc":
        return s.QMCSampler(seed=seed, scramble=True)
    if kind == "bruteforce":
        return s.BruteForceSampler(seed=seed)
    raise ValueError(kind)


class OptunaSolver(Solver):
    sampler_kind: str
    supports = ALL

    def __init__(
        self, population_size: int = 40, batch: int = 1, storage: str | None = None, study_name: str | None = None
    ):
        if population_size < 2 or batch < 1:
            raise InputError(f"{self.name}: population_size must be >= 2 and batch >= 1")
        self.population_size, self.batch = population_size, batch
        self.storage, self.study_name = storage, study_name

    def solve(self, problem: Problem, evaluator: Evaluator, budget, seed):
        space = optuna_space(problem)
        study = optuna.create_study(
            directions=optuna_directions(problem),
            sampler=sampler(self.sampler_kind, seed, self.population_size),
            storage=self.storage,
            study_name=self.study_name,
            load_if_exists=False,
        )
        limit = space_size(problem) if self.sampler_kind == "bruteforce" else None
        while evaluator.remaining > 0 and (limit is None or len(evaluator.log) < limit):
            trials = [study.ask(space) for _ in range(min(self.batch, evaluator.remaining))]
            F = evaluator([t.params for t in trials])
            for t, f in zip(trials, F, strict=False):
                study.tell(t, [float(v) for v in f])
            for t in trials[len(F) :]:
                study.tell(t, state=optuna.trial.TrialState.FAIL)


def optuna_solver(kind: str, description: str, supports=ALL) -> type[OptunaSolver]:
    return type(
        f"Optuna_{kind}",
        (OptunaSolver,),
        {"name": f"optuna.{kind}", "sampler_kind": kind, "supports": supports, "__doc__": description},
    )


OPTUNA: dict[str, Callable] = {
    "optuna.nsga2": optuna_solver("nsga2", "Optuna NSGA-II sampler"),
    "optuna.nsga3": optuna_solver("nsga3", "Optuna NSGA-III sampler"),
    "optuna.tpe": optuna_solver("tpe", "Optuna multi-objective TPE (multivariate)"),
    "optuna.gp": optuna_solver("gp", "Optuna Gaussian-process sampler (multi-objective)"),
    "optuna.random": optuna_solver("random", "Optuna random sampler"),
    "optuna.qmc": optuna_solver("qmc", "Optuna quasi-Monte Carlo (scrambled Sobol)"),
    "optuna.bruteforce": optuna_solver(
        "bruteforce", "Optuna brute force over a discrete space", frozenset({"integer", "categorical", "binary"})
    ),
}
