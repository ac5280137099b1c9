"""The paper's study as an analysis of a run (`analyses = ["claims"]` in a suite): claim 4's pools, the one-shot
instances' fronts (claim 5) and the reference models' per-sample scores per instance, each live job's stitched
candidates, `claims.json`, and the report's headline and claims sections."""

from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from stitchbench.moo._instance import ProblemInstance
from stitchbench.moo._pools import ALPHA_MIN, POOL_COLUMNS, CandidatePool, Stitching, val_front
from stitchbench.results._analyses import Analysis
from stitchbench.results._store import RunDir, instances_of, write_json

from ._claim5 import ONE_SHOT_POOL
from ._claims import check_claims
from ._records import ClaimsRecord
from ._sections import claims_blocks

CLAIMS = "claims.json"


@runtime_checkable
class ReferenceSamples(Protocol):
    """A problem whose reference models' per-sample scores are known: {reference: [(N,) per party]}."""

    def reference_samples(self, split: str = "test") -> dict[str, list[np.ndarray]]: ...


@runtime_checkable
class OneShotFront(Protocol):
    """A one-shot family's problem (`distill`, `merge`, `finetune`): its val-chosen front for claim 5."""

    def front_pool(self) -> CandidatePool: ...


def claim_pools(rec: ProblemInstance, problem: Any) -> list[pd.DataFrame]:
    """Claim 4's pools of a stitching problem and claim 5's front of a one-shot problem, long form
    (`moo.pools`); none for other problems."""
    if isinstance(problem, OneShotFront):
        return [problem.front_pool().to_frame(instance=rec.id, pool=ONE_SHOT_POOL)]
    pools = problem.claim_pools() if isinstance(problem, Stitching) else None
    if pools is None:
        return []
    named = {"ensembles": pools.ensembles, "references": pools.references, "stitched": pools.stitched}
    return [pool.to_frame(instance=rec.id, pool=name) for name, pool in named.items() if pool is not None]


def stitched_candidates(problem: Any, X: np.ndarray, F: np.ndarray, base: dict) -> pd.DataFrame:
    """Where the problem stitches and cannot enumerate its stitched candidates (live): the val-non-dominated
    stitched candidates this job evaluated (all ties), scored on test per sample, as claim 4's pools are
    (`moo.pools`). The union over jobs holds the val front of every stitched candidate any solver evaluated."""
    if not isinstance(problem, Stitching) or problem.stitches_enumerated():
        return pd.DataFrame()
    alpha = problem.stitch_alpha(X) if len(X) else None
    if alpha is None:
        return pd.DataFrame()
    cols = [problem.objectives.index(o) for o in problem.objectives if o.party]
    rows = np.flatnonzero((alpha >= ALPHA_MIN) & np.isfinite(F).all(1))
    Xs = np.unique(X[rows[val_front(F[rows][:, cols])]], axis=0)
    source = {"job": base["job"], "solver": base["solver"], "seed": base["seed"]}
    pool = problem.candidate_pool(Xs)
    for d in pool.decisions:
        d["source"] = source
    return pool.to_frame(instance=base["instance"], pool="stitched", job=base["job"])


class ClaimsAnalysis(Analysis):
    """The paper's claims check (PAPER.md): claims 1-5 with three-valued verdicts, and the headline."""

    reference_tables: ClassVar[dict[str, list[str]]] = {
        "claim_pools": ["instance", "pool", *POOL_COLUMNS],
        "reference_samples": ["instance", "baseline", "party", "samples"],
    }
    outputs: ClassVar[tuple[str, ...]] = (CLAIMS,)
    reads_models: ClassVar[bool] = True  # its pools and per-sample references come from the zoo's models

    def references(self, rec: ProblemInstance, problem: Any) -> dict[str, pd.DataFrame]:
        pools = claim_pools(rec, problem)
        per_sample = problem.reference_samples("test") if isinstance(problem, ReferenceSamples) else {}
        samples = [
            (rec.id, name, party, np.asarray(x, dtype=np.float32))
            for name, per_party in per_sample.items()
            for party, x in zip(rec.parties, per_party, strict=True)
        ]
        empty = pd.DataFrame(columns=self.reference_tables["claim_pools"])
        return {
            "claim_pools": pd.concat(pools, ignore_index=True) if pools else empty,
            "reference_samples": pd.DataFrame(samples, columns=self.reference_tables["reference_samples"]),
        }

    def job_tables(self, problem: Any, X: np.ndarray, F: np.ndarray, base: dict) -> dict[str, pd.DataFrame]:
        stitched = stitched_candidates(problem, X, F, base)
        return {"stitched": stitched} if len(stitched) else {}

    def aggregate(self, run: RunDir, instances: dict[str, ProblemInstance], done: list[str]) -> None:
        pools = pd.concat([run.table("claim_pools"), run.job_tables(done, "stitched")], ignore_index=True)
        write_json(run.file(CLAIMS), check_claims(run.table("reference_samples"), pools, instances).dump())

    def blocks(self, run: RunDir, instances: dict[str, ProblemInstance], baselines: pd.DataFrame) -> list:
        return claims_blocks(self.claims(run), baselines, instances, run.file("figures"))

    def marks(self, run: RunDir) -> dict[str, list[tuple[str, np.ndarray]]]:
        """Claim 4's s* on its own instance's front figure, per zoo seed."""
        instances = instances_of(run.require())
        out: dict[str, list] = {}
        for data in self.claims(run).scenarios.values():
            for check in data.claim(4).checks:
                for r in check.per_seed:
                    rec = instances.get(r.selected.instance) if r.selected else None
                    if rec is None:
                        continue
                    v = np.full(len(rec.objectives), np.nan)
                    for party, value in r.point.items():
                        v[rec.objectives.index(party)] = value
                    out.setdefault(rec.id, []).append((f"claim 4's s* ({r.verdict}, zoo seed {r.zoo_seed})", v))
        return out

    @staticmethod
    def claims(run: RunDir) -> ClaimsRecord:
        return ClaimsRecord.read(run.file(CLAIMS))
