"""The one-shot families' common part (docs/method.md): a host combines the received models with its own
training data only, into one network per cell of a grid over the family's variables. Every cell's network is
scored per sample on every party's val and test split once, and the scores are stored content-addressed in
the cache ("oneshot-tables"); the problem is then its `GridTable` (exact front over the grid). A family
declares its grid (`grid_variables`) and makes the cells' networks (`networks`)."""

from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from stitchbench._artifacts import ArtifactStore, default_cache_dir
from stitchbench.data import Scenario
from stitchbench.errors import InputError
from stitchbench.moo._api import Objective, Variable
from stitchbench.moo._pools import CandidatePool
from stitchbench.moo._scoring import sample_scores
from stitchbench.moo._splits import EVAL_SPLITS
from stitchbench.stitching._setup import host_training_data, member_records
from stitchbench.tabular._grid import GridTable, grid_cells
from stitchbench.tabular._problem import TableBackedProblem
from stitchbench.zoo import Recipe, Zoo, predict
from stitchbench.zoo._build import scenario_recipe
from stitchbench.zoo._recipe import eval_key

from ._baselines import ZooBaselines
from ._checks import check_arch

ONE_SHOT_FORMAT = 1  # bumped when a family's networks or their scores change


def one_shot_recipe(scenario: Scenario, epochs: int, recipe: dict | None) -> Recipe:
    """The scenario's recipe for `epochs` epochs of plain training (no early stopping, no federated rounds),
    with the suite's `recipe` overrides (an InputError names a bad one)."""
    return scenario_recipe(scenario, {"epochs": epochs, "local_epochs": 1, "patience": None} | (recipe or {}))


class OneShotProblem(ZooBaselines, TableBackedProblem):
    """A host's one-shot combination of its members (its own local model first, then every other party's),
    over a grid; one objective per party. Subclasses set `family`, `variable_kinds`, `summary`, and implement
    `grid_variables` and `networks`; `recipe` (None: no training) and `settings()` are what else makes their
    networks (the table's key)."""

    hosted = True
    injected = frozenset({"zoo", "zoo_seed", "cache_dir"})
    family: ClassVar[str]

    @classmethod
    def check_params(cls, scenario, zoo_archs, params):
        parties = scenario.party_names
        if params.get("host") is not None and params["host"] not in parties:
            raise InputError(f"unknown host party {params['host']!r}; valid: {', '.join(parties)}")
        archs = params.get("archs") or []
        if not isinstance(archs, list):
            raise InputError(f"archs must be a list with one architecture per member, got {archs!r}")
        for arch in archs:
            check_arch(arch, zoo_archs)
        if archs and len(archs) != len(parties):
            raise InputError(f"archs {archs!r} names {len(archs)} architectures; give one per party ({len(parties)})")
        recipe = params.get("recipe")
        if recipe is not None and not isinstance(recipe, dict):
            raise InputError(f"recipe must be a table of training settings (e.g. {{ lr = 0.001 }}), got {recipe!r}")
        one_shot_recipe(scenario, params.get("epochs", 1), recipe)

    def __init__(
        self,
        zoo: Zoo,
        host: str,
        archs: list[str] | None,
        zoo_seed: int,
        recipe: Recipe | None,
        cache_dir: Path | None,
    ):
        super().__init__()
        self.zoo, self.host, self.zoo_seed, self.recipe = zoo, host, zoo_seed, recipe
        self.records = member_records(zoo, host, archs, zoo_seed)
        self.name = self.family
        self.variables = self.grid_variables()
        self.objectives = [Objective(p, "max", p) for p in zoo.scenario.party_names]
        self.table = self.build_table(cache_dir)

    # --- what a family implements ---
    @abstractmethod
    def grid_variables(self) -> list[Variable]:
        """The grid: every variable categorical, integer, binary or real on `levels`."""

    @abstractmethod
    def networks(self, cells: list[dict[str, Any]]) -> Iterator[tuple[list[int], nn.Module]]:
        """(the indices of the cells it serves, a network in eval mode) for every cell, each cell once."""

    def settings(self) -> dict[str, Any]:
        return {}

    # --- shared ---
    def host_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The host's training split, on the zoo's device: the only labelled data the family trains on."""
        data = host_training_data(self.zoo, self.host)
        return data.x.to(self.zoo.device), data.y.to(self.zoo.device)

    def build_table(self, cache_dir: Path | None) -> GridTable:
        """Load or compute (once, content-addressed) every cell's per-sample scores."""
        zoo, sc = self.zoo, self.zoo.scenario
        config = {
            "format": ONE_SHOT_FORMAT,
            "family": self.family,
            "scenario": sc.identity(),
            "host": self.host,
            "parents": [r.sha256 for r in self.records],
            "grid": [v.record() for v in self.variables],
            "recipe": self.recipe.key_fields() if self.recipe else None,
            "settings": self.settings(),
            "seed": self.zoo_seed,
            **eval_key(zoo.eval_batch_size),
        }

        def build():
            cells = grid_cells(self.variables)
            out: dict[str, np.ndarray] = {}
            done = np.zeros(len(cells), dtype=bool)
            for indices, model in self.networks(cells):
                model = model.to(zoo.device)
                for p in sc.party_names:
                    for s in EVAL_SPLITS:
                        y = sc.party(p).split(s).y.numpy()
                        probs = predict(model, zoo.inputs(p, s), zoo.eval_batch_size).cpu().numpy()
                        out.setdefault(f"{p}/{s}", np.empty((len(cells), len(y)), dtype=np.float32))
                        out[f"{p}/{s}"][indices] = sample_scores(sc.metric, probs, y)
                done[indices] = True
            assert done.all(), f"{self.family}: cells {np.flatnonzero(~done).tolist()} got no network"
            return {k: torch.from_numpy(v) for k, v in out.items()}, {"host": self.host, "touched": [self.host]}

        store = ArtifactStore(cache_dir or default_cache_dir(), "oneshot-tables", zoo.device.type)
        self.table_artifact = store.get_or_build(config, build)
        samples = {tuple(k.split("/")): v.numpy() for k, v in self.table_artifact.tensors().items()}
        return GridTable(self.family, self.variables, samples)

    def front_pool(self) -> CandidatePool:
        """The val-chosen cells with their per-sample test scores (claim 5's B front)."""
        return self.table.front_pool(self.parties())

    def train_parties(self) -> list[str]:
        return [self.host]

    def reference_spec(self):
        return self.records[0].arch, self.zoo_seed, self.records

    def member_kinds(self):
        return [r.kind for r in self.records]

    def artifacts(self):
        return {r.kind: r.artifact for r in self.records} | {"table": self.table_artifact}
