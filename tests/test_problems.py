import numpy as np
import optuna
import pytest
import torch

from stitchbench.errors import InputError
from stitchbench.moo import TabularProblem, make_instance, nondominated, optuna_space, simplex_grid, to_pymoo
from stitchbench.problems import create_problem
from stitchbench.stitching import GraphDecision, StitchEnsemble


def acc(probs, y):
    return float((probs.argmax(1) == y).double().mean())


def test_weights_problem_shape(weights_problem):
    p = weights_problem
    assert [v.name for v in p.variables] == ["w.local:uci-digits", "w.local:mnist"]
    assert [o.name for o in p.objectives] == ["uci-digits", "mnist"]
    assert p.kinds == {"real"}


def test_weights_exact_front_ends_are_the_local_models(weights_problem):
    p = weights_problem
    base = p.baselines("val")
    ends = p.evaluate([[1, 0], [0, 1]], "val")
    assert np.allclose(ends[0], base["local:uci-digits"]) and np.allclose(ends[1], base["local:mnist"])
    front = p.exact_front("val")
    assert len(front) >= 3
    assert nondominated(front, p.maximize).shape == front.shape  # mutually non-dominated
    # the front is the upper envelope: nothing on it is dominated by a local model, and the front
    # reaches at least each local model's own score on that model's party
    for name in ("local:uci-digits", "local:mnist"):
        b = base[name]
        assert not any((b >= f).all() and (b > f).any() for f in front)
    assert front[:, 0].max() >= base["local:uci-digits"][0]
    assert front[:, 1].max() >= base["local:mnist"][1]


def test_weights_evaluation_equals_running_the_ensemble(weights_problem, zoo, digits):
    a, b = zoo.get("local:uci-digits").module, zoo.get("local:mnist").module
    for w in (0.2, 0.5, 0.9):
        got = weights_problem.evaluate([[w, 1 - w]], "test")[0]
        for j, party in enumerate(digits.party_names):
            split = digits.party(party).split("test")
            with torch.no_grad():
                probs = w * a(split.x).softmax(1) + (1 - w) * b(split.x).softmax(1)
            assert got[j] == pytest.approx(acc(probs, split.y), abs=1e-9)


def test_identical_canonical_vectors_are_evaluated_once(se_problem):
    p = se_problem
    before = p.evaluations
    p.evaluate([[1, 0.3, 0.2, 0.6], [1, 0.3, 0.1, 0.3], [1, 0.3, 0.25, 0.75], [2, 0.3, 0.5, 0.5]], "val")
    assert p.evaluations - before == 2  # three scalings of one weighting, plus one more
    p.evaluate([[1, 0.3, 0.3, 0.9]], "val")
    assert p.evaluations - before == 2


def test_scalings_of_a_weighting_score_alike_in_a_tabular_problem(zoo):
    p = create_problem("ensemble-weights", zoo)
    F = p.evaluate(np.array([[0.2, 0.6], [0.1, 0.3], [0.25, 0.75], [0.0, 0.0], [0.5, 0.5]]), "val")
    assert (F[0] == F[1]).all() and (F[1] == F[2]).all() and (F[3] == F[4]).all()
    assert isinstance(p, TabularProblem) and p.evaluations == 5  # lookups, one per row


def test_weights_problem_with_cost_has_k_plus_one_objectives(zoo):
    p = create_problem("ensemble-weights", zoo, cost=True)
    F = p.evaluate([[1, 0], [0.5, 0.5]], "val")
    assert F.shape == (2, 3) and F[1, 2] == 2 * F[0, 2] > 0
    rec = make_instance(p, "ensemble-weights+cost", "ensemble-weights", {}, "digits-shift", {}, 0)
    assert rec.bounds[2] == (0.0, F[1, 2]) and rec.reference_point == [0.0, 0.0, 1.0]
    np.testing.assert_allclose(rec.normalize(F)[:, 2], [0.5, 1.0])


def test_stitch_ensemble_front_beats_the_uniform_ensemble(se_problem):
    p = se_problem
    front = p.grid_front("test")
    assert p.exact_front("test") is None  # continuous: the grid is no exact front
    ens = p.baselines("test")["ensemble"]
    dominating = [f for f in front if (f >= ens).all() and (f > ens).any()]
    near = [f for f in front if (f >= ens - 0.01).all() and (f >= ens + 0.03).any()]
    assert dominating or near, f"front {front} vs ensemble {ens}"


def test_stitch_ensemble_evaluation_equals_the_stitched_network(se_problem, digits):
    p = se_problem
    m, s = p.setup.members, p.setup.stitches
    row = [3, 0.5, 0.4, 0.6]
    F = p.evaluate([row], "test")[0]
    for j, party in enumerate(digits.party_names):
        split = digits.party(party).split("test")
        with torch.no_grad():
            probs = StitchEnsemble(m, s, 3, 0.5, [0.4, 0.6])(split.x)
        assert F[j] == pytest.approx(acc(probs, split.y), abs=1e-9)
    # alpha = 0 makes the point irrelevant: one canonical candidate
    assert p.canonical(np.array([5, 0.0, 1, 1])) == p.canonical(np.array([1, 0.0, 2, 2]))


def test_stitch_graph_all_off_reproduces_local_models(graph_problem):
    p = graph_problem
    n = p.n_points
    base = p.baselines("test")
    rows = np.zeros((3, 2 * n + 1))
    rows[1, -1], rows[2, -1] = 1, 2
    F = p.evaluate(rows, "test")
    assert np.array_equal(F[0], base["local:uci-digits"])
    assert np.array_equal(F[1], base["local:mnist"])
    assert np.array_equal(F[2], base["ensemble"])
    assert p.exact_front() is None  # 3 * 4^7 candidates: too many to enumerate


def test_graph_canonical_form_drops_switches_that_cannot_reach_the_output(graph_problem):
    flow, n = graph_problem.flow, graph_problem.n_points  # a chain network: no skips
    on, off = (True,) * n, (False,) * n
    f = flow(GraphDecision(on, off, "A"))
    assert f.decision.ab == off and f.used == (True, False)  # A->B switches never reach output A
    last = tuple(i == n - 1 for i in range(n))
    first = tuple(i == 0 for i in range(n))
    f = flow(GraphDecision(first, last, "A"))
    assert f.decision.ab == first and f.decision.ba == last and f.used == (True, True)
    assert flow(GraphDecision(last, first, "A")).decision.ab == off  # B after its last point is never read


def test_graph_cost_charges_only_the_nodes_the_output_needs(graph_problem):
    """Hand-counted on the digits cnn: conv3x3 stages 1 -> 16 (28x28), 16 -> 32 (14x14), 32 -> 64 (7x7),
    pooled to 3x3, a 576 -> 10 head; a point-0 stitch is a 16 -> 16 1x1 conv at 28x28."""
    p, n = graph_problem, graph_problem.n_points
    conv1, conv2, conv3 = (2 * 9 * c for c in (1 * 16 * 784, 16 * 32 * 196, 32 * 64 * 49))
    head = 2 * 576 * 10
    stitch0 = 2 * 16 * 16 * 784
    flow = p.flow
    off, first = (False,) * n, tuple(i == 0 for i in range(n))
    assert p.costs.graph(flow(GraphDecision(off, off, "A"))) == conv1 + conv2 + conv3 + head
    # B->A at point 0, output A: B runs only its first conv, A only what follows point 0
    assert p.costs.graph(flow(GraphDecision(off, first, "A"))) == conv1 + stitch0 + conv2 + conv3 + head
    # the same switch with output B is dead: B alone runs
    assert p.costs.graph(flow(GraphDecision(off, first, "B"))) == conv1 + conv2 + conv3 + head
    assert p.max_cost() == 2 * (conv1 + conv2 + conv3 + head) + sum(
        p.costs.stitch(pi, k, 1 - k) for pi in range(n) for k in (0, 1)
    )


def test_two_member_weights_front_is_exact(weights_problem):
    """Each prediction flips only at a breakpoint: any weight scores like its interval's midpoint, and the
    front of all breakpoints and intervals weakly dominates every weighting, the old 1,001-point grid's too."""
    p = weights_problem
    assert p.front_is_exact
    breaks = p.breakpoints("val")
    assert len(breaks) > 100 and ((breaks > 0) & (breaks < 1)).all()
    w = np.random.default_rng(0).uniform(0, 1, 2000)
    edges = np.concatenate([[0.0], breaks, [1.0]])
    slot = np.searchsorted(edges, w) - 1
    inner = np.minimum(w - edges[slot], edges[slot + 1] - w) > 1e-6  # clear of float rounding at a breakpoint
    mid = (edges[slot] + edges[slot + 1]) / 2
    got = p.evaluate(np.stack([w, 1 - w], 1), "val")
    assert inner.sum() > 1900
    assert np.array_equal(got[inner], p.evaluate(np.stack([mid, 1 - mid], 1), "val")[inner])
    front = p.exact_front("val")
    grid = nondominated(p.evaluate(simplex_grid(2), "val"), p.maximize)
    for f in np.concatenate([got, grid]):
        assert any((e >= f).all() for e in front), f
    missed = [e for e in front if not any(np.array_equal(e, g) for g in grid)]
    assert missed, "the exact front has points no grid weight reaches"


def test_continuous_or_large_spaces_have_no_exact_front(graph_problem, se_problem):
    assert not se_problem.front_is_exact and se_problem.exact_front("val") is None
    assert not graph_problem.front_is_exact  # too many candidates to enumerate


def test_baselines_are_the_members_actually_combined(zoo, hetero_zoo, digits, cache_dir):
    """A cnn host and a resnet partner: local:mnist and the ensemble are the resnet partner's, not the cnn's."""
    from stitchbench.zoo import Zoo

    both = Zoo(digits, zoo.records + hetero_zoo.records)
    p = create_problem(
        "stitch-ensemble", both, host="uci-digits", archs=["cnn", "resnet"], cache_dir=cache_dir, cost=True
    )
    base = p.baselines("test")
    resnet, cnn = hetero_zoo.get("local:mnist"), zoo.get("local:mnist")
    for j, party in enumerate(digits.party_names):
        y = digits.party(party).split("test").y
        assert base["local:mnist"][j] == pytest.approx(acc(both.probs(resnet, party, "test"), y))
        assert base["local:uci-digits"][j] == pytest.approx(
            acc(both.probs(zoo.get("local:uci-digits"), party, "test"), y)
        )
    cnn_scores = [acc(both.probs(cnn, q, "test"), digits.party(q).split("test").y) for q in digits.party_names]
    assert list(base["local:mnist"][:2]) != cnn_scores
    plain = p.evaluate([[0, 0.0, 0.5, 0.5]], "test")[0]  # alpha 0: the plain ensemble of the members
    assert np.allclose(base["ensemble"][:2], plain[:2])
    assert base["ensemble"][2] == p.costs.full(0) + p.costs.full(1) != 2 * p.costs.full(0)
    assert base["merged"][2] == p.costs.full(0)  # references outside the members: the host's architecture


def test_flop_counting_reads_no_party_data(zoo, monkeypatch):
    from stitchbench.data import Party
    from stitchbench.problems._baselines import model_flops

    assert torch.equal(zoo.scenario.example(3), torch.zeros(3, 1, 28, 28))
    reads = []
    original = Party.split
    monkeypatch.setattr(Party, "split", lambda self, name: reads.append((self.name, name)) or original(self, name))
    p = create_problem("ensemble-weights", zoo, cost=True)
    assert {split for _, split in reads} <= {"val", "test"}  # its table: predictions on val and test only
    reads.clear()
    zoo.memo.clear()
    assert model_flops(zoo, p.members[0], zoo.scenario.example()) == p.flops[0] > 0
    assert reads == []
    assert p.data_reads() == {"train": [], "val": zoo.scenario.party_names, "test": zoo.scenario.party_names}


def test_four_party_problem_has_four_objectives(cache_dir):
    from stitchbench.data import get_scenario
    from stitchbench.zoo import build_zoo

    s4 = get_scenario("digits-shift-4")
    z = build_zoo(s4, kinds=["local"], cache_dir=cache_dir, recipe={"epochs": 2})
    p = create_problem("ensemble-weights", z)
    assert [o.name for o in p.objectives] == s4.party_names
    F = p.evaluate(np.eye(4), "val")
    assert not p.front_is_exact  # four members: the front of a lattice on the simplex
    for i, party in enumerate(s4.party_names):
        y = s4.party(party).split("val").y
        for j, r in enumerate(p.members):
            assert F[j, i] == pytest.approx(acc(z.probs(r, party, "val"), y))
    se = create_problem(
        "stitch-ensemble", z, host="mnist-1", method="feature-match", cache_dir=cache_dir, recipe={"match_epochs": 1}
    )
    F = se.evaluate([[1, 0.5, 1, 1, 1, 1]], "val")
    assert F.shape == (1, 4) and (F > 0.3).all()


@pytest.mark.parametrize(
    "row,needle",
    [
        ([0.5], "has 1 values"),
        ([0.5, float("nan")], "'w.local:mnist'.*not finite"),
        ([1.5, 0.5], "'w.local:uci-digits'.*outside its bounds"),
        ([0.5, "x"], "'w.local:mnist'.*not a number"),
    ],
)
def test_bad_decision_vectors_name_the_variable(weights_problem, row, needle):
    with pytest.raises(InputError, match=needle):
        weights_problem.evaluate([row])


def test_unknown_category_and_split_are_rejected(se_problem):
    with pytest.raises(InputError, match="'point'.*unknown choice 'stage9'"):
        se_problem.evaluate([{"point": "stage9", "alpha": 0.1, "w.uci-digits": 1, "w.mnist": 1}])
    with pytest.raises(InputError, match="'point'.*outside its bounds"):
        se_problem.evaluate([[99, 0.1, 1, 1]])
    with pytest.raises(InputError, match="unknown split 'train'"):
        se_problem.evaluate([[0, 0.1, 1, 1]], "train")


def test_pymoo_and_optuna_see_the_same_problem(se_problem):
    p = se_problem
    numeric, mixed = to_pymoo(p), to_pymoo(p, mixed=True)
    assert numeric.n_var == 4 and numeric.n_obj == 2 and list(numeric.xu) == [6, 1, 1, 1]
    assert set(mixed.vars) == {"point", "alpha", "w.uci-digits", "w.mnist"}
    space = optuna_space(p)
    assert isinstance(space["point"], optuna.distributions.CategoricalDistribution)
    x = {"point": "stage3_0", "alpha": 0.5, "w.uci-digits": 0.4, "w.mnist": 0.6}
    out_mixed, out_num = {}, {}
    mixed._evaluate([x], out_mixed)
    numeric._evaluate(np.array([[3.2, 0.5, 0.4, 0.6]]), out_num)  # 3.2 rounds to point 3
    assert np.array_equal(out_mixed["F"], out_num["F"])
    assert np.allclose(-out_num["F"][0], p.evaluate([x])[0])


def test_ensemble_weights_over_two_architectures_has_kinds_times_archs_members(zoo, hetero_zoo, digits):
    """The size knob: members are each kind of each architecture, named kind@arch; a weighting scores as the
    ensemble of those very models."""
    from stitchbench.zoo import Zoo

    both = Zoo(digits, zoo.records + hetero_zoo.records)
    p = create_problem("ensemble-weights", both, archs=["cnn", "resnet"], switches=True)
    names = ["local:uci-digits@cnn", "local:mnist@cnn", "local:uci-digits@resnet", "local:mnist@resnet"]
    assert p.member_kinds() == names and set(p.artifacts()) == set(names)
    assert [v.name for v in p.variables] == [f"w.{n}" for n in names] + [f"use.{n}" for n in names]
    got = p.evaluate([[0, 1, 1, 0, 1, 1, 1, 1]], "test")[0]  # local:mnist@cnn and local:uci-digits@resnet
    pair = [zoo.get("local:mnist"), hetero_zoo.get("local:uci-digits")]
    for j, party in enumerate(digits.party_names):
        probs = (both.probs(pair[0], party, "test") + both.probs(pair[1], party, "test")) / 2
        assert got[j] == pytest.approx(acc(probs, digits.party(party).split("test").y), abs=1e-9)


@pytest.mark.parametrize(
    "params, needle",
    [
        ({"archs": ["cnn", "cnn"]}, "distinct architectures"),
        ({"archs": ["cnn", "vit"]}, "'vit'"),
        ({"arch": "cnn", "archs": ["cnn", "resnet"]}, "not both"),
    ],
)
def test_bad_ensemble_archs_are_refused_naming_them(digits, params, needle):
    from stitchbench.problems._checks import check_ensemble_params

    with pytest.raises(InputError, match=needle):
        check_ensemble_params(digits, ["cnn", "resnet"], {"members": ["local"], **params})


def test_a_stitch_partner_that_is_the_host_is_refused(digits):
    from stitchbench.problems._checks import check_stitch_params

    with pytest.raises(InputError, match="partner 'mnist' is the host; give another party: uci-digits, mnist"):
        check_stitch_params(digits, ["cnn"], {"host": "mnist", "partner": "mnist"}, 2)
