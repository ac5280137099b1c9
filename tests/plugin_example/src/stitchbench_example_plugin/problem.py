"""`example.subset-ensemble`: which of the zoo's models to average, scored on every party."""

import itertools

import numpy as np
import torch

from stitchbench.errors import InputError
from stitchbench.moo import Objective, Problem, Variable, nondominated
from stitchbench.zoo import Zoo, score


class SubsetEnsemble(Problem):
    """Average the output of a subset of the zoo's models (none: every model); score on each party."""

    variable_kinds = frozenset({"binary"})

    def __init__(self, zoo: Zoo, arch: str | None = None, zoo_seed: int = 0):
        super().__init__()
        self.zoo = zoo
        self.name = "example.subset-ensemble"
        arch = arch or zoo.records[0].arch
        self.members = [r for r in zoo.records if r.arch == arch and r.seed == zoo_seed]
        if not self.members:
            raise InputError(f"example.subset-ensemble: the zoo has no {arch!r} models of seed {zoo_seed}")
        self.variables = [Variable(f"use.{r.kind}", "binary") for r in self.members]
        self.objectives = [Objective(p, "max", p) for p in zoo.scenario.party_names]

    def _evaluate(self, rows, split):
        W = np.array(rows)
        W[~W.any(1)] = 1.0  # the empty subset means every model
        weights = torch.as_tensor(W / W.sum(1, keepdims=True), dtype=torch.float32)
        cols = []
        for party in self.zoo.scenario.party_names:
            probs = torch.stack([self.zoo.probs(r, party, split) for r in self.members])  # (M, N, C)
            y = self.zoo.scenario.party(party).split(split).y
            cols.append(score(self.zoo.scenario.metric, torch.einsum("bm,mnc->bnc", weights, probs), y))
        return list(torch.stack(cols, 1).double().numpy())

    def baselines(self, split="test"):
        """Each model alone, and the uniform ensemble of the local models."""
        M = len(self.members)
        named = {r.kind: np.eye(M)[i] for i, r in enumerate(self.members)}
        named["ensemble"] = np.array([float(r.kind.startswith("local:")) for r in self.members])
        return dict(zip(named, self.evaluate(np.array(list(named.values())), split), strict=True))

    def exact_front(self, split="val"):
        """Every non-empty subset, enumerated."""
        subsets = np.array(list(itertools.product((0.0, 1.0), repeat=len(self.members)))[1:])
        return nondominated(self.evaluate(subsets, split), self.maximize)
