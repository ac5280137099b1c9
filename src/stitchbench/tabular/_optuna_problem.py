"""A problem as an optunahub benchmark (torch-free): `OptunaProblem` has the surface of optunahub's
`benchmarks.BaseProblem` (and is a subclass of it where optunahub is installed): `search_space`,
`directions`, `metric_names`, `evaluate(params)` and `__call__(trial)`. It is a module-level class, so a
problem pickles (for multiprocess Optuna, or to ship it)."""

from collections.abc import Mapping
from typing import Any

import optuna

from stitchbench.moo._adapters import optuna_space
from stitchbench.moo._api import Problem
from stitchbench.moo._splits import check_split

from ._fidelity import val_sizes

try:
    from optunahub.benchmarks import BaseProblem
except ImportError:  # optunahub is optional: the same surface without its base class
    BaseProblem = object


def suggest(trial: optuna.Trial, name: str, dist: optuna.distributions.BaseDistribution) -> Any:
    """A value of `dist` from an Optuna trial, through the public suggest API."""
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, optuna.distributions.IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)


class OptunaProblem(BaseProblem):
    """`problem` scored on `split` at `fidelity` (the fraction of val samples scored; tabular instances, see
    `stitchbench.tabular._fidelity`). Params are by variable name, categoricals by choice name; a gridded real
    has its grid's `step` (any value takes its nearest grid value)."""

    def __init__(self, problem: Problem, split: str = "val", fidelity: float = 1.0):
        check_split(split)
        self.problem, self.split = problem, split
        self.fidelity = problem.with_fidelity(fidelity).fidelity

    @property
    def fidelity_space(self) -> dict[str, optuna.distributions.FloatDistribution]:
        """The fidelities `evaluate` takes: from one val sample of the party with fewest to all of them."""
        sizes = val_sizes(self.problem)
        return {"fidelity": optuna.distributions.FloatDistribution(1 / min(sizes.values()) if sizes else 1.0, 1.0)}

    def cost(self, fidelity: float | None = None) -> float:
        """One evaluation's cost at `fidelity` (default: this problem's) in full-fidelity evaluations: the
        fraction of val samples it scores."""
        return float(self.problem.with_fidelity(self.fidelity if fidelity is None else fidelity).fidelity_cost)

    @property
    def search_space(self) -> dict[str, optuna.distributions.BaseDistribution]:
        return optuna_space(self.problem)

    @property
    def directions(self) -> list[optuna.study.StudyDirection]:
        d = optuna.study.StudyDirection
        return [d.MAXIMIZE if o.direction == "max" else d.MINIMIZE for o in self.problem.objectives]

    @property
    def metric_names(self) -> list[str]:
        """The objectives' names, for `study.set_metric_names`."""
        return [o.name for o in self.problem.objectives]

    def evaluate(self, params: Mapping[str, Any], fidelity: float | None = None) -> list[float]:
        """The objectives of `params` at `fidelity` (default: this problem's)."""
        problem = self.problem.with_fidelity(self.fidelity if fidelity is None else fidelity)
        return [float(v) for v in problem.evaluate([dict(params)], self.split)[0]]

    def __call__(self, trial: optuna.Trial) -> list[float]:
        return self.evaluate({name: suggest(trial, name, d) for name, d in self.search_space.items()})
