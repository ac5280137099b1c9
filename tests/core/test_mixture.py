"""The fused accuracy of weighted output ensembles (`moo._mixture`) is the argmax of the float32 mixture that
sgemm computes (what `WeightedScores` scored before it, and what the shipped tables were built with): bit for
bit where this CPU is the one the collection records, ties to the lowest class, on both of its loops."""

import json

import numpy as np
import pytest

from stitchbench._hashing import cpu_identity
from stitchbench.moo._mixture import BLOCK, WIDE, accuracy_hits
from stitchbench.moo._scoring import sample_scores
from stitchbench.tabular import load
from stitchbench.tabular._catalog import COLLECTION, read_catalog

SHIPPED = sorted(n for n, e in read_catalog().items() if e["family"] == "ensemble-weights")  # 3 to 14 members


def blas_hits(W: np.ndarray, P: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The mixture as one matrix product (sgemm), then numpy's first argmax: the unfused reference."""
    W32 = np.asarray(W, dtype=np.float32)
    return sample_scores("accuracy", (W32 @ P.reshape(len(P), -1)).reshape(len(W), *P.shape[1:]), y)


def weightings(n: int, m: int, rng) -> np.ndarray:
    """n weightings of m members on the simplex, about a third of the weights 0 (as switches leave them)."""
    W = rng.random((n, m))
    W[rng.random((n, m)) < 0.3] = 0
    W = np.where(W.sum(1, keepdims=True) > 0, W, 1)
    return np.round(W / W.sum(1, keepdims=True), 12)


@pytest.mark.parametrize("name", SHIPPED)
def test_fused_accuracy_is_the_sgemm_mixtures_argmax(name):
    table = load(name).table
    same_cpu = json.loads((COLLECTION / name / "manifest.json").read_text())["written_by"]["cpu"] == cpu_identity()
    rng = np.random.default_rng(0)
    for (party, split), P in table.probs.items():
        y = table.labels[party, split]
        for n in (1, WIDE - 1, WIDE, BLOCK + 3):  # the narrow loop, the wide one, across a block's end
            W = weightings(n, len(P), rng)
            fused, reference = accuracy_hits(W, P, y), blas_hits(W, P, y)
            assert fused.shape == reference.shape == (n, len(y))
            if same_cpu:
                assert np.array_equal(fused, reference), (party, split, n)
            else:  # another CPU's sgemm may round a near tie otherwise
                assert np.abs(fused.mean(1) - reference.mean(1)).max() <= 2 / len(y), (party, split, n)


@pytest.mark.parametrize("n", [1, WIDE + 1])
def test_a_tie_goes_to_the_lowest_class_and_a_wrong_label_scores_0(n):
    """Classes 1 and 3 tie in every member (so in every mixture): label 1 is hit, label 3 is not; a label the
    mixture does not pick scores 0."""
    P = np.zeros((2, 3, 4), np.float32)
    P[:, :, 1] = P[:, :, 3] = 0.4
    P[:, :, 0] = 0.2
    y = np.array([1, 3, 0])
    W = weightings(n, 2, np.random.default_rng(1))
    hits = accuracy_hits(W, P, y)
    assert (hits[:, 0] == 1).all() and (hits[:, 1] == 0).all() and (hits[:, 2] == 0).all()
    assert np.array_equal(hits, blas_hits(W, P, y))


def test_labels_and_weightings_that_do_not_fit_are_refused():
    """numba checks no bounds: a scorer refuses labels of another length, the kernel any shape that does not fit."""
    from stitchbench.errors import InputError
    from stitchbench.moo._scoring import weighted_scores

    P, y = np.full((2, 5, 3), 1 / 3, np.float32), np.zeros(5, int)
    with pytest.raises(InputError, match=r"4 labels for 5 samples of probabilities \(shape \(2, 5, 3\)\)"):
        weighted_scores(P, y[:4], "accuracy")
    for W, labels in [(np.ones((1, 3)), y), (np.ones((1, 2)), y[:4])]:
        with pytest.raises(ValueError, match="do not fit"):
            accuracy_hits(W, P, labels)


def test_the_fused_accuracy_tells_weightings_apart():
    """A member's weight moves the score: the fused hits of the members alone differ (the check can fail)."""
    table = load("digits-shift.weights-3-switches").table
    P, y = table.probs["mnist", "val"], table.labels["mnist", "val"]
    alone = accuracy_hits(np.eye(len(P)), P, y)
    assert len({tuple(row) for row in alone}) == len(P)
    assert np.array_equal(alone, blas_hits(np.eye(len(P)), P, y))
