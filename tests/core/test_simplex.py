"""The weightings every ensemble scores: `_scoring`'s normalize, switches and checks run as `_simplex`'s loops
(numba), and give numpy's bits: each row divided by numpy's sum of it and rounded as np.round rounds, on
rows of every kind (zeros, subnormal and huge weights, NaN, switched off, non-contiguous)."""

import numpy as np
import pytest

from stitchbench.moo import _simplex
from stitchbench.moo._scoring import check_weights, member_weights, normalize


def numpy_normalize(W):
    """The arithmetic normalize promises, in numpy."""
    W = np.atleast_2d(np.asarray(W, dtype=float))
    total = W.sum(1, keepdims=True)
    out = W / np.where(total > 0, total, 1)
    out[~(total[:, 0] > 0)] = 1 / W.shape[1]
    return np.round(out, 12)


def numpy_switched(columns):
    m = columns.shape[1] // 2
    on = columns[:, m:] > 0
    weights = columns[:, :m] * on
    even = (weights == 0).all(1) & on.any(1)
    weights[even] = on[even]
    return weights


def rows(rng, B, M):
    W = rng.uniform(0, 1, (B, M))
    W[rng.random(W.shape) < 0.4] = 0
    W[::7], W[1::11], W[2::13] = 0, W[1::11] * 1e-300, W[2::13] * 1e300
    W[3::17] = -0.0
    return W


def assert_same_bits(a, b):
    """Equal to the last bit, the sign of a zero included."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    assert a.shape == b.shape and np.array_equal(a.view(np.int64), b.view(np.int64))


@pytest.mark.parametrize("M", [1, 2, 3, 7, 8, 9, 14, 17, 33])
def test_rows_go_onto_the_simplex_with_numpy_s_bits(M):
    rng = np.random.default_rng(M)
    for B in (0, 1, 1000):
        W = rows(rng, B, M)
        assert_same_bits(normalize(W), numpy_normalize(W))
        assert_same_bits(normalize(normalize(W)), numpy_normalize(numpy_normalize(W)))
        switches = (rng.random((B, M)) < 0.5).astype(float)
        switches[::5] = 0
        columns = np.concatenate([np.where(np.arange(B)[:, None] % 3 == 0, -0.0, W), switches], 1)
        assert_same_bits(member_weights(columns, True), numpy_normalize(numpy_switched(columns)))
    W = rows(rng, 50, 2 * M)
    assert_same_bits(normalize(W[:, ::2]), numpy_normalize(W[:, ::2]))  # not contiguous
    assert_same_bits(normalize(W[0]), numpy_normalize(W[0]))  # one row
    assert_same_bits(normalize([[np.nan] * M]), numpy_normalize([[np.nan] * M]))


def test_the_check_fails_on_loops_of_other_arithmetic(monkeypatch):
    """The comparison above fails where the loop leaves the rounding out, or only that of the all-zero rows'
    uniform weights."""
    W = rows(np.random.default_rng(0), 1000, 9)
    for uniform, rounded in ((1 / 9, lambda x: x), (1 / 9, lambda x: np.round(x, 12))):

        def shares(W, total, out, uniform=uniform, rounded=rounded):
            divided = total > 0
            out[divided], out[~divided] = rounded(W[divided] / total[divided, None]), uniform

        monkeypatch.setattr(_simplex, "shares", shares)
        assert not np.array_equal(normalize(W), numpy_normalize(W))
    monkeypatch.undo()
    assert_same_bits(normalize(W), numpy_normalize(W))


def test_the_scan_returns_the_weights_themselves_and_takes_a_negative_zero_for_0():
    W = np.array([[0.5, 0.0], [0.0, 5e-324]])
    assert check_weights(W) is W
    np.testing.assert_array_equal(check_weights(np.array([[-0.0, 0.0], [1.0, 0.0]])), [[1, 1], [1, 0]])
    empty = np.ones(2, bool)
    assert _simplex.scanned(np.zeros((2, 0)), empty) and empty.all()  # no members: every row all 0


def test_switches_need_one_column_per_weight():
    with pytest.raises(ValueError, match="3 member columns"):
        member_weights(np.ones((2, 3)), switches=True)
