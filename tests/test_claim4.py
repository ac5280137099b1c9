"""Claim 4 (stitches improve on ensembles), shown able to fail on every input built to fail it: output
ensembles dressed as stitches, alphas that evaluate as no stitch, a win by one test sample; and passing on a
stitch that beats the ensembles far above test noise."""

import json

import numpy as np
import pandas as pd
import pytest

from stitchbench.moo.instance import ProblemInstance
from stitchbench.moo.pools import ALPHA_MIN, CandidatePool, scored, val_front, weighting_pool
from stitchbench.results.claims import check_claims, decide

PARTIES = ["A", "B"]
N = 400


def instance(iid="s/z0/stitch@A", host="A", parties=PARTIES, members=("local:A", "local:B"), zoo_seed=0):
    return ProblemInstance(
        id=iid,
        problem_id=iid.split("/")[-1],
        scenario=iid.split("/")[0],
        scenario_name=iid.split("/")[0],
        scenario_params={},
        zoo_seed=zoo_seed,
        family="plugin-stitcher",
        params={"method": "double-batched"},
        host=host,
        parties=list(parties),
        metric="accuracy",
        objectives=list(parties),
        maximize=[True] * len(parties),
        variables=[],
        bounds=[(0.0, 1.0)] * len(parties),
        reference_point=[0.0] * len(parties),
        front="exact",
        artifacts={},
        members=list(members),
    )


def nested(*scores: float) -> list[np.ndarray]:
    """Per party, samples 0 .. round(score * N) - 1 right: a higher score's right samples contain a lower's."""
    return [(np.arange(N) < round(s * N)).astype(float)[None] for s in scores]


def synthetic(points: list[tuple[float, float]], decisions=None) -> CandidatePool:
    pools = []
    for i, (a, b) in enumerate(points):
        samples = nested(a, b)
        test = np.array([[s.mean() for s in samples]])
        d = decisions[i] if decisions else {"point": "p1", "alpha": 0.5, "weights": {"A": 0.5, "B": 0.5}}
        pools.append(CandidatePool(PARTIES, [d], test, test, samples))
    return CandidatePool.concat(pools, PARTIES)


# local A (0.95, 0.60), local B (0.60, 0.95), their uniform ensemble (0.90, 0.90): a recovering stitch for
# host A needs A >= 0.935 and B >= 0.75. One output ensemble, E* = (0.94, 0.78), recovers on its own.
REFS = synthetic(
    [(0.95, 0.60), (0.60, 0.95), (0.90, 0.90)], [{"reference": r} for r in ("local:A", "local:B", "ensemble")]
)
ENSEMBLES = synthetic([(0.95, 0.60), (0.94, 0.78), (0.90, 0.90), (0.60, 0.95)])


def frame(rec: ProblemInstance, stitched: CandidatePool | None, ensembles=ENSEMBLES, refs=REFS) -> pd.DataFrame:
    named = {"ensembles": ensembles, "references": refs, "stitched": stitched}
    return pd.concat([p.to_frame(instance=rec.id, pool=k) for k, p in named.items() if p is not None])


def claim4_of(stitched: CandidatePool | None) -> dict:
    rec = instance()
    return decide("A", [rec], frame(rec, stitched))


def test_pools_round_trip_through_their_table():
    rec = instance()
    back = CandidatePool.from_frame(frame(rec, None).query("pool == 'ensembles'"), PARTIES)
    assert back.decisions == ENSEMBLES.decisions and np.array_equal(back.test, ENSEMBLES.test)
    assert all(np.array_equal(a, b) for a, b in zip(back.samples, ENSEMBLES.samples, strict=True))


def test_val_front_keeps_every_tie():
    val = np.array([[0.5, 0.5], [0.5, 0.5], [0.4, 0.4], [0.6, 0.1], [0.6, 0.1], [0.6, 0.0]])
    assert val_front(val).tolist() == [0, 1, 3, 4]


def test_ensembles_dressed_as_stitches_fail():
    c = claim4_of(ENSEMBLES)
    assert c["tested"] and not c["holds"] and c["bootstrap_fraction"] == 0.0
    assert c["recovering_points"] == c["recovering_but_dominated_by_ensembles"] == 1
    assert c["hv_gain"] == pytest.approx(0.0, abs=1e-12)


def test_a_stitch_far_above_test_noise_passes():
    c = claim4_of(synthetic([(0.96, 0.85)]))
    assert c["tested"] and c["holds"] and c["bootstrap_fraction"] >= 0.99
    assert c["point"] == {"A": 0.96, "B": 0.85} and c["hv_gain"] > 0.01
    assert c["decision"]["alpha"] == 0.5 and c["decision"]["params"]["method"] == "double-batched"


def test_a_stitch_one_test_sample_better_fails_on_the_bootstrap():
    c = claim4_of(synthetic([(0.94, 0.78 + 1 / N)]))
    assert c["holds_on_point_estimate"] and not c["dominated_by_ensemble"]
    # the extra sample is missing from a resample with probability (1 - 1/N)^N = 0.37: then E* ties it
    assert not c["holds"] and 0.4 < c["bootstrap_fraction"] < 0.64


def test_no_stitched_candidate_is_not_tested():
    c = claim4_of(None)
    assert not c["tested"] and not c["holds"] and c["reason"] == "no stitched candidate"


def ensemble_as_stitch(zoo, records, parties, W, exact):
    """Weighted output ensembles of `records` (W, or every breakpoint where W is None) as a pool of
    candidates dressed as stitches at alpha 0.5."""
    from stitchbench.problems.baselines import ensemble_scorer

    def scorer(_, party, split):
        return ensemble_scorer(zoo, records, party, split)

    def dressed(_, w):
        return {"point": "stage2_0", "alpha": 0.5, "weights": dict(zip(parties, map(float, w), strict=True))}

    if W is None:
        return weighting_pool([None], scorer, parties, dressed, lambda: None)
    return scored(None, W, scorer, parties, dressed, exact)


def test_the_ensemble_weights_problem_dressed_as_stitches_fails(zoo, weights_problem, se_table):
    """(a) on real models: the ensemble-weights problem's exact front (all ties) and its solvers' final
    fronts, relabelled as stitches at alpha 0.5, against the stitch-ensemble of the same members."""
    from stitchbench.moo.instance import make_instance
    from stitchbench.solvers import create_solver, run_solver

    assert weights_problem.member_kinds() == se_table.member_kinds()
    parties = weights_problem.parties()
    pools = [ensemble_as_stitch(zoo, weights_problem.members, parties, None, True)]
    for name in ("random", "pymoo.nsga2"):
        run = run_solver(create_solver(name), weights_problem, 200, 0)
        X, F = np.array([e.x for e in run.log]), np.array([e.f for e in run.log])
        front = np.unique(X[val_front(F)], axis=0)
        pools.append(
            ensemble_as_stitch(zoo, weights_problem.members, parties, front / front.sum(1, keepdims=True), True)
        )
    stitched = CandidatePool.concat(pools, parties)
    params = {"host": "uci-digits", "alpha_grid": 5, "cost": True}
    rec = make_instance(se_table, "stitch-ensemble@uci-digits", "stitch-ensemble", params, "digits-shift", {}, 0)
    real = se_table.claim_pools()
    table = pd.concat(
        [
            real.ensembles.to_frame(instance=rec.id, pool="ensembles"),
            real.references.to_frame(instance=rec.id, pool="references"),
            stitched.to_frame(instance=rec.id, pool="stitched"),
        ]
    )
    c = decide("uci-digits", [rec], table)
    assert c["tested"] and not c["holds"], c
    assert c["bootstrap_fraction"] < 0.95 and c["hv_gain"] < 1e-3


def test_alphas_below_alpha_min_are_never_stitched(se_problem, se_table):
    """(b) a raw alpha that snaps to 0 on the grid (5 levels: below 0.125) and a live alpha of 0.01 are
    evaluated as output ensembles: no stitched candidate, whatever their scores; tabular pools enumerate
    alpha levels >= ALPHA_MIN only."""
    from stitchbench.benchmark.workspace import stitched_candidates

    raw = np.array([[3, 0.01, 0.5, 0.5], [3, 0.12, 0.3, 0.7]])
    assert se_table.stitch_alpha(raw).tolist() == [0.0, 0.0]
    assert se_problem.stitch_alpha(raw).tolist() == [0.01, 0.12]
    live = np.array([[3, 0.01, 0.5, 0.5], [2, 0.04, 0.9, 0.1]])
    base = {"job": "j", "instance": "i", "solver": "random", "seed": 0}
    assert stitched_candidates(se_problem, live, se_problem.evaluate(live), base).empty
    pools = se_table.claim_pools()
    assert min(d["alpha"] for d in pools.stitched.decisions) >= ALPHA_MIN
    assert {d["alpha"] for d in pools.ensembles.decisions} == {0.0}
    rec = instance("digits-shift/z0/stitch-ensemble@uci-digits", "uci-digits", se_problem.parties())
    live_pools = se_problem.claim_pools()
    assert live_pools.stitched is None  # live: the jobs' candidates make S, and here there are none
    table = frame(rec, None, live_pools.ensembles, live_pools.references)
    c = decide("uci-digits", [rec], table)
    assert not c["tested"] and not c["holds"]


def test_a_live_jobs_stitched_candidates_are_its_val_front_at_evaluated_alpha(se_problem):
    from stitchbench.benchmark.workspace import stitched_candidates

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 7, 30), rng.uniform(0, 1, 30), rng.uniform(0, 1, (30, 2))])
    F = se_problem.evaluate(X)
    base = {"job": "j", "instance": "i", "solver": "random", "seed": 3}
    df = stitched_candidates(se_problem, X, F, base)
    pool = CandidatePool.from_frame(df, se_problem.parties())
    stitched = X[:, 1] >= ALPHA_MIN
    want = F[stitched][val_front(F[stitched])]
    assert sorted(map(tuple, pool.val)) == sorted(map(tuple, want))
    assert all(d["source"] == {"job": "j", "solver": "random", "seed": 3} for d in pool.decisions)
    rows = [
        [se_problem.variables[0].choices.index(d["point"]), d["alpha_raw"], *d["weights"].values()]
        for d in pool.decisions
    ]
    assert np.allclose(se_problem.evaluate(rows, "test"), pool.test)
    assert np.allclose(pool.test, np.stack([s.mean(1) for s in pool.samples], 1))


ORDER = """
name = "order"
seeds = [0]
budget = 4

[[scenarios]]
name = "digits-shift"

{problems}

[[solvers]]
name = "random"
"""
WIDE = """[[problems]]
family = "ensemble-weights"
id = "ensemble-weights-4"
params = { members = ["local", "merged", "fedavg"] }
"""
LOCAL = '[[problems]]\nfamily = "ensemble-weights"\n'


def test_claims_do_not_depend_on_the_order_of_problems(tmp_path, zoo, cache_dir):
    """(e) the uniform ensemble of claims 1-3 is that of the local models, however the suite lists a wider
    ensemble."""
    from stitchbench.benchmark.runner import run_suite
    from stitchbench.benchmark.suite import load_suite

    claims = []
    for name, problems in (("wide-first", WIDE + LOCAL), ("local-first", LOCAL + WIDE)):
        (tmp_path / f"{name}.toml").write_text(ORDER.format(problems=problems))
        out = tmp_path / name
        run_suite(load_suite(str(tmp_path / f"{name}.toml")), out, cache_dir=cache_dir, quiet=True)
        claims.append(json.loads((out / "claims.json").read_text()))
    assert claims[0] == claims[1]
    c3 = claims[0]["scenarios"]["digits-shift"]["claims"][2]["checks"]
    base = pd.read_parquet(tmp_path / "local-first" / "baselines.parquet")
    want = base.query("instance == 'digits-shift/z0/ensemble-weights' and split == 'test' and baseline == 'ensemble'")
    wide = base.query("instance == 'digits-shift/z0/ensemble-weights-4' and split == 'test' and baseline == 'ensemble'")
    got = {c["on"]: c["ensemble"] for c in c3}
    assert got == dict(zip(want.objective, want.value, strict=True))
    assert got != dict(zip(wide.objective, wide.value, strict=True))


def test_every_job_of_a_live_stitching_problem_failed_is_not_tested(se_problem):
    """(f) a live instance whose jobs all failed has no stitched candidate: NOT TESTED, never FAIL."""
    rec = instance("digits-shift/z0/stitch-ensemble@uci-digits", "uci-digits", se_problem.parties())
    pools = se_problem.claim_pools()
    table = frame(rec, None, pools.ensembles, pools.references)
    baselines = pd.DataFrame(
        [
            (rec.id, "test", name, o, float(v))
            for name, vec in se_problem.baselines("test").items()
            for o, v in zip(rec.objectives, vec, strict=True)
        ],
        columns=["instance", "split", "baseline", "objective", "value"],
    )
    claims = check_claims(baselines, table, {rec.id: rec})["scenarios"]["digits-shift"]["claims"]
    c4 = claims[3]
    host = next(h for h in c4["checks"] if h["host"] == "uci-digits")
    assert not c4["tested"] and not c4["holds"] and not host["tested"]
    assert host["per_seed"][0]["reason"] == "no stitched candidate"
    mnist = next(h for h in c4["checks"] if h["host"] == "mnist")
    assert mnist["per_seed"][0]["reason"] == "no stitching problem"
