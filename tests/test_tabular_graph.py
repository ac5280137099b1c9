"""Tabular stitch graphs: a point subset enumerated once into a cached table, served without the network."""

import subprocess
import sys

import numpy as np
import pytest

from stitchbench.errors import InputError
from stitchbench.moo._api import TabularProblem
from stitchbench.moo._front import nondominated
from stitchbench.problems import _stitch_graph as sg
from stitchbench.problems import create_problem
from stitchbench.tabular._fidelity import prefix
from stitchbench.tabular._graph import ChainGraphTable, GraphTable, chain_canonical, decision_index, raw_rows


@pytest.fixture(scope="module")
def tab(zoo, cache_dir):
    """Two points (the first and the last), cost on."""
    return create_problem("stitch-graph", zoo, host="uci-digits", cache_dir=cache_dir, max_points=2, cost=True)


@pytest.fixture(scope="module")
def live(zoo, cache_dir):
    """The live problem over every point, cost on."""
    return create_problem("stitch-graph", zoo, host="uci-digits", cache_dir=cache_dir, cost=True)


def full_rows(tab, live, rows):
    """The live problem's rows equal to the subset's rows: switches off at every other point."""
    k, n, sel = tab.live.n_points, live.n_points, tab.live.selected
    out = np.zeros((len(rows), 2 * n + 1))
    out[:, sel], out[:, [n + i for i in sel]], out[:, -1] = rows[:, :k], rows[:, k : 2 * k], rows[:, -1]
    return out


def test_raw_decision_index_enumerates_the_space():
    rows = raw_rows(3)
    assert rows.shape == (192, 7) and len(np.unique(rows, axis=0)) == 192
    assert np.array_equal(decision_index(rows, 3), np.arange(192))


def test_tabular_and_live_agree_exactly(tab, live):
    assert isinstance(tab, TabularProblem) and not isinstance(live, TabularProblem)
    points = tab.live.point_names
    assert points == [live.point_names[0], live.point_names[-1]]
    assert [v.name for v in tab.variables] == [f"{d}.{p}" for d in ("ab", "ba") for p in points] + ["output"]
    rows = raw_rows(2)
    for split in ("val", "test"):
        got = tab.evaluate(rows, split)
        assert np.array_equal(got, live.evaluate(full_rows(tab, live, rows), split))
        assert np.array_equal(got, np.array(tab._evaluate(list(rows), split)))  # the non-vectorized entry
    assert len(tab.table.candidates) == len({tab.live.canonical(r) for r in rows}) == 20
    assert tab.max_cost() == tab.table.scores["val"][:, -1].max() < live.max_cost()  # all exposed switches on


def test_exact_front_is_the_nondominated_set_of_the_full_enumeration(tab, live):
    assert tab.front_kind() == "exact" and tab.live.space_size() == 48
    rows = raw_rows(2)
    for split in ("val", "test"):
        front = tab.exact_front(split)
        assert np.array_equal(front, nondominated(live.evaluate(full_rows(tab, live, rows), split), tab.maximize))
        assert np.array_equal(front, nondominated(tab.evaluate(rows, split), tab.maximize))


def test_point_subset_errors_name_the_bad_value(zoo, cache_dir, digits, live, monkeypatch):
    with pytest.raises(InputError, match="unknown point 'nope'.*" + live.point_names[-1]):
        create_problem("stitch-graph", zoo, host="uci-digits", cache_dir=cache_dir, points=["nope"])
    for params, match in [
        ({"points": ["a"], "max_points": 2}, "not both"),
        ({"max_points": 0}, "'max_points' = 0 is invalid"),
        ({"max_points": True}, "max_points"),
        ({"points": []}, "non-empty list"),
        ({"points": ["a", "a"]}, "twice"),
        ({"points": [f"p{i}" for i in range(16)]}, "at most 15"),
    ]:
        if "max_points" not in params or "points" in params:  # a declared range: checked by the registry
            with pytest.raises(InputError, match=match):
                sg.StitchGraphProblem.check_params(digits, ["cnn"], params)
        with pytest.raises(InputError, match=match):
            create_problem("stitch-graph", zoo, host="uci-digits", cache_dir=cache_dir, **params)
    n = len(live.point_names)
    too_many = rf"max_points={n + 1} is more than the {n} points matched.*valid: 1..{n}"
    with pytest.raises(InputError, match=too_many):  # when a suite is validated, before anything is built
        sg.StitchGraphProblem.check_params(digits, ["cnn"], {"max_points": n + 1})
    with pytest.raises(InputError, match=too_many):
        create_problem("stitch-graph", zoo, host="uci-digits", cache_dir=cache_dir, max_points=n + 1)
    sg.StitchGraphProblem.check_params(digits, ["cnn"], {"max_points": n})  # all of them: valid
    monkeypatch.setattr(sg, "MAX_TABLE_POINTS", 2)
    create_problem("stitch-graph", zoo, host="uci-digits", cache_dir=cache_dir, max_points=3)  # a chain: <= 15
    monkeypatch.setattr(sg, "chain_points", lambda members: set())  # as if a skip crossed every point
    with pytest.raises(InputError, match="k=3 .*limit is k <= 2: a skip connection crosses"):
        create_problem("stitch-graph", zoo, host="uci-digits", cache_dir=cache_dir, max_points=3)
    monkeypatch.setattr(sg, "MAX_TABLE_CANDIDATES", 5)
    with pytest.raises(InputError, match="k=1 .* 8 canonical candidates; the limit is 5"):
        create_problem("stitch-graph", zoo, host="uci-digits", cache_dir=cache_dir, points=[live.point_names[1]])


def test_a_second_construction_reads_the_cached_table(tab, zoo, cache_dir, monkeypatch):
    def refuse(*args):
        raise AssertionError("scored live: the cached table was not reused")

    monkeypatch.setattr(sg.StitchGraphProblem, "score_flow", refuse)
    again = create_problem("stitch-graph", zoo, host="uci-digits", cache_dir=cache_dir, max_points=2, cost=True)
    assert again.table_artifact.path == tab.table_artifact.path
    assert again.artifacts()["graph-table"].manifest["sha256"] == tab.table_artifact.manifest["sha256"]
    rows = raw_rows(2)
    assert np.array_equal(again.evaluate(rows, "test"), tab.evaluate(rows, "test"))
    # the same points named explicitly: the same table
    named = create_problem(
        "stitch-graph", zoo, host="uci-digits", cache_dir=cache_dir, points=tab.live.point_names[::-1], cost=True
    )
    assert named.table_artifact.path == tab.table_artifact.path


def test_graph_table_arrays_round_trip_and_lookup(tab):
    table = GraphTable.from_arrays(tab.table.to_arrays())
    rows = raw_rows(2)[np.random.default_rng(0).integers(0, 48, 200)]
    for split in ("val", "test"):
        cands = [tuple(c) for c in tab.table.candidates]  # each row's canonical candidate, found by value
        want = np.array([tab.table.scores[split][cands.index(tab.live.canonical(r))] for r in rows])
        assert np.array_equal(table.lookup(rows, tab.objective_parties(), split), want)
    with pytest.raises(InputError, match="decision_to_candidate"):
        GraphTable.from_arrays({**tab.table.to_arrays(), "decision_to_candidate": np.zeros(5, dtype=np.int64)})


def test_graph_table_imports_without_torch():
    code = "import sys; sys.modules['torch'] = None; import stitchbench.tabular._graph"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_table_holds_each_partys_val_samples_and_a_fidelity_scores_their_prefix(tab):
    """Format 2: per-sample val scores whose mean is each party's score; a fidelity scores a prefix of them,
    exactly, and leaves test alone."""
    t, rows = tab.table, raw_rows(2)
    cand = t.decision_to_candidate[decision_index(rows, 2)]
    view = tab.with_fidelity(0.4)
    for j, party in enumerate(tab.parties()):
        full = t.samples[party]
        assert full.shape == (len(t.candidates), len(tab.zoo.scenario.party(party).split("val").y))
        np.testing.assert_array_equal(full.astype(np.float64).mean(1), t.scores["val"][:, j])
        kept = full[:, prefix(party, full.shape[1], 0.4)]
        assert np.array_equal(view.evaluate(rows, "val")[:, j], kept[cand].astype(np.float64).mean(1))
    assert np.array_equal(view.evaluate(rows, "test"), tab.evaluate(rows, "test"))
    assert not np.array_equal(view.evaluate(rows, "val"), tab.evaluate(rows, "val"))


@pytest.fixture(scope="module")
def deep(digits, cache_dir):
    """Two residual MLPs (16 matched points, no skip crossing any): a chain table over 9 of them (3 * 4^9 raw
    decisions, 6,144 canonical candidates), and the live problem over all 16."""
    from stitchbench.zoo import build_zoo

    zoo = build_zoo(digits, archs=["resmlp"], kinds=["local"], cache_dir=cache_dir)
    kw = {"host": "uci-digits", "cache_dir": cache_dir, "cost": True, "archs": ["resmlp", "resmlp"]}
    return create_problem("stitch-graph", zoo, max_points=9, **kw), create_problem("stitch-graph", zoo, **kw)


def test_a_deep_chain_is_tabulated_compactly_and_scores_as_the_live_path(deep):
    tab, live = deep
    assert len(live.point_names) == 16 and tab.live.chain
    assert isinstance(tab.table, ChainGraphTable) and tab.live.space_size() == 3 * 4**9
    assert len(tab.table.canonical) == 12 * 2**9
    rng = np.random.default_rng(0)
    rows = raw_rows(9)[rng.integers(0, 3 * 4**9, 60)]
    rows = np.concatenate([rows, tab.table.candidates[rng.integers(0, len(tab.table.canonical), 60)]])
    flow = decision_index(np.array([tab.live.canonical(r) for r in rows]), 9)
    assert np.array_equal(chain_canonical(rows, 9), flow)  # the chain rule is the flow's analysis
    for split in ("val", "test"):  # every value the live path's, bit for bit (both computed here)
        assert np.array_equal(tab.evaluate(rows, split), live.evaluate(full_rows(tab, live, rows), split))
        assert np.array_equal(tab.exact_front(split), nondominated(tab.table.scores[split], tab.maximize))
    view = tab.with_fidelity(0.3)
    for j, party in enumerate(tab.parties()):
        n = tab.table.val_samples(party)
        samples = np.stack([tab.live.sample_flow(tab.live.flow(tab.live.decision(r)), "val")[party] for r in rows])
        assert np.array_equal(view.evaluate(rows, "val")[:, j], samples[:, prefix(party, n, 0.3)].mean(1))


def test_a_candidates_lineages_are_the_paths_its_outputs_read():
    from stitchbench.problems._graph_chain import lineages

    k = 2  # rows: ab.p0, ab.p1, ba.p0, ba.p1, output; code: n * 2^(k - s) + sum_j n_j 2^(j - s)
    rows = np.array(
        [
            [0, 0, 0, 0, 2],  # no switch: each member's own output (A: 0, B: 1)
            [0, 1, 0, 0, 1],  # B takes A's value at p1: starts at p1 in A, then B: 0 * 2 + 1
            [1, 0, 0, 0, 1],  # B takes A's at p0: starts at p0 in A, then B at p0 and p1: 0 * 4 + 1 + 2
            [1, 1, 1, 1, 2],  # swaps at both points: A's output ran in A, B, A; B's in B, A, B
            [0, 0, 0, 1, 0],  # A takes B's at p1: starts at p1 in B, then A
        ],
        dtype=float,
    )
    start, a, b = lineages(rows, k)
    assert start.tolist() == [-1, 1, 0, 0, 1]
    assert a.tolist() == [0, -1, -1, 0 * 4 + 1 + 0, 1 * 2 + 0]
    assert b.tolist() == [1, 0 * 2 + 1, 0 * 4 + 1 + 2, 1 * 4 + 0 + 2, -1]


def test_the_chain_scorer_is_the_live_path_in_any_chunks_and_batches(deep, monkeypatch):
    """Every candidate of a 3-point subset (unselected points between them), in chunks of 100 samples and
    batches of 7 candidates: the live path's probabilities and scores, bit for bit."""
    import torch

    from stitchbench.problems import _graph_chain
    from stitchbench.stitching import _networks

    _, live = deep
    tab = create_problem(
        "stitch-graph", live.zoo, host="uci-digits", cache_dir=live.cache_dir, cost=True, max_points=3,
        archs=["resmlp", "resmlp"],
    )  # fmt: skip
    monkeypatch.setattr(_networks, "CHUNK_BYTES", 1)
    monkeypatch.setattr(tab.live.setup.members, "batch_size", 100)
    monkeypatch.setattr(_graph_chain, "BATCH", 7)
    cands = tab.live.candidate_rows()[0]
    chain, live_scores = tab.live.chain_scores(cands, packed=False), tab.live.live_scores(cands)
    for got, want in zip(chain, live_scores, strict=True):
        assert got.keys() == want.keys() and all(np.array_equal(got[x], want[x]) for x in got)
    scorer = _graph_chain.ChainScorer(
        tab.live.setup.members, tab.live.setup.stitches, tab.live.cache, tab.live.selected
    )
    start, a, b = _graph_chain.lineages(cands, 3)
    for s in (0, 2):
        rows = np.flatnonzero(start == s)
        mixed = _graph_chain.mix(scorer.probs(s, "mnist", "test"), a[rows], b[rows])
        for i, r in enumerate(rows):
            d = tab.live.flow(tab.live.decision(cands[r])).decision
            assert torch.equal(mixed[i], tab.live.probs(d, "mnist", "test"))


def test_the_point_limit_says_why_it_is_lower():
    from stitchbench.problems._checks import check_subset_size

    nine = [f"p{i}" for i in range(9)]
    check_subset_size(nine, True, "accuracy", (8, 15))  # a chain scored by accuracy: up to 15
    with pytest.raises(InputError, match=r"k=9 .*k <= 8: the metric 'dice' is not accuracy"):
        check_subset_size(nine, True, "dice", (8, 15))
    with pytest.raises(InputError, match=r"k=9 .*k <= 8: a skip connection crosses"):
        check_subset_size(nine, False, "accuracy", (8, 15))
    with pytest.raises(InputError, match=r"k=16 .*limit is k <= 15$"):
        check_subset_size([f"p{i}" for i in range(16)], True, "accuracy", (8, 15))
