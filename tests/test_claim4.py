"""Claim 4 on real models (constructed pools: tests/core/test_claims.py): the ensemble-weights problem's
candidates dressed as stitches fail, alphas below ALPHA_MIN are never stitched, a live job keeps its val-chosen
stitched candidates, the order of a suite's problems changes no claim, and failed jobs leave claim 4 NOT TESTED."""

import json

import numpy as np
import pandas as pd
import pytest

from stitchbench.moo._pools import ALPHA_MIN, CandidatePool, scored, val_front, weighting_pool
from stitchbench.study._bootstrap import FAILS, NOT_TESTED
from stitchbench.study._claim4 import decide_seed
from stitchbench.study._claims import check_claims
from stitchbench.study._inputs import groups_of

from .core.test_claims import frame, instance


def ensemble_as_stitch(zoo, records, parties, W, exact):
    """Weighted output ensembles of `records` (W, or every breakpoint where W is None) as a pool of
    candidates dressed as stitches at alpha 0.5."""
    from stitchbench.problems._baselines import ensemble_scorer

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
    from stitchbench.moo._instance import make_instance
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
    c = decide_seed("uci-digits", groups_of("uci-digits", [rec], table), 0)
    assert c.verdict == FAILS and c.eligible == 0, c
    assert c.hv_gain < 1e-3


def test_alphas_below_alpha_min_are_never_stitched(se_problem, se_table):
    """(b) a raw alpha that snaps to 0 on the grid (5 levels: below 0.125) and a live alpha of 0.01 are
    evaluated as output ensembles: no stitched candidate, whatever their scores; tabular pools enumerate
    alpha levels >= ALPHA_MIN only."""
    from stitchbench.study._analysis import stitched_candidates

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
    c = decide_seed("uci-digits", groups_of("uci-digits", [rec], table), 0)
    assert c.verdict == NOT_TESTED


def test_a_live_jobs_stitched_candidates_are_its_val_front_at_evaluated_alpha(se_problem):
    from stitchbench.study._analysis import stitched_candidates

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
analyses = ["claims"]

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
    from stitchbench.benchmark._runner import run_suite
    from stitchbench.benchmark._suite import load_suite

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
    got = {c["on"]: c["a"]["score"] for c in c3}
    assert got == pytest.approx(dict(zip(want.objective, want.value, strict=True)), abs=1e-6)
    assert got != pytest.approx(dict(zip(wide.objective, wide.value, strict=True)), abs=1e-6)


def test_every_job_of_a_live_stitching_problem_failed_is_not_tested(se_problem):
    """(f) a live instance whose jobs all failed has no stitched candidate: NOT TESTED, never FAIL."""
    parties = se_problem.parties()
    rec = instance("digits-shift/z0/stitch-ensemble@uci-digits", "uci-digits", parties, [f"local:{p}" for p in parties])
    pools = se_problem.claim_pools()
    table = frame(rec, None, pools.ensembles, pools.references)
    samples = pd.DataFrame(
        [
            (rec.id, name, party, x)
            for name, per_party in se_problem.reference_samples("test").items()
            for party, x in zip(rec.parties, per_party, strict=True)
        ],
        columns=["instance", "baseline", "party", "samples"],
    )
    claims = check_claims(samples, table, {rec.id: rec}).scenarios["digits-shift"].claims
    c4 = claims[3]
    host = next(h for h in c4.checks if h.host == "uci-digits")
    assert c4.verdict == NOT_TESTED and host.verdict == NOT_TESTED
    assert host.per_seed[0].reason == "no stitched candidate"
    mnist = next(h for h in c4.checks if h.host == "mnist")
    assert mnist.per_seed[0].reason == "no stitching problem"
    assert claims[0].verdict in ("HOLDS", "FAILS", "INCONCLUSIVE")  # claims 1-3 from the reference samples
