"""A per-process workspace of zoos and problems: built once, reused by later jobs; only the most recently
used problems stay in memory (as jobs come in instance order). Running a job is `stitchbench.benchmark._jobs`."""

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch

from stitchbench._hashing import canonical_json
from stitchbench.data import Scenario, get_scenario
from stitchbench.moo import Problem, ProblemInstance, make_instance
from stitchbench.problems import create_problem
from stitchbench.problems._registry import injected_params, suite_parameters
from stitchbench.tabular._load import load_shipped
from stitchbench.zoo import Zoo, build_zoo
from stitchbench.zoo._training import CPU

from ._suite import Job, ScenarioSpec, ZooSpec


def zoo_key(scenario: ScenarioSpec, spec: ZooSpec, seed: int) -> tuple:
    """What makes two jobs' zoos one: the scenario's name and parameters (not its id), the zoo, the seed."""
    return scenario.name, canonical_json(scenario.params), spec.model_dump_json(), seed


@dataclass
class Workspace:
    cache_dir: Path
    zoo_workers: int = 1  # processes that train a zoo's missing models
    max_problems: int = 3  # problems kept in memory (each holds activation caches): least recently used go
    device: torch.device = CPU  # where its zoos train and evaluate, and its problems stitch
    scenarios: dict = field(default_factory=dict)
    zoos: dict = field(default_factory=dict)
    problems: OrderedDict = field(default_factory=OrderedDict)
    artifact_paths: dict = field(default_factory=dict)  # folder of every artifact any problem here used

    def artifact_dirs(self) -> list[Path]:
        """Folders of every model and stitch set this workspace uses (what remote workers need)."""
        dirs = [r.artifact.path for z in self.zoos.values() for r in z.records]
        return list(dict.fromkeys(dirs + list(self.artifact_paths)))

    def scenario(self, spec: ScenarioSpec) -> Scenario:
        key = (spec.name, canonical_json(spec.params))
        if key not in self.scenarios:
            self.scenarios[key] = get_scenario(spec.name, **spec.params)
        return self.scenarios[key]

    def zoo(self, scenario: ScenarioSpec, spec: ZooSpec, seed: int, on_model=None) -> Zoo:
        key = zoo_key(scenario, spec, seed)
        if key not in self.zoos:
            self.zoos[key] = build_zoo(
                self.scenario(scenario),
                spec.archs,
                seeds=[seed],
                cache_dir=self.cache_dir,
                recipe=spec.recipe,
                on_model=on_model,
                workers=self.zoo_workers,
                device=self.device,
            )
        return self.zoos[key]

    def problem(self, job: Job) -> Problem:
        """A job's problem: its shipped table loaded (sha256-verified), or built from its scenario's zoo."""
        if job.instance not in self.problems:
            if job.table is not None:
                problem = load_shipped(job.table)
            else:
                zoo = self.zoo(job.scenario, job.zoo, job.zoo_seed)
                problem = create_problem(job.family, zoo, **self.problem_params(job))
                self.artifact_paths |= dict.fromkeys(a.path for a in problem.artifacts().values())
            self.problems[job.instance] = problem
            if len(self.problems) > self.max_problems:
                self.problems.popitem(last=False)
        self.problems.move_to_end(job.instance)
        return self.problems[job.instance]

    def problem_params(self, job: Job) -> dict:
        return job.problem_params | injected_params(job.family, job.zoo_seed, self.cache_dir)

    def instance(self, job: Job) -> ProblemInstance:
        """The problem instance record of a job's problem: its parameters with their defaults (and the zoo
        seed), never the machine's cache folder; a table's is the one it was exported with."""
        if job.table is not None:
            return self.problem(job).instance
        recorded = suite_parameters(job.family) | job.problem_params
        return make_instance(
            self.problem(job),
            job.problem_id,
            job.family,
            recorded,
            job.scenario_key,
            job.scenario.params,
            job.zoo_seed,
            {p.name: p.source for p in self.scenario(job.scenario).parties},
        )
