"""`StepBank` scores many two-member step scorers in one pass, bit for bit as each scorer alone."""

import numpy as np

from stitchbench.moo._scoring import StepAccuracy, StepBank


def scorers(k: int = 40, n: int = 300, classes: int = 6, seed: int = 0) -> list[StepAccuracy]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        probs = rng.dirichlet(np.full(classes, 0.3), size=(2, n)).astype(np.float32)
        out.append(StepAccuracy(probs, rng.integers(0, classes, n)))
    return out


def one_by_one(bank_scorers, keys, W):
    return np.array([bank_scorers[k](W[i : i + 1])[0] for i, k in enumerate(keys)])


def test_the_bank_scores_as_its_scorers_at_random_weights_breakpoints_and_ends():
    s = scorers()
    bank = StepBank(s)
    rng = np.random.default_rng(1)
    keys = rng.integers(0, len(s), 2000)
    W = rng.uniform(size=(2000, 2))
    W[:4] = [[1, 0], [0, 1], [0, 0], [0.5, 0.5]]
    assert np.array_equal(bank(keys, W), one_by_one(s, keys, W))
    # at every breakpoint (where a sample's interval opens or closes) and just beside it
    keys = np.concatenate([np.full(len(x.breakpoints()), k) for k, x in enumerate(s)])
    w = np.concatenate([x.breakpoints() for x in s])
    for shifted in (w, np.nextafter(w, 0), np.nextafter(w, 1)):
        W = np.stack([shifted, 1 - shifted], 1)
        assert np.array_equal(bank(keys, W), one_by_one(s, keys, W))
        other = (keys + 1) % len(s)  # a weight that is an end of another scorer only
        assert np.array_equal(bank(other, W), one_by_one(s, other, W))


def test_a_bank_with_its_scorers_out_of_order_scores_differently():
    """The check above can fail: the same scorers in another order give other scores for the same keys."""
    s = scorers()
    keys = np.arange(len(s))
    W = np.full((len(s), 2), 0.5)
    assert not np.array_equal(StepBank(s[::-1])(keys, W), one_by_one(s, keys, W))


def test_a_bank_of_scorers_without_interval_ends_scores_them():
    """A sample that is never right leaves its scorer no interval ends."""
    never = StepAccuracy(np.array([[[0.9, 0.1]], [[0.9, 0.1]]], dtype=np.float32), np.array([1]))
    W = np.array([[1.0, 1.0], [0.0, 1.0]])
    assert StepBank([never])([0, 0], W).tolist() == never(W).tolist() == [0.0, 0.0]
    s = scorers(3)
    bank = StepBank([s[0], never, s[1]])
    assert np.array_equal(bank([0, 1, 2], W[[0, 0, 1]]), [s[0](W[:1])[0], 0.0, s[1](W[1:])[0]])
