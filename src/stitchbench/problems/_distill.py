"""`distill`: the host distills the weighted output ensemble of its members into one student of its own
architecture, on its own training data (one-shot federated learning's distillation; docs/method.md)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from pydantic import Field

from stitchbench.moo._api import Variable
from stitchbench.zoo import Zoo, create, seeded
from stitchbench.zoo._oneshot import distill, log_probs, teacher_probs

from ._oneshot import OneShotProblem, one_shot_recipe


class DistillProblem(OneShotProblem):
    """Variables on a grid: `lambda` (the distillation loss's share, against the labels' loss), `T` (the
    temperature) and `host_share` (the host model's weight in the teacher: 0, the received models alone, or
    1/M, the uniform ensemble; the received models share the rest equally). Each cell trains one student,
    initialized from the host's own model (or from scratch), for `epochs` epochs."""

    family = "distill"
    variable_kinds = frozenset({"real"})
    summary = (
        "variables: lambda, T, host_share real on grids (one student trained per cell, host data only); "
        "objectives: score on each party (max)"
    )

    def __init__(
        self,
        zoo: Zoo,
        host: str,
        archs: list[str] | None = None,
        zoo_seed: int = 0,
        epochs: Annotated[int, Field(ge=1, le=1000)] = 2,
        lambdas: Annotated[list[Annotated[float, Field(ge=0, le=1)]], Field(min_length=1, max_length=11)] = (0.5, 1.0),
        temperatures: Annotated[list[Annotated[float, Field(gt=0, le=100)]], Field(min_length=1, max_length=11)] = (
            1.0,
            4.0,
        ),
        from_scratch: bool = False,
        recipe: dict | None = None,
        cache_dir: Path | None = None,
    ):
        self.lambdas, self.temperatures, self.from_scratch = list(lambdas), list(temperatures), from_scratch
        super().__init__(zoo, host, archs, zoo_seed, one_shot_recipe(zoo.scenario, epochs, recipe), cache_dir)

    def grid_variables(self) -> list[Variable]:
        share = 1 / len(self.records)
        return [
            Variable("lambda", "categorical", choices=tuple(f"{x:g}" for x in self.lambdas)),
            Variable("T", "categorical", choices=tuple(f"{x:g}" for x in self.temperatures)),
            Variable("host_share", "real", 0.0, share, levels=2),
        ]

    def settings(self):
        return {"from_scratch": self.from_scratch}

    def student(self):
        host = self.zoo.module(self.records[0])
        if not self.from_scratch:
            return host
        sc = self.zoo.scenario
        with seeded(self.zoo_seed):
            return create(self.records[0].arch, sc.in_channels, sc.num_classes).to(self.zoo.device)

    def networks(self, cells) -> Iterator:
        x, y = self.host_data()
        members = [log_probs(self.zoo.module(r), x, self.zoo.eval_batch_size) for r in self.records]
        student, task = self.student(), self.zoo.scenario.task
        M = len(self.records)
        for i, cell in enumerate(cells):
            share = cell["host_share"]
            weights = [share] + [(1 - share) / (M - 1)] * (M - 1)
            T = float(cell["T"])
            teacher = teacher_probs(members, weights, T)
            yield [i], distill(student, x, y, task, teacher, float(cell["lambda"]), T, self.recipe, self.zoo_seed)
