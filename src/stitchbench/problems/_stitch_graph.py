"""`stitch-graph` (the predecessor's genotype): a binary switch per matched point and direction plus an
output choice (A = the host's model, B = the partner's, or their average); evaluated by inference only.

Tabular subsets: `points=[...]` (matched point names) or `max_points=k` (k points evenly spread: indices
floor(linspace(0, n - 1, k) + 0.5) of the n matched points, so the first and last are always in for k >= 2,
the first alone for k = 1, every point for k = n; more is refused) expose switches at those points only;
the others stay off. Such a problem is tabular (the family's factory `create` returns a
`StitchGraphTable`): every distinct canonical candidate is scored once, on val and test; the table is
stored content-addressed in the cache ("graph-tables") and `evaluate` looks rows up in it.

Where the networks are chains at the selected points (no skip crosses one, `chain_points`), every
candidate is scored by `ChainScorer` (lineages walked once, the live values bit for bit) up to
MAX_CHAIN_POINTS points; over MAX_TABLE_POINTS the table is a `ChainGraphTable` (sorted canonical
decisions, canonicalized from the bits). Two resmlp members over 15 of their 16 points: 589,824 candidates
of 3 * 4^15 = 3.2e9 raw decisions, built in 8 minutes on 2 cores (4.8 GB at most). Elsewhere (a skip
crosses a point) each candidate is scored live, and the bounds are k <= MAX_TABLE_POINTS (3 * 4^8 raw
decisions canonicalize in about 6 s at 31 us each) and at most MAX_TABLE_CANDIDATES canonical candidates,
counted before any is scored. Measured on digits-shift, host uci-digits, cnn members (7 matched points, a
chain: (k + 3) * 2^k canonical candidates for max_points = k), scored live: a candidate costs 0.28-0.35 s
of one core (val + test, both parties; more the earlier its first switch) and about 0.19 s on 2 idle cores
(k = 4: 112 candidates in 21 s); 2,000 candidates take about 6.5 minutes on 2 idle cores (12 on one). The
lineage walk scores the same 7-point cnn graph's 256 candidates at k = 5 in 2.8 s (live: 54 s).
"""

import time
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
from pydantic import Field

from stitchbench._artifacts import Artifact, ArtifactStore, default_cache_dir
from stitchbench.errors import InputError
from stitchbench.moo._api import Objective, Problem, Variable
from stitchbench.moo._front import nondominated
from stitchbench.moo._scoring import sample_scores
from stitchbench.moo._splits import EVAL_SPLITS
from stitchbench.stitching import (
    OUTPUTS,
    ActivationCache,
    CostModel,
    Flow,
    GraphDecision,
    GraphFlow,
    graph_probs,
    output_probs,
    stitch_setup,
)
from stitchbench.tabular._graph import (
    ChainGraphTable,
    GraphTable,
    chain_candidates,
    chain_canonical,
    decision_index,
    pack_bits,
    raw_rows,
    rows_of,
)
from stitchbench.zoo import Zoo
from stitchbench.zoo._recipe import eval_key

from ._baselines import ZooBaselines
from ._checks import (
    chain_points,
    check_graph_params,
    check_max_points,
    check_point_subset,
    check_points,
    check_subset_size,
    spread,
)
from ._ensemble_weights import output_ensemble_front
from ._graph_chain import ChainScorer
from ._tabulated import TabulatedLive

GRAPH_TABLE_FORMAT = 2  # bumped when the table's layout or its scoring changes (2: per-sample val scores)
MAX_TABLE_POINTS = 8  # 3 * 4^8 = 196,608 raw decisions: canonicalized in about 6 s
MAX_TABLE_CANDIDATES = 2000  # canonical candidates scored live: about 6.5 minutes on digits-shift, 2 cores
MAX_CHAIN_POINTS = 15  # a chain's table: (15 + 3) * 2^15 = 589,824 candidates of 3 * 4^15 raw decisions


class StitchGraphProblem(ZooBaselines, Problem):
    """The family, evaluated live; `create` returns its tabular form where it exposes a subset of points."""

    hosted = True
    injected = frozenset({"zoo", "zoo_seed", "cache_dir"})
    variable_kinds = frozenset({"binary", "categorical"})
    summary = (
        "variables: ab.<point>, ba.<point> binary switches per matched point (all, or a tabular subset: "
        "points / max_points), output categorical {A, B, avg} (A: host's model); objectives: score on each "
        "party (max) [+ cost in FLOPs (min)]"
    )

    @classmethod
    def check_params(cls, scenario, zoo_archs, params):
        check_graph_params(scenario, zoo_archs, params, (MAX_TABLE_POINTS, MAX_CHAIN_POINTS))

    @classmethod
    def untabular_reason(cls, params):
        if params.get("points") is None and params.get("max_points") is None:
            return "give it points = [...] or max_points = k in its params"
        return None

    @classmethod
    def create(cls, zoo: Zoo, **params) -> "StitchGraphProblem | StitchGraphTable":
        """The family's factory: the tabular form for a subset of points (`points` or `max_points`), else live."""
        live = cls(zoo, **params)
        return StitchGraphTable(live) if live.subset else live

    def __init__(
        self,
        zoo: Zoo,
        host: str,
        partner: str | None = None,
        method: str = "feature-match",
        archs: list[str] | None = None,
        zoo_seed: int = 0,
        cost: bool = False,
        recipe: dict | None = None,
        cache_dir: Path | None = None,
        enumerate_limit: Annotated[int, Field(ge=1, le=10**7)] = 4096,
        points: list[str] | None = None,
        max_points: Annotated[int, Field(ge=1)] | None = None,
    ):
        check_point_subset(points, max_points, MAX_CHAIN_POINTS)
        super().__init__()
        self.zoo, self.host, self.zoo_seed, self.cache_dir = zoo, host, zoo_seed, cache_dir
        partner = partner or next(p for p in zoo.scenario.party_names if p != host)
        self.setup = stitch_setup(zoo, host, method, archs, zoo_seed, recipe, cache_dir, partners=[partner])
        m = self.setup.members
        names = m.point_names
        check_points(points or [], names)
        check_max_points(max_points, names)
        if points is not None:
            self.selected = sorted(names.index(p) for p in points)
        else:
            self.selected = spread(len(names), max_points or len(names))
        self.subset = points is not None or max_points is not None  # switches at these points only: tabular
        self.chain = {names[i] for i in self.selected} <= chain_points(m)
        if self.subset:
            check_subset_size(
                [names[i] for i in self.selected], self.chain, zoo.scenario.metric, (MAX_TABLE_POINTS, MAX_CHAIN_POINTS)
            )
        self.cache = ActivationCache(m, zoo.scenario)
        self.costs = CostModel(m, self.setup.stitches, zoo.scenario.example())
        self.flow = GraphFlow(m).flow
        self.name = "stitch-graph"
        self.n_points = len(self.selected)  # the points with switches (variables)
        self.point_names = [names[i] for i in self.selected]
        self.variables = [
            *(Variable(f"ab.{p}", "binary") for p in self.point_names),
            *(Variable(f"ba.{p}", "binary") for p in self.point_names),
            Variable("output", "categorical", choices=OUTPUTS),
        ]
        self.objectives = [Objective(p, "max", p) for p in zoo.scenario.party_names]
        if cost:
            self.objectives.append(Objective("cost", "min", None))
        self.enumerate_limit = enumerate_limit

    def decision(self, row: np.ndarray) -> GraphDecision:
        """The full decision of a row: its switches at the selected points, all others off."""
        k, n = self.n_points, len(self.setup.members.points)
        ab, ba = [False] * n, [False] * n
        for j, pi in enumerate(self.selected):
            ab[pi], ba[pi] = bool(row[j]), bool(row[k + j])
        return GraphDecision(tuple(ab), tuple(ba), OUTPUTS[int(row[-1])])

    def canonical(self, row: np.ndarray) -> tuple:
        """Switches off where no path from them (skips included) reaches the chosen output."""
        d = self.flow(self.decision(row)).decision
        sel = self.selected
        return (*(float(d.ab[i]) for i in sel), *(float(d.ba[i]) for i in sel), float(OUTPUTS.index(d.output)))

    def probs(self, d: GraphDecision, party: str, split: str) -> torch.Tensor:
        start = d.first_active()
        if start is None:
            return output_probs({m: self.cache.logits(m, party, split) for m in (0, 1)}, d.output)
        lives = [self.cache.lives(m, start, party, split) for m in (0, 1)]
        return graph_probs(self.setup.members, self.setup.stitches, d, lives, start)

    def sample_flow(self, flow: Flow, split: str) -> dict[str, np.ndarray]:
        """Each party's per-sample scores of an analysed (canonical) decision on `split` (a score is their mean)."""
        sc = self.zoo.scenario
        return {
            p: sample_scores(
                sc.metric, self.probs(flow.decision, p, split).cpu().numpy(), sc.party(p).split(split).y.numpy()
            )
            for p in self.parties()
        }

    def score_flow(self, flow: Flow, samples: dict[str, np.ndarray] | None, split: str) -> np.ndarray:
        """The live objective values of an analysed (canonical) decision (from its `sample_flow`, if given)."""
        samples = samples or self.sample_flow(flow, split)
        return np.array(
            [float(samples[o.party].mean(-1)) if o.party else float(self.costs.graph(flow)) for o in self.objectives]
        )

    def _evaluate(self, rows, split):
        return [self.score_flow(self.flow(self.decision(row)), None, split) for row in rows]

    def candidate_rows(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The canonical rows and, up to MAX_TABLE_POINTS points (the dense form), each raw decision's row
        among them (rows in order of first appearance). A chain canonicalizes by its bits; above
        MAX_TABLE_POINTS (chains only) its rows are every canonical decision, sorted."""
        k = self.n_points
        if k > MAX_TABLE_POINTS:
            return rows_of(chain_candidates(k), k), None
        if self.chain:
            canonical = chain_canonical(raw_rows(k), k)
        else:
            canonical = decision_index(np.array([self.canonical(r) for r in raw_rows(k)]), k)
            self.flow.cache_clear()
        unique, first, inverse = np.unique(canonical, return_index=True, return_inverse=True)
        order = np.argsort(first)
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        if not self.chain and len(unique) > MAX_TABLE_CANDIDATES:
            raise InputError(
                f"a tabular stitch graph over k={k} points {self.point_names} has {len(unique)} canonical "
                f"candidates; the limit is {MAX_TABLE_CANDIDATES} (choose fewer points)"
            )
        return rows_of(unique[order], k), rank[inverse].astype(np.int64)

    def live_scores(self, cands: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Every candidate's objective values per split and per-sample val scores (float32), scored live."""
        flows = [self.flow(self.decision(c)) for c in cands]
        samples = {s: [self.sample_flow(f, s) for f in flows] for s in EVAL_SPLITS}
        scores = {
            s: np.array([self.score_flow(f, x, s) for f, x in zip(flows, samples[s], strict=True)]) for s in EVAL_SPLITS
        }
        return scores, {p: np.stack([x[p] for x in samples["val"]]).astype(np.float32) for p in self.parties()}

    def chain_scores(self, cands: np.ndarray, packed: bool) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """As `live_scores`, every lineage walked once (`ChainScorer`: the same values), the per-sample val
        scores `packed` as bits where asked; the cost through the flow, candidate by candidate."""
        scorer = ChainScorer(self.setup.members, self.setup.stitches, self.cache, self.selected)
        scores = {s: np.empty((len(cands), len(self.objectives))) for s in EVAL_SPLITS}
        val = {}
        for j, o in enumerate(self.objectives):
            if o.party is None:
                costs = self.candidate_costs(cands)
                for split in EVAL_SPLITS:
                    scores[split][:, j] = costs
                continue
            for rows, x in scorer.scores(cands, self.zoo.scenario.metric, o.party, "test"):
                scores["test"][rows, j] = x.mean(-1)
            n = len(self.zoo.scenario.party(o.party).split("val").y)
            width, dtype = (-(-n // 8), np.uint8) if packed else (n, np.float32)
            val[o.party] = np.empty((len(cands), width), dtype=dtype)
            for rows, x in scorer.scores(cands, self.zoo.scenario.metric, o.party, "val"):
                scores["val"][rows, j] = x.mean(-1)
                val[o.party][rows] = pack_bits(x) if packed else x
        return scores, val

    def candidate_costs(self, cands: np.ndarray) -> np.ndarray:
        """Each candidate's cost through its flow (the flow's cache cleared every 10,000: it holds them all)."""
        costs = np.empty(len(cands))
        for i, c in enumerate(cands):
            costs[i] = float(self.costs.graph(self.flow(self.decision(c))))
            if i % 10_000 == 9_999:
                self.flow.cache_clear()
        self.flow.cache_clear()
        return costs

    def table_artifact(self) -> Artifact:
        """The subset's table: built once (every canonical candidate scored, by the live path or, in a chain,
        `ChainScorer`: the same values), then read from the cache."""
        config = {
            "format": GRAPH_TABLE_FORMAT,
            "scenario": self.zoo.scenario.identity(),
            "metric": self.zoo.scenario.metric,
            "stitches": self.setup.manifest["sha256"],
            "members": [r.sha256 for r in self.setup.records],
            "points": self.point_names,
            "objectives": [[o.name, o.direction, o.party] for o in self.objectives],
            **eval_key(self.zoo.eval_batch_size),
        }

        def build():
            start = time.perf_counter()
            cands, d2c = self.candidate_rows()
            scores, val = self.chain_scores(cands, packed=d2c is None) if self.chain else self.live_scores(cands)
            if d2c is None:
                counts = {p: len(self.zoo.scenario.party(p).split("val").y) for p in val}
                table = ChainGraphTable(chain_candidates(self.n_points), self.n_points, scores, val, counts)
            else:
                table = GraphTable(d2c, cands, scores, val)
            extra = {"candidates": len(cands), "build_seconds": round(time.perf_counter() - start, 1)}
            return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in table.to_arrays().items()}, extra

        store = ArtifactStore(self.cache_dir or default_cache_dir(), "graph-tables", self.zoo.device.type)
        return store.get_or_build(config, build)

    def train_parties(self) -> list[str]:
        return list(self.setup.manifest["touched"])

    def reference_spec(self):
        return self.setup.records[0].arch, self.zoo_seed, self.setup.records

    def space_size(self) -> int:
        return 3 * 4**self.n_points

    def front_kind(self):
        """Small spaces are enumerated whole (one evaluation per canonical candidate)."""
        return "exact" if self.space_size() <= self.enumerate_limit else "none"

    def exact_front(self, split="val"):
        if not self.front_is_exact:
            return None
        return nondominated(self.evaluate(raw_rows(self.n_points), split), self.maximize)

    def output_ensembles(self):
        return output_ensemble_front(self.zoo, self.setup.records, self.parties())

    def member_kinds(self):
        return [r.kind for r in self.setup.records]

    def artifacts(self):
        return {**{r.kind: r.artifact for r in self.setup.records}, "stitches": self.setup.artifact}

    def max_cost(self) -> float:
        """The cost of every exposed switch on, output avg."""
        on = (1.0,) * (2 * self.n_points)
        return float(self.costs.graph(self.flow(self.decision(np.array([*on, 2.0])))))


class StitchGraphTable(TabulatedLive):
    """A stitch graph over a subset of points served from its `GraphTable`: every canonical candidate scored
    once by the live code path (exact front). `live`: the problem it tabulates (its flow, stitches, costs)."""

    def __init__(self, live: StitchGraphProblem):
        artifact = live.table_artifact()
        super().__init__(live, artifact, GraphTable.from_arrays({k: v.numpy() for k, v in artifact.tensors().items()}))

    def output_ensembles(self):
        return self.live.output_ensembles()

    def artifacts(self):
        return self.live.artifacts() | {"graph-table": self.table_artifact}
