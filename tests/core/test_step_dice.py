"""`StepDice` scores two-member weighted ensembles by Dice as an exact step function of the weight: the
float64 mixture's Dice inside every interval and at both members, the same at breakpoints as a brute sweep
of the pixels' class intervals, and a bank of them bit for bit as each one alone."""

import numpy as np
import pytest

from stitchbench.moo._scoring import StepBank, StepDice, dice, dice_samples, interval_weights


def segmentation(seed: int, n=3, classes=3, size=6, ties=False):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(2, n, classes, size, size)) * rng.uniform(0.3, 3)
    if ties:
        logits = np.round(logits, 1)
        logits[1, :, :, :2] = logits[0, :, :, :2]  # identical members on some pixels: flat lines
    probs = (np.exp(logits) / np.exp(logits).sum(2, keepdims=True)).astype(np.float32)
    return probs, rng.integers(0, classes, (n, size, size))


def mixture(probs, w):
    pa, pb = probs.astype(np.float64)
    return w * pa + (1 - w) * pb


@pytest.mark.parametrize("seed,ties", [(0, False), (1, False), (2, True), (3, True)])
def test_step_dice_is_the_mixtures_dice_inside_every_interval_and_at_the_members(seed, ties):
    probs, y = segmentation(seed, ties=ties)
    step = StepDice(probs, y)
    assert len(step.breakpoints()) > 5
    _, mids = interval_weights(step.breakpoints())
    w = np.concatenate([mids, [0.0, 1.0]])
    W = np.stack([w, 1 - w], 1)
    direct = np.array([dice(mixture(probs, x), y) for x in w])
    np.testing.assert_allclose(step(W), direct, rtol=0, atol=1e-12)
    per_image = np.array([dice_samples(mixture(probs, x), y) for x in w])
    np.testing.assert_allclose(step.samples(W), per_image, rtol=0, atol=1e-12)
    np.testing.assert_allclose(step.samples(W).mean(1), step(W), rtol=0, atol=1e-12)


def test_step_dice_changes_only_at_its_breakpoints_and_a_shifted_one_would_be_caught():
    """Between consecutive breakpoints the mixture's Dice is constant; moving the breakpoints (a wrong
    sweep) puts a query on the wrong side of one, which the direct mixture tells apart."""
    probs, y = segmentation(5, n=2, size=8)
    step = StepDice(probs, y)
    edges, _ = interval_weights(step.breakpoints())
    lo, hi = edges[:-1], edges[1:]
    inner = np.stack([lo + (hi - lo) * 0.01, lo + (hi - lo) * 0.99], 1)
    for a, b in inner:
        assert dice(mixture(probs, a), y) == pytest.approx(dice(mixture(probs, b), y), abs=1e-12)
    changed = [
        x
        for x in step.breakpoints()
        if abs(dice(mixture(probs, x - 1e-7), y) - dice(mixture(probs, x + 1e-7), y)) > 1e-12
    ]
    assert changed  # the score does change at some breakpoints: a step scorer without them would be wrong


def test_a_bank_of_dice_scorers_scores_as_each_alone():
    s = [StepDice(*segmentation(k)) for k in range(6)]
    bank = StepBank(s)
    rng = np.random.default_rng(1)
    keys = rng.integers(0, len(s), 500)
    w = np.concatenate([rng.uniform(size=500 - 4), [0.0, 1.0, 0.5, 0.25]])
    ends = [(k, e) for k, x in enumerate(s) for e in x.breakpoints()]
    keys = np.concatenate([keys, [k for k, _ in ends]])
    w = np.concatenate([w, [e for _, e in ends]])
    W = np.stack([w, 1 - w], 1)
    alone = np.array([s[k](W[i : i + 1])[0] for i, k in enumerate(keys)])
    assert np.array_equal(bank(keys, W), alone)


@pytest.mark.parametrize("case", ["identical members", "both all foreground", "identical, all background"])
def test_step_dice_without_any_breakpoint_scores_as_the_mixture(case):
    """Members that never change a prediction on [0, 1] leave no interval end: the score is constant."""
    p = np.zeros((2, 1, 2, 1, 2), np.float32)
    p[:, 0, :, 0, 0], p[:, 0, :, 0, 1], y = [0.9, 0.1], [0.2, 0.8], np.array([[[0, 1]]])
    if case == "both all foreground":
        p = np.zeros((2, 1, 2, 1, 1), np.float32)
        p[0, 0, :, 0, 0], p[1, 0, :, 0, 0], y = [0.3, 0.7], [0.1, 0.9], np.array([[[1]]])
    elif case == "identical, all background":
        p[:, :, 0], p[:, :, 1], y = 0.9, 0.1, np.array([[[1, 0]]])
    step = StepDice(p, y)
    w = np.array([0.0, 0.3, 0.5, 1.0])
    W = np.stack([w, 1 - w], 1)
    direct = [dice(mixture(p, x), y) for x in w]
    np.testing.assert_array_equal(step(W), direct)
    np.testing.assert_array_equal(step.samples(W)[:, 0], direct)
    assert StepBank([step, step]).at(np.array([0, 1]), np.array([0.2, 1.0])).tolist() == direct[:1] * 2


def test_more_than_two_members_score_the_float32_mixtures_dice():
    """Three members' Dice (no step function: the mixture itself, weightings in chunks) is the Dice of the
    float32 mixture; the members' axis is the first, not the classes' (a scorer that took the classes' for it
    refuses these weightings, or scores others)."""
    from stitchbench.moo._scoring import WeightedScores

    (pa, pb), y = segmentation(4, classes=4)
    probs = np.stack([pa, pb, (pa + pb) / 2])  # 3 members, 4 classes
    W = np.random.default_rng(4).random((5, 3))
    scores = WeightedScores(probs, y, "dice")(W)
    mixtures = (W.astype(np.float32) @ probs.reshape(3, -1)).reshape(len(W), *probs.shape[1:])  # one sgemm, as
    expected = [dice(m, y) for m in mixtures]  # the scorer takes it: the same bits on any CPU
    assert scores == pytest.approx(expected, abs=1e-12)
    assert len(set(scores)) > 1
