"""`stitch-ensemble` (the paper's method): host party, members (host's model + received models);
variables: the matched point, alpha (mixing at the point) and output weights over the members."""

import math
from collections import OrderedDict
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
from pydantic import Field

from stitchbench._artifacts import Artifact, ArtifactStore, default_cache_dir
from stitchbench.data import Scenario
from stitchbench.errors import InputError
from stitchbench.moo._api import Objective, Problem, Variable
from stitchbench.moo._front import nondominated
from stitchbench.moo._lattice import simplex_grid
from stitchbench.moo._pools import ClaimPools
from stitchbench.moo._scoring import WeightedScores, member_weights, switch_names, weighted_scores
from stitchbench.moo._splits import EVAL_SPLITS
from stitchbench.stitching import ActivationCache, CostModel, ensemble_branch_probs, stitch_setup
from stitchbench.tabular._ensemble import EnsembleTable, stitch_candidates, stitch_pools
from stitchbench.zoo import Zoo
from stitchbench.zoo._recipe import eval_key

from ._baselines import ZooBaselines
from ._checks import check_stitch_params, with_switches
from ._tabulated import TabulatedLive

MAX_ALPHA_GRID = 1001  # alpha levels of a tabular stitch-ensemble (a table's size grows with it)

ENSEMBLE_TABLE_FORMAT = 1
TABLE_BYTES = 1 << 30  # larger tables stay live (brain-mri at 64x64, 11 points, 21 alphas: 1.2 GB)


def table_bytes(scenario: Scenario, points: int, levels: int, members: int) -> int:
    """Size of a stitch-ensemble's table: float32 probabilities of every branch at every point x alpha level,
    on every party's val and test split (a sample's: one per class, per pixel for segmentation)."""
    splits = [scenario.party(p).split(s) for p in scenario.party_names for s in EVAL_SPLITS]
    per_sample = scenario.num_classes * math.prod(splits[0].y.shape[1:])
    return 4 * points * levels * members * sum(len(s) for s in splits) * per_sample


def ensemble_front(pools: ClaimPools) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The members' weighted output ensembles of claim 4's pools: (weights, val scores, test scores)."""
    E = pools.ensembles
    return np.array([list(d["weights"].values()) for d in E.decisions]), E.val, E.test


class StitchEnsembleProblem(ZooBaselines, Problem):
    """The family, evaluated live. With `alpha_grid = N` (N >= 2) alpha takes N evenly spaced values from 0
    to 1 and, where the table fits in TABLE_BYTES, the family's factory `create` returns its tabular form
    (`StitchEnsembleTable`) instead: every branch's probabilities at every point x alpha on every party's
    val and test split, computed once with the code live evaluation uses. Otherwise it evaluates live,
    with the same scorer."""

    hosted = True
    injected = frozenset({"zoo", "zoo_seed", "cache_dir"})
    variable_kinds = frozenset({"categorical", "real"})  # with switches, binary too (kinds_with)
    summary = (
        "variables: point categorical (matched points), alpha real [0, 1] (on a grid of alpha_grid values: "
        "tabular), w.<member> real [0, 1] per member (normalized) [+ use.<member> binary: switches]; "
        "objectives: score on each party (max) "
        "[+ cost in FLOPs (min)]; stitches trained by the host"
    )

    @classmethod
    def kinds_with(cls, params):
        return with_switches(cls.variable_kinds, params)

    @classmethod
    def check_params(cls, scenario, zoo_archs, params):
        check_stitch_params(scenario, zoo_archs, params, len(scenario.party_names))
        if params.get("alpha_grid") == 1:  # the declared range (0..MAX_ALPHA_GRID) is checked by the registry
            raise InputError("alpha_grid must be 0 (alpha continuous) or a whole number >= 2, got 1")

    @classmethod
    def untabular_reason(cls, params):
        if params.get("alpha_grid", 0) in (None, 0):
            return "give it alpha_grid = N (N >= 2) in its params (a table over 1 GiB stays live)"
        return None

    @classmethod
    def create(cls, zoo: Zoo, **params) -> "StitchEnsembleProblem | StitchEnsembleTable":
        """The family's factory: the tabular form where alpha is on a grid and its table fits, else live."""
        live = cls(zoo, **params)
        return StitchEnsembleTable(live) if live.table_fits() else live

    def __init__(
        self,
        zoo: Zoo,
        host: str,
        method: str = "double-batched",
        archs: list[str] | None = None,
        zoo_seed: int = 0,
        cost: bool = False,
        recipe: dict | None = None,
        alpha_grid: Annotated[int, Field(ge=0, le=MAX_ALPHA_GRID)] = 0,
        cache_dir: Path | None = None,
        memo_size: Annotated[int, Field(ge=1, le=1_000_000)] = 512,
        switches: bool = False,
    ):
        super().__init__()
        self.check_params(zoo.scenario, [r.arch for r in zoo.records], {"alpha_grid": alpha_grid})
        self.zoo, self.host, self.zoo_seed, self.switches, self.cache_dir = zoo, host, zoo_seed, switches, cache_dir
        self.setup = stitch_setup(zoo, host, method, archs, zoo_seed, recipe, cache_dir)
        self.cache = ActivationCache(self.setup.members, zoo.scenario)
        self.costs = CostModel(self.setup.members, self.setup.stitches, zoo.scenario.example())
        self.name = "stitch-ensemble"
        weights = [f"w.{p}" for p in self.member_parties()]
        self.alpha = Variable("alpha", "real", 0.0, 1.0, levels=alpha_grid)
        self.variables = [
            Variable("point", "categorical", choices=tuple(self.setup.members.point_names)),
            self.alpha,
            *(Variable(w, "real", 0.0, 1.0) for w in weights),
            *(Variable(u, "binary") for u in (switch_names(weights) if switches else ())),
        ]
        self.objectives = [Objective(p, "max", p) for p in zoo.scenario.party_names]
        if cost:
            self.objectives.append(Objective("cost", "min", None))
        self._scorers: OrderedDict = OrderedDict()
        self._memo_size = memo_size
        self._claim_pools = None

    def table_fits(self) -> bool:
        """Whether alpha is on a grid and the table of every branch at every point x alpha fits TABLE_BYTES."""
        m = self.setup.members
        levels = self.alpha.levels
        return bool(levels) and table_bytes(self.zoo.scenario, len(m.points), levels, len(m)) <= TABLE_BYTES

    def canonical(self, row: np.ndarray) -> tuple:
        pi, alpha, w = int(row[0]), float(self.stitch_alpha(row[None])[0]), member_weights(row[2:], self.switches)[0]
        return (0 if alpha == 0 else pi, alpha, *w)

    def branch_probs(self, pi: int, alpha: float, party: str, split: str) -> torch.Tensor:
        """(M, N, C) probabilities of every branch at (point, alpha), computed on the zoo's device, on the CPU."""
        m = self.setup.members
        if alpha == 0:
            return torch.stack([self.cache.logits(k, party, split).softmax(1) for k in range(len(m))]).cpu()
        lives = [self.cache.lives(k, pi, party, split) for k in range(len(m))]
        return ensemble_branch_probs(m, self.setup.stitches, pi, lives, alpha).cpu()

    def scorer(self, pi: int, alpha: float, party: str, split: str) -> WeightedScores:
        """The weighted-ensemble scorer of the branches at (point, alpha); memoized (LRU), as w varies freely."""
        key = (pi, alpha, party, split)
        if key not in self._scorers:
            y = self.zoo.scenario.party(party).split(split).y.numpy()
            self._scorers[key] = weighted_scores(
                self.branch_probs(pi, alpha, party, split).numpy(), y, self.zoo.scenario.metric
            )
            if len(self._scorers) > self._memo_size:
                self._scorers.popitem(last=False)
        self._scorers.move_to_end(key)
        return self._scorers[key]

    def _evaluate(self, rows, split):
        out = []
        for row in rows:
            pi, alpha, w = int(row[0]), float(row[1]), member_weights(row[2:], self.switches)[0]
            out.append(
                np.array(
                    [
                        self.scorer(pi, alpha, o.party, split)(w)[0]
                        if o.party
                        else self.costs.ensemble(pi, alpha, w.tolist())
                        for o in self.objectives
                    ],
                    dtype=float,
                )
            )
        return out

    def build_table(self) -> tuple[Artifact, EnsembleTable]:
        """Load or compute (once, content-addressed) the branch probabilities at every point x alpha; the
        activations they were computed from are then dropped."""
        sc, m = self.zoo.scenario, self.setup.members
        alphas = self.alpha.grid()
        config = {
            "format": ENSEMBLE_TABLE_FORMAT,
            "scenario": sc.identity(),
            "stitches": self.setup.manifest["sha256"],
            "parents": [r.sha256 for r in self.setup.records],
            "points": m.point_names,
            "alphas": alphas.tolist(),
            **eval_key(self.zoo.eval_batch_size),
        }

        def build():
            tensors = {}
            for party in sc.party_names:
                for split in EVAL_SPLITS:
                    tensors[f"{party}/{split}"] = torch.stack(
                        [
                            torch.stack([self.branch_probs(pi, float(a), party, split) for a in alphas])
                            for pi in range(len(m.points))
                        ]
                    )
            return tensors, {"host": self.host, "touched": []}

        store = ArtifactStore(self.cache_dir or default_cache_dir(), "ensemble-tables", self.zoo.device.type)
        artifact = store.get_or_build(config, build)
        self.cache = ActivationCache(m, sc)  # the table replaces its contents
        probs = {tuple(k.split("/")): v.numpy() for k, v in artifact.tensors().items()}
        labels = {(p, s): sc.party(p).split(s).y.numpy() for p in sc.party_names for s in EVAL_SPLITS}
        points, members = list(m.point_names), self.member_parties()
        costs = self.cost_arrays()
        return artifact, EnsembleTable(points, members, alphas, probs, labels, sc.metric, *costs, self.switches)

    def cost_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """FLOPs per sample: each whole member, every member up to each point, each branch after it."""
        c, n, points = self.costs, len(self.setup.members), range(len(self.setup.members.points))
        full = np.array([c.full(m) for m in range(n)], dtype=float)
        prefix = np.array([sum(c.segment(m, None, pi) for m in range(n)) for pi in points], dtype=float)
        branch = np.array(
            [
                [c.segment(m, pi, None) + sum(c.stitch(pi, k, m) for k in range(n) if k != m) for m in range(n)]
                for pi in points
            ],
            dtype=float,
        )
        return full, prefix, branch

    def train_parties(self) -> list[str]:
        return list(self.setup.manifest["touched"])

    def reference_spec(self):
        return self.setup.records[0].arch, self.zoo_seed, self.setup.records

    def grid(self, alphas: int = 11, weights: int = 21) -> np.ndarray:
        """Dense enumeration: every point x an alpha grid x a grid on the weight simplex."""
        W = simplex_grid(len(self.setup.members), weights)
        rows = [
            [pi, a, *w] for pi in range(len(self.setup.members.points)) for a in np.linspace(0, 1, alphas) for w in W
        ]
        return np.array(rows)

    def grid_front(self, split="val"):
        """The front of the dense enumeration `grid()`: an approximation of a continuous problem's front."""
        return nondominated(self.evaluate(self.grid(), split), self.maximize)

    def member_parties(self) -> list[str]:
        return [r.kind.split(":", 1)[1] for r in self.setup.records]

    def member_kinds(self):
        return [r.kind for r in self.setup.records]

    # claim 4 (`stitchbench.moo.Stitching`), computed with the live scorer
    def stitch_alpha(self, matrix):
        alphas = np.asarray(matrix, dtype=float)[:, 1]
        return self.alpha.grid()[self.alpha.level(alphas)] if self.alpha.levels else alphas

    def stitches_enumerated(self) -> bool:
        return bool(self.alpha.levels)

    def claim_pools(self):
        if self._claim_pools is None:
            grid = self.alpha.grid() if self.alpha.levels else None
            points = list(self.setup.members.point_names)
            self._claim_pools = stitch_pools(self.live_scorer, points, self.member_parties(), self.parties(), grid)
        return self._claim_pools

    def candidate_pool(self, matrix):
        points = list(self.setup.members.point_names)
        alphas = self.stitch_alpha(matrix)
        members, parties = self.member_parties(), self.parties()
        return stitch_candidates(self.live_scorer, matrix, alphas, points, members, parties, self.switches)

    def live_scorer(self, combo, party, split):
        return self.scorer(*combo, party, split)

    def output_ensembles(self):
        return ensemble_front(self.claim_pools())

    def artifacts(self):
        return {**{r.kind: r.artifact for r in self.setup.records}, "stitches": self.setup.artifact}

    def max_cost(self) -> float:
        uniform = [1 / len(self.setup.members)] * len(self.setup.members)
        return float(max(self.costs.ensemble(pi, 1.0, uniform) for pi in range(len(self.setup.members.points))))


class StitchEnsembleTable(TabulatedLive):
    """A stitch-ensemble served from its `EnsembleTable` (`stitchbench.tabular._ensemble`), stored
    content-addressed in the cache: a candidate is a weighted sum of its point and alpha's branches.
    `live`: the problem it tabulates (its stitches, costs and members)."""

    def __init__(self, live: StitchEnsembleProblem):
        super().__init__(live, *live.build_table())

    def stitch_alpha(self, matrix):
        return self.table.stitch_alpha(matrix)

    def stitches_enumerated(self) -> bool:
        return True

    def claim_pools(self):
        return self.table.claim_pools(self.parties())

    def candidate_pool(self, matrix):
        return self.live.candidate_pool(matrix)

    def output_ensembles(self):
        return ensemble_front(self.claim_pools())

    def artifacts(self):
        return self.live.artifacts() | {"table": self.table_artifact}
