"""`ensemble-weights`: output weights on the simplex over M member models.

With two members a candidate is one weight w (on member A; 1 - w on B) and every prediction, the argmax of
w pA + (1 - w) pB, is piecewise constant in w: it can change only where two class scores are equal. Accuracy
is a function of the predictions, so each party's score is constant between consecutive such breakpoints,
and evaluating every breakpoint and one weight inside every interval between them gives every objective
vector the problem has: its front is exact. Dice has the same structure, with a breakpoint where any pixel's
prediction flips; `StepDice` sweeps them, so its front is exact too. With more members the front comes from
a lattice on the simplex and is approximate.
"""

from collections.abc import Sequence

import numpy as np
import torch

from stitchbench.moo._api import Objective, Variable
from stitchbench.moo._lattice import simplex_grid
from stitchbench.moo._pools import weighting_pool
from stitchbench.moo._splits import EVAL_SPLITS
from stitchbench.tabular._problem import TableBackedProblem
from stitchbench.tabular._weights import WeightsTable
from stitchbench.zoo import ModelRecord, Zoo, expand_kinds

from ._baselines import ZooBaselines, ensemble_scorer, model_flops
from ._checks import check_ensemble_params, with_switches


def output_ensemble_front(
    zoo: Zoo, records: Sequence[ModelRecord], parties: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The weighted output ensembles of `records` chosen on val (all ties kept) and re-scored on test, over
    the parties' scores: (weights, val scores, test scores), one row per candidate (`moo.pools`, as claim 4
    selects them)."""
    pool = weighting_pool(
        [None],
        lambda _, party, split: ensemble_scorer(zoo, records, party, split),
        list(parties),
        lambda _, w: {"weights": [float(x) for x in w]},
        lambda: simplex_grid(len(records)),
    )
    return np.array([d["weights"] for d in pool.decisions]).reshape(len(pool), len(records)), pool.val, pool.test


def weights_table(zoo: Zoo, records: Sequence[ModelRecord], switches: bool = False) -> WeightsTable:
    """The members' probabilities on every party's val and test split, their labels and FLOPs."""
    sc = zoo.scenario
    probs = {
        (p, s): torch.stack([zoo.probs(r, p, s) for r in records]).numpy() for p in sc.party_names for s in EVAL_SPLITS
    }
    labels = {(p, s): sc.party(p).split(s).y.numpy() for p in sc.party_names for s in EVAL_SPLITS}
    example = sc.example()
    flops = np.array([model_flops(zoo, r, example) for r in records], dtype=float)
    return WeightsTable([f"w.{member_name(r, records)}" for r in records], probs, labels, sc.metric, flops, switches)


def member_name(record: ModelRecord, records: Sequence[ModelRecord]) -> str:
    """A member's name: its kind, with its architecture where the members span several (`local:mnist@resnet`)."""
    return record.kind if len({r.arch for r in records}) == 1 else f"{record.kind}@{record.arch}"


class EnsembleWeights(ZooBaselines, TableBackedProblem):
    """Weights w.<member> in [0, 1] (normalized onto the simplex) of an output ensemble; one score per party.
    The members are each of the `members` kinds of `arch` (default: the zoo's first), or of each of `archs`
    (the size knob: M = kinds x architectures; members then named `<kind>@<arch>`). With `switches`, binary
    use.<member> variables leave members out (`stitchbench.moo._scoring.member_weights`).
    The members' probabilities are its table (`WeightsTable`)."""

    variable_kinds = frozenset({"real"})  # with switches, binary too (kinds_with)
    summary = (
        "variables: w.<member> real [0, 1] per member (normalized to sum 1) [+ use.<member> binary: switches]; "
        "objectives: score on each party (max) [+ cost in FLOPs (min)]"
    )

    @classmethod
    def kinds_with(cls, params):
        return with_switches(cls.variable_kinds, params)

    @classmethod
    def check_params(cls, scenario, zoo_archs, params):
        check_ensemble_params(scenario, zoo_archs, params)

    def __init__(
        self,
        zoo: Zoo,
        members: Sequence[str] = ("local",),
        arch: str | None = None,
        archs: Sequence[str] = (),
        zoo_seed: int = 0,
        cost: bool = False,
        switches: bool = False,
    ):
        super().__init__()
        self.zoo = zoo
        self.arch = arch or (archs[0] if archs else zoo.records[0].arch)
        self.zoo_seed = zoo_seed
        kinds = expand_kinds(zoo.scenario, members)
        self.members = [zoo.get(k, a, zoo_seed) for a in archs or [self.arch] for k in kinds]
        self.name = "ensemble-weights"
        self.table = weights_table(zoo, self.members, switches)
        self.variables = [Variable(name, "real", 0.0, 1.0) for name in self.table.members]
        self.variables += [Variable(name, "binary") for name in self.table.variable_names()[len(self.members) :]]
        self.objectives = [Objective(p, "max", p) for p in zoo.scenario.party_names]
        if cost:
            self.objectives.append(Objective("cost", "min", None))

    @property
    def flops(self) -> np.ndarray:
        return self.table.flops

    def reference_spec(self):
        return self.arch, self.zoo_seed, self.members

    def breakpoints(self, split: str = "val") -> np.ndarray:
        """The weights on member A (two members) where any party's score on `split` can change."""
        return np.unique(np.concatenate([self.table.scorer(p, split).breakpoints() for p in self.parties()]))

    def artifacts(self):
        return {member_name(r, self.members): r.artifact for r in self.members}

    def member_kinds(self):
        return [member_name(r, self.members) for r in self.members]

    def max_cost(self) -> float:
        return float(self.flops.sum())
