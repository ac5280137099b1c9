"""The paper's findings (PAPER.md's claims check) on a run's test split, each three-valued: HOLDS, FAILS or
INCONCLUSIVE, with the numbers that decided it (NOT TESTED where a run cannot test it, N/A where it does not
apply).

Claims 1-3 compare reference models through a paired bootstrap (`bootstrap`) of the difference each one
thresholds: the test samples resampled with replacement (the same draw for both sides), and the zoo seeds too
where the run has several; HOLDS when the threshold is met on >= 95% of resamples, FAILS when on <= 5%. The
reference models are those of the first instance (by id) of each zoo seed that combines exactly one local
model per party. Claim 2 applies to pairs of parties whose data differ in source or acquisition (the
scenario declares its parties' sources). Claim 4 is `claim4`'s held-out test, per host and zoo seed; claim 5
(`claim5`) the same test against each one-shot family's front, per host and family.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stitchbench.moo._instance import ProblemInstance
from stitchbench.moo._pools import ALPHA_MIN
from stitchbench.tabular._grid import ONE_SHOT_FAMILIES

from . import _bootstrap as bootstrap
from ._bootstrap import NOT_APPLICABLE, NOT_TESTED, combined
from ._claim4 import EPS, POINT, decide_seed, host_verdict
from ._claim5 import ONE_SHOT_POOL, claim5
from ._gaps import gap_rows
from ._inputs import Samples, host_groups, reference_samples
from ._records import (
    Bootstrap,
    BootstrapSettings,
    Claim,
    Claim4Check,
    Claim4Seed,
    ClaimsRecord,
    ReferenceCheck,
    ScenarioClaims,
    Side,
)

NAMES = {
    1: "Local matches merged on its own data",
    2: "Local is worse elsewhere",
    3: "The ensemble trades own performance for generalization",
    4: "Stitches improve on ensembles",
    5: "Stitches improve on the one-shot alternatives",
}


@dataclass(frozen=True)
class Rule:
    """A threshold on a difference d of two scores, in points: |d| <= bound ("abs"), d <= bound ("le") or
    d >= bound ("ge")."""

    kind: str
    bound: float

    def holds(self, d: np.ndarray) -> np.ndarray:
        b = self.bound * POINT
        if self.kind == "abs":
            return np.abs(d) <= b + EPS
        return d <= b + EPS if self.kind == "le" else d >= b - EPS

    def text(self) -> str:
        sign = {"abs": "|difference| ≤", "le": "difference ≤", "ge": "difference ≥"}[self.kind]
        return f"{sign} {self.bound:+g} points" if self.kind != "abs" else f"{sign} {self.bound:g} points"


LOCAL_VS_MERGED = Rule("abs", 3)  # claim 1: local p on p - merged on p
WORSE_ELSEWHERE = Rule("le", -10)  # claim 2: local p on q - local q on q
ENSEMBLE_OWN = Rule("le", -1)  # claim 3: ensemble on p - local p on p
ENSEMBLE_OTHER = Rule("ge", 1)  # claim 3: ensemble on q - local p on q


def local_models_instance(recs: list[ProblemInstance], table: pd.DataFrame) -> ProblemInstance | None:
    """The first instance (by id) that combines exactly one local model per party (or declares no members)
    and has every local model and their ensemble among its reference samples: where claims 1-3 look."""
    for rec in sorted(recs, key=lambda r: r.id):
        locals_ = {f"local:{p}" for p in rec.parties}
        if rec.members and sorted(rec.members) != sorted(locals_):
            continue
        if locals_ | {"ensemble"} <= set(reference_samples(table, rec)):
            return rec
    return None


def compare(
    rule: Rule, a: tuple[str, str], b: tuple[str, str], seeds: list[Samples], parties: list[str], **who: str
) -> ReferenceCheck:
    """The paired bootstrap of d = score(a) - score(b) (each a (reference, party)), averaged over zoo seeds;
    `who`: the check's party (and other party, or party scored on)."""
    X = {side: np.stack([s[ref][party] for s in seeds]) for side, (ref, party) in (("a", a), ("b", b))}  # (K, N)
    ja, jb = parties.index(a[1]), parties.index(b[1])
    d = float(X["a"].mean(1).mean() - X["b"].mean(1).mean())

    def condition(w: list[np.ndarray], zoo: np.ndarray) -> np.ndarray:
        return rule.holds(((X["a"] @ w[ja] - X["b"] @ w[jb]) * zoo).sum(0))

    f = bootstrap.fraction(condition, [len(seeds[0]["ensemble"][p]) for p in parties], len(seeds))
    return ReferenceCheck(
        **who,
        a=Side(reference=a[0], on=a[1], score=float(X["a"].mean())),
        b=Side(reference=b[0], on=b[1], score=float(X["b"].mean())),
        diff_points=d / POINT,
        rule=rule.text(),
        holds_on_point_estimate=bool(rule.holds(np.array(d))),
        bootstrap=Bootstrap.of(f),
        verdict=bootstrap.verdict(f),
    )


def claim1(seeds: list[Samples], parties: list[str]) -> list[ReferenceCheck]:
    if "merged" not in seeds[0]:
        return []
    return [compare(LOCAL_VS_MERGED, (f"local:{p}", p), ("merged", p), seeds, parties, party=p) for p in parties]


def claim2(seeds: list[Samples], parties: list[str], sources: dict[str, str]) -> list[ReferenceCheck]:
    out = []
    for p in parties:
        for q in (q for q in parties if q != p):
            if sources.get(p) is not None and sources.get(p) == sources.get(q):
                reason = f"one source ({sources[p]})"
                out.append(ReferenceCheck(party=p, other=q, verdict=NOT_APPLICABLE, reason=reason))
                continue
            out.append(compare(WORSE_ELSEWHERE, (f"local:{p}", q), (f"local:{q}", q), seeds, parties, party=p, other=q))
    return out


def claim3(seeds: list[Samples], parties: list[str]) -> list[ReferenceCheck]:
    out = []
    for p in parties:
        out.append(compare(ENSEMBLE_OWN, ("ensemble", p), (f"local:{p}", p), seeds, parties, party=p, on=p))
        out += [
            compare(ENSEMBLE_OTHER, ("ensemble", q), (f"local:{p}", q), seeds, parties, party=p, on=q)
            for q in parties
            if q != p
        ]
    return out


def claim4(host: str, seeds: list[int], recs: list[ProblemInstance], pools: pd.DataFrame) -> Claim4Check:
    """Claim 4 for a host: decided per zoo seed (`claim4.decide_seed`), aggregated by `host_verdict`."""
    per_seed = []
    for seed in seeds:
        groups = host_groups(host, seed, recs, pools)
        untested = Claim4Seed(zoo_seed=seed, verdict=NOT_TESTED, reason="no stitching problem")
        per_seed.append(decide_seed(host, groups, seed) if groups else untested)
    return Claim4Check(host=host, verdict=host_verdict(per_seed), per_seed=per_seed)


def one_shot_families(pools: pd.DataFrame, instances: dict[str, ProblemInstance]) -> list[str]:
    """The one-shot families with an instance anywhere in the run (a scenario without one: NOT TESTED)."""
    present = {instances[i].family for i in set(pools[pools.pool == ONE_SHOT_POOL].instance)} if len(pools) else set()
    return [f for f in ONE_SHOT_FAMILIES if f in present]


def scenario_claims(
    recs: list[ProblemInstance], samples: pd.DataFrame, pools: pd.DataFrame, families: list[str] = ()
) -> ScenarioClaims:
    """A scenario's claims 1-5 and its headline gaps."""
    seeds = sorted({r.zoo_seed for r in recs})
    found = [local_models_instance([r for r in recs if r.zoo_seed == s], samples) for s in seeds]
    refs = [reference_samples(samples, rec) for rec in found if rec is not None]
    parties = recs[0].parties
    sources = next((r.sources for r in recs if r.sources), {})
    checks: dict[int, list] = {1: [], 2: [], 3: []}
    if refs:
        checks = {1: claim1(refs, parties), 2: claim2(refs, parties, sources), 3: claim3(refs, parties)}
    checks[4] = [claim4(p, seeds, recs, pools) for p in parties]
    checks[5] = [
        check
        for p in parties
        for check in claim5(
            p,
            seeds,
            recs,
            pools,
            lambda seed, p=p: host_groups(p, seed, recs, pools),
            lambda rec: reference_samples(samples, rec).get("merged", {}),
            list(families),
        )
    ]
    claims = [
        Claim(id=i, name=name, verdict=combined([c.verdict for c in checks[i]]), checks=checks[i])
        for i, name in NAMES.items()
    ]
    return ScenarioClaims(
        seeds=seeds,
        reference_seeds=[r.zoo_seed for r in found if r is not None],
        claims=claims,
        gaps=gap_rows(recs, pools, samples, list(families)),
    )


def check_claims(samples: pd.DataFrame, pools: pd.DataFrame, instances: dict[str, ProblemInstance]) -> ClaimsRecord:
    """Every scenario's claims. `samples`: the run's reference samples (instance, baseline, party, samples);
    `pools`: claim 4's pools (the prepared ones and the finished jobs') and the one-shot instances' fronts."""
    families = one_shot_families(pools, instances)
    scenarios = {
        scenario: scenario_claims([r for r in instances.values() if r.scenario == scenario], samples, pools, families)
        for scenario in sorted({r.scenario for r in instances.values()})
    }
    settings = BootstrapSettings(
        resamples=bootstrap.RESAMPLES,
        resamples_near=bootstrap.RESAMPLES_NEAR,
        level=bootstrap.LEVEL,
        near_se=bootstrap.NEAR,
        seed=bootstrap.BOOTSTRAP_SEED,
    )
    return ClaimsRecord(split="test", point=POINT, alpha_min=ALPHA_MIN, bootstrap=settings, scenarios=scenarios)
