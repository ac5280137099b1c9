import copy

import pytest
import torch
from torch import nn

from stitchbench.data import Party
from stitchbench.stitching import (
    ActivationCache,
    CostModel,
    GraphDecision,
    StitchEnsemble,
    StitchGraph,
    TracedNet,
    branch_logits,
    find_points,
    graph_logits,
    make_stitch,
    stitch_setup,
    weighted_probs,
)
from stitchbench.zoo import create


def acc(probs, y):
    return float((probs.argmax(1) == y).double().mean())


class TinySkipNet(nn.Module):
    """A network whose early points are not cuts: a skip connection crosses them."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(1, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 6, 3, padding=1)
        self.b2 = nn.Conv2d(6, 4, 1)
        self.c = nn.Conv2d(4, 8, 3, padding=1, stride=2)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        h = torch.relu(self.a(x))
        g = self.b2(torch.relu(self.b(h)))
        return self.head(torch.relu(self.c(g + h)).mean((2, 3)))


def test_points_are_found_on_the_graph_and_matched_in_depth_order(digits):
    x = digits.example()
    cnn = TracedNet(create("cnn", 1, 10), x)
    assert [p.shape for p in cnn.points] == [
        (16, 28, 28), (16, 14, 14), (32, 14, 14), (32, 7, 7), (64, 7, 7), (64, 3, 3), (576,)
    ]  # fmt: skip
    same = find_points([cnn, TracedNet(create("cnn", 1, 10), x)])
    assert [p.nodes[0] for p in same] == [p.nodes[1] for p in same] == [p.node for p in cnn.points]
    res = TracedNet(create("resnet", 1, 10), x)
    hetero = find_points([cnn, res])
    depth_a = [cnn.index[p.nodes[0]] for p in hetero]
    depth_b = [res.index[p.nodes[1]] for p in hetero]
    assert depth_a == sorted(depth_a) and depth_b == sorted(depth_b)  # no crossing matches
    assert len(hetero) == len(res.points)
    assert any(p.shapes[0][0] != p.shapes[1][0] for p in hetero)  # different channel counts
    assert any(p.shapes[0][1:] != p.shapes[1][1:] for p in hetero)  # and spatial sizes
    assert all(len(p.shapes[0]) == len(p.shapes[1]) for p in hetero)


@pytest.mark.parametrize(
    "make",
    [
        lambda: create("cnn", 1, 10),
        lambda: create("resnet", 1, 10),
        TinySkipNet,
        lambda: create("unet", 1, 3),
        lambda: create("resunet", 1, 3),
    ],
)
def test_prefix_then_suffix_is_exactly_the_network(make, digits):
    torch.manual_seed(0)
    model = make().eval()
    x = digits.party("mnist").split("val").x[:16]
    net = TracedNet(model, x)
    with torch.no_grad():
        full = model(x)
        for p in net.points:
            assert torch.equal(net.suffix(p.node)(*net.prefix(p.node)(x)), full)


def test_live_values_include_skip_connections(digits):
    net = TracedNet(TinySkipNet(), digits.example())
    crossed = {p.node: net.live(p.node) for p in net.points if len(net.live(p.node)) > 1}
    assert crossed, "a point inside the skip connection must carry the skip value along"
    for node, live in crossed.items():
        assert live[0] == node and "relu" in live[1]  # the skip source h = relu(a(x)) rides along


def test_stitch_layers_map_shapes():
    x = torch.randn(2, 16, 14, 14)
    assert make_stitch((16, 14, 14), (12, 14, 14))(x).shape == (2, 12, 14, 14)
    assert make_stitch((16, 14, 14), (8, 7, 7))(x).shape == (2, 8, 7, 7)
    assert make_stitch((16, 14, 14), (8, 28, 28))(x).shape == (2, 8, 28, 28)
    assert make_stitch((576,), (48,))(torch.randn(2, 576)).shape == (2, 48)
    with pytest.raises(ValueError, match="cannot stitch"):
        make_stitch((576,), (8, 3, 3))


def test_graph_with_no_switch_reproduces_parents_exactly(setup_db, digits):
    m = setup_db.members
    x = digits.party("mnist").split("test").x[:200]
    n = len(m.points)
    off = (False,) * n
    with torch.no_grad():
        a, b = m.models[0](x), m.models[1](x)
        assert torch.equal(StitchGraph(m, setup_db.stitches, GraphDecision(off, off, "A"))(x), a.softmax(1))
        assert torch.equal(StitchGraph(m, setup_db.stitches, GraphDecision(off, off, "B"))(x), b.softmax(1))
        avg = StitchGraph(m, setup_db.stitches, GraphDecision(off, off, "avg"))(x)
        assert torch.equal(avg, 0.5 * (a.softmax(1) + b.softmax(1)))
        # the segment-by-segment route with no active switch is exact too
        lives = [m.lives(k, 0, x) for k in (0, 1)]
        out = graph_logits(m, setup_db.stitches, GraphDecision(off, off, "A"), lives, 0)
        assert torch.equal(out[0], a) and torch.equal(out[1], b)


def test_single_stitch_is_prefix_stitch_suffix(setup_db, digits):
    m, s = setup_db.members, setup_db.stitches
    x = digits.party("uci-digits").split("test").x[:100]
    pi = 2
    ab = tuple(i == pi for i in range(len(m.points)))
    off = (False,) * len(m.points)
    with torch.no_grad():
        got = StitchGraph(m, s, GraphDecision(ab, off, "B"))(x)
        want = m.segment(1, pi, None)(s.get(pi, 0, 1)(m.segment(0, None, pi)(x)[0])).softmax(1)
    assert torch.allclose(got, want, atol=1e-6)


def test_stitch_ensemble_at_alpha_zero_is_the_output_ensemble(setup_db, digits):
    m, s = setup_db.members, setup_db.stitches
    x = digits.party("mnist").split("test").x[:300]
    with torch.no_grad():
        a, b = m.models[0](x).softmax(1), m.models[1](x).softmax(1)
        for pi in range(len(m.points)):
            got = StitchEnsemble(m, s, pi, 0.0, [0.3, 0.7])(x)
            assert torch.allclose(got, 0.3 * a + 0.7 * b, atol=1e-6)


def test_cached_evaluation_equals_the_full_forward(setup_db, digits):
    m, s = setup_db.members, setup_db.stitches
    cache = ActivationCache(m, digits)
    y = digits.party("mnist").split("val").y
    for pi in (0, 3, 6):
        lives = [cache.lives(k, pi, "mnist", "val") for k in (0, 1)]
        with torch.no_grad():
            cached = weighted_probs(branch_logits(m, s, pi, lives, 0.5), [0.4, 0.6])
            full = StitchEnsemble(m, s, pi, 0.5, [0.4, 0.6])(digits.party("mnist").split("val").x)
        assert torch.allclose(cached, full, atol=1e-5)
        assert acc(cached, y) == acc(full, y)
    assert cache.nbytes() > 0


def test_host_stitch_ensemble_recovers_own_score_and_keeps_generalization(setup_db, zoo, digits):
    """The paper's central claim, for the default recipe and seed."""
    m, s = setup_db.members, setup_db.stitches
    host, other = "uci-digits", "mnist"
    local = zoo.get(f"local:{host}")
    own = acc(zoo.probs(local, host, "test"), digits.party(host).split("test").y)
    elsewhere = acc(zoo.probs(local, other, "test"), digits.party(other).split("test").y)
    cache = ActivationCache(m, digits)
    found = []
    for pi in range(len(m.points)):
        for alpha in (0.25, 0.5, 0.75, 1.0):
            branches = {}  # branch logits do not depend on the output weight
            for party in (host, other):
                lives = [cache.lives(k, pi, party, "test") for k in (0, 1)]
                with torch.no_grad():
                    branches[party] = branch_logits(m, s, pi, lives, alpha)
            for w in (0.3, 0.4, 0.5, 0.6, 0.7):
                scores = [
                    acc(weighted_probs(branches[p], [w, 1 - w]), digits.party(p).split("test").y) for p in (host, other)
                ]
                if scores[0] >= own - 0.015 and scores[1] >= elsewhere + 0.20:
                    found.append((m.point_names[pi], alpha, w, scores))
    assert found, f"no stitch-ensemble within 1.5 points of {own:.3f} and 20 points above {elsewhere:.3f}"


def test_stitch_training_reads_only_the_hosts_training_split(zoo, cache_dir, tmp_path, monkeypatch):
    reads = []
    original = Party.split

    def spy(self, name):
        reads.append((self.name, name))
        return original(self, name)

    monkeypatch.setattr(Party, "split", spy)
    setup = stitch_setup(zoo, "mnist", "task", cache_dir=tmp_path, recipe={"match_epochs": 1, "epochs": 1})
    assert set(reads) == {("mnist", "train")}
    assert setup.manifest["host"] == "mnist" and setup.manifest["touched"] == ["mnist"]
    assert setup.manifest["config"]["parents"] == [zoo.get("local:mnist").sha256, zoo.get("local:uci-digits").sha256]


def test_stitch_sets_are_stored_and_reused(setup_db, zoo, cache_dir):
    again = stitch_setup(zoo, "uci-digits", "double-batched", cache_dir=cache_dir)
    assert again.manifest["key"] == setup_db.manifest["key"]
    for k, v in setup_db.stitches.state_dict().items():
        assert torch.equal(v, again.stitches.state_dict()[k])
    assert setup_db.manifest["config"]["method"] == "double-batched"


@pytest.mark.parametrize("sabotage", [False, True])
def test_parents_stay_frozen_during_stitch_training(zoo, tmp_path, monkeypatch, sabotage):
    """Checks the frozen copies stitch training actually runs, before and after training. With `sabotage`
    (copies left trainable and handed to the optimizer) the same check must see them move."""
    from stitchbench.stitching import _networks as networks
    from stitchbench.stitching import _setup as setup
    from stitchbench.stitching import _training as training

    used = {}
    real_train = setup.train_stitches

    def spy(members, *args):
        used["members"] = members
        used["before"] = [{k: v.clone() for k, v in m.state_dict().items()} for m in members.models]
        return real_train(members, *args)

    monkeypatch.setattr(setup, "train_stitches", spy)
    if sabotage:
        real_optimizer = training.optimizer
        parents = lambda: [q for m in used["members"].models for q in m.parameters()]  # noqa: E731
        monkeypatch.setattr(networks, "frozen_copy", lambda m: copy.deepcopy(m).requires_grad_(True))
        monkeypatch.setattr(training, "optimizer", lambda params, recipe: real_optimizer(params + parents(), recipe))
    rng = torch.get_rng_state()
    result = stitch_setup(
        zoo, "uci-digits", "double-batched", cache_dir=tmp_path, recipe={"match_epochs": 1, "epochs": 1}
    )
    assert torch.equal(torch.get_rng_state(), rng)  # stitch training seeds a fork, not the global RNG
    assert result.members is used["members"]
    moved = [
        (m, k)
        for m, (model, before) in enumerate(zip(result.members.models, used["before"], strict=True))
        for k, v in model.state_dict().items()
        if not torch.equal(v, before[k])
    ]
    assert bool(moved) == sabotage, moved
    if not sabotage:  # and the copies are the zoo's parents, value for value
        for model, r in zip(result.members.models, result.records, strict=True):
            assert all(torch.equal(v, r.module.state_dict()[k]) for k, v in model.state_dict().items())


def test_heterogeneous_stitching_trains_and_evaluates(zoo, hetero_zoo, digits, cache_dir):
    from stitchbench.zoo import Zoo

    both = Zoo(digits, zoo.records + hetero_zoo.records)
    setup = stitch_setup(both, "uci-digits", "double-batched", archs=["cnn", "resnet"], cache_dir=cache_dir)
    assert [r.arch for r in setup.records] == ["cnn", "resnet"]
    x, y = digits.party("uci-digits").split("test").x, digits.party("uci-digits").split("test").y
    with torch.no_grad():
        for pi in range(len(setup.members.points)):
            probs = StitchEnsemble(setup.members, setup.stitches, pi, 0.5, [0.5, 0.5])(x)
            assert acc(probs, y) > 0.85, setup.members.point_names[pi]


def test_three_member_stitch_ensemble_mixes_all_others(digits, cache_dir):
    from stitchbench.data import get_scenario
    from stitchbench.zoo import build_zoo

    s4 = get_scenario("digits-shift-4")
    z = build_zoo(s4, kinds=["local"], cache_dir=cache_dir, recipe={"epochs": 2})
    setup = stitch_setup(z, "uci-digits-1", "feature-match", cache_dir=cache_dir, recipe={"match_epochs": 1})
    assert len(setup.members) == 4
    assert len(setup.stitches.at(0)) == 4 * 3
    x = s4.party("uci-digits-1").split("val").x[:50]
    with torch.no_grad():
        probs = StitchEnsemble(setup.members, setup.stitches, 1, 0.5, [0.25] * 4)(x)
    assert probs.shape == (50, 10) and torch.allclose(probs.sum(1), torch.ones(50), atol=1e-5)


def test_flops_match_the_analytic_count(setup_db, digits):
    cost = CostModel(setup_db.members, setup_db.stitches, digits.example())
    convs = 2 * 9 * (1 * 16 * 28 * 28 + 16 * 32 * 14 * 14 + 32 * 64 * 7 * 7)
    assert cost.full(0) == convs + 2 * 576 * 10
    stitch0 = 2 * 16 * 16 * 28 * 28
    assert cost.ensemble(0, 0.5, [0.5, 0.5]) == 2 * cost.full(0) + 2 * stitch0
    assert cost.ensemble(0, 0.0, [1.0, 0.0]) == cost.full(0)
    assert sum(cost.nodes(0).values()) == cost.full(0)  # node by node, the same total
