"""Problem instances as records: everything downstream of the problems layer needs to know about a problem
built in a run, in one typed, JSON-able record that travels unchanged into the results directory.

Id (contract): `SCENARIO[~PARAMS-DIGEST]/z<ZOO_SEED>/<problem id>`. The digest covers the scenario
parameters that differ from their defaults, so `digits-shift` with `seed = 0` (the default) and with no
parameters are one instance, and two `digits-shift` scenarios with different seeds are two.
"""

from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict

from stitchbench._hashing import canonical_json, config_hash

from ._api import Problem, TabularProblem

FrontKind = Literal["exact", "approximate", "none"]


@runtime_checkable
class Members(Protocol):
    """A problem that combines the zoo's models: their kinds are its record's `members` (its `local:<party>`
    and `ensemble` baselines; the study groups instances by them)."""

    def member_kinds(self) -> list[str]:
        """The kinds of the models it combines, e.g. `local:mnist`."""
        ...


def scenario_key(name: str, params: dict[str, Any], defaults: dict[str, Any]) -> str:
    """`name`, or `name~digest` of the parameters that differ from their defaults."""
    changed = {k: v for k, v in params.items() if canonical_json(v) != canonical_json(defaults.get(k))}
    return f"{name}~{config_hash(changed, 8)}" if changed else name


def instance_id(scenario: str, zoo_seed: int, problem_id: str) -> str:
    return f"{scenario}/z{zoo_seed}/{problem_id}"


class ProblemInstance(BaseModel):
    """One problem built in a run. Scores are maximized in [0, 1]; cost (FLOPs per sample) is minimized and
    normalized by `bounds` (its costliest candidate), so hypervolumes are comparable across instances."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    problem_id: str
    scenario: str  # the scenario key: name[~digest]
    scenario_name: str
    scenario_params: dict[str, Any]
    zoo_seed: int
    family: str
    params: dict[str, Any]
    host: str | None
    parties: list[str]
    metric: str
    objectives: list[str]
    maximize: list[bool]
    variables: list[dict[str, Any]]
    bounds: list[tuple[float, float]]  # per objective: the range mapped onto [0, 1] before indicators
    reference_point: list[float]  # in normalized objective space
    front: FrontKind  # what exact_fronts.parquet holds for this instance
    tabular: bool = False  # objective vectors looked up in precomputed tables (False: computed live)
    artifacts: dict[str, str]  # artifact name -> sha256 of the weights it used
    members: list[str] = []  # kinds of the models it combines (its `local:<party>` and `ensemble` baselines)
    sources: dict[str, str] = {}  # each party's data source and acquisition (equal: one source; claim 2)

    def normalize(self, F: np.ndarray) -> np.ndarray:
        """Objectives mapped by `bounds` onto [0, 1] (directions unchanged)."""
        return normalized(F, self.bounds)

    def party_columns(self) -> list[int]:
        return [self.objectives.index(p) for p in self.parties]


def normalized(F: np.ndarray, bounds: list[tuple[float, float]]) -> np.ndarray:
    """Objectives (n, k) mapped by their bounds onto [0, 1] (directions unchanged; an empty range: as is)."""
    lo, hi = np.array(bounds, dtype=float).T
    return (np.asarray(F, dtype=float) - lo) / np.where(hi > lo, hi - lo, 1.0)


def objective_bounds(problem) -> list[tuple[float, float]]:
    """Each objective's range, the units hypervolume is measured in: [0, 1] for a score, [0, largest cost]
    for cost."""
    return [(0.0, 1.0) if o.party else (0.0, float(problem.max_cost())) for o in problem.objectives]


def make_instance(
    problem: Problem,
    problem_id: str,
    family: str,
    params: dict[str, Any],
    scenario: str,
    scenario_params: dict[str, Any],
    zoo_seed: int,
    sources: dict[str, str] | None = None,
) -> ProblemInstance:
    """The record of `problem`, built by the problems layer from the problem's declared API."""
    bounds = objective_bounds(problem)
    return ProblemInstance(
        id=instance_id(scenario, zoo_seed, problem_id),
        problem_id=problem_id,
        scenario=scenario,
        scenario_name=problem.scenario_name(),
        scenario_params=scenario_params,
        zoo_seed=zoo_seed,
        family=family,
        params=dict(params),
        host=params.get("host"),
        parties=problem.parties(),
        metric=problem.metric(),
        objectives=[o.name for o in problem.objectives],
        maximize=[o.direction == "max" for o in problem.objectives],
        variables=[v.record() for v in problem.variables],
        bounds=bounds,
        reference_point=[0.0 if o.party else 1.0 for o in problem.objectives],
        front=problem.front_kind(),
        tabular=isinstance(problem, TabularProblem),
        artifacts={name: a.manifest["sha256"] for name, a in problem.artifacts().items()},
        members=problem.member_kinds() if isinstance(problem, Members) else [],
        sources=dict(sources or {}),
    )
