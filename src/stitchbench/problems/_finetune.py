"""`finetune`: the host fine-tunes a received model on its own training data, with an L2-SP pull towards the
received weights (Li, Grandvalet and Davoine, ICML 2018; docs/method.md)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from pydantic import Field

from stitchbench.moo._api import Variable
from stitchbench.zoo import Zoo, build_model
from stitchbench.zoo._oneshot import finetune

from ._oneshot import OneShotProblem, one_shot_recipe


class FinetuneProblem(OneShotProblem):
    """Variables on a grid: `start` (which received model), `beta` (the L2-SP weight: beta ||theta -
    theta_0||^2) and `epochs` (1 to `epochs`). One training run per (start, beta) gives every epoch's cell."""

    family = "finetune"
    variable_kinds = frozenset({"categorical", "integer"})
    summary = (
        "variables: start categorical (a received model), beta categorical (L2-SP weights), epochs integer "
        "(one run per start x beta, host data only); objectives: score on each party (max)"
    )

    def __init__(
        self,
        zoo: Zoo,
        host: str,
        archs: list[str] | None = None,
        zoo_seed: int = 0,
        epochs: Annotated[int, Field(ge=1, le=100)] = 3,
        betas: Annotated[list[Annotated[float, Field(ge=0, le=1000)]], Field(min_length=1, max_length=11)] = (0.0, 0.1),
        recipe: dict | None = None,
        cache_dir: Path | None = None,
    ):
        self.betas = list(betas)
        super().__init__(zoo, host, archs, zoo_seed, one_shot_recipe(zoo.scenario, epochs, recipe), cache_dir)

    def grid_variables(self) -> list[Variable]:
        received = tuple(r.kind.split(":", 1)[1] for r in self.records[1:])
        return [
            Variable("start", "categorical", choices=received),
            Variable("beta", "categorical", choices=tuple(f"{b:g}" for b in self.betas)),
            Variable("epochs", "integer", 1, self.recipe.epochs),
        ]

    def networks(self, cells) -> Iterator:
        x, y = self.host_data()
        by_start = {r.kind.split(":", 1)[1]: r for r in self.records[1:]}
        for start, record in by_start.items():
            for beta in dict.fromkeys(c["beta"] for c in cells):
                states = finetune(
                    self.zoo.module(record), x, y, self.zoo.scenario.task, float(beta), self.recipe, self.zoo_seed
                )
                for epoch, state in enumerate(states, 1):
                    mine = [
                        i for i, c in enumerate(cells) if (c["start"], c["beta"], c["epochs"]) == (start, beta, epoch)
                    ]
                    yield mine, build_model(record.manifest["config"], state, f"{start} fine-tuned").to(self.zoo.device)
