"""The fused, pruned accuracy of weighted output ensembles (`moo._mixture`) is the argmax of the float32
mixture that sgemm computes (what `WeightedScores` scored before it, and what the shipped tables were built
with): bit for bit where this CPU is the one the collection records, ties to the lowest class; its pruning
decides near ties as the chains do (and would not without its tolerance); threads, keyed batches and parties
pooled into one pass change no bit."""

import json
import warnings
from itertools import pairwise, product

import numpy as np
import pytest

from stitchbench._hashing import cpu_identity
from stitchbench.errors import InputError
from stitchbench.moo import _mixture
from stitchbench.moo._mixture import SPLIT, AccuracyHits
from stitchbench.moo._scoring import PooledAccuracy, check_weights, is_step, sample_scores, weighted_scores
from stitchbench.tabular import load
from stitchbench.tabular._catalog import COLLECTION, read_catalog

SHIPPED = sorted(n for n, e in read_catalog().items() if e["family"] == "ensemble-weights")  # 3 to 14 members


def accuracy_hits(W: np.ndarray, P: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The kernel's hits as (B, N)."""
    return AccuracyHits(P, y)(np.asarray(W, dtype=np.float32)).T


def blas_hits(W: np.ndarray, P: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The mixture as one matrix product (sgemm), then numpy's first argmax: the unfused reference."""
    W32 = np.asarray(W, dtype=np.float32)
    return sample_scores("accuracy", (W32 @ P.reshape(len(P), -1)).reshape(len(W), *P.shape[1:]), y)


def weightings(n: int, m: int, rng, off: float = 0.3) -> np.ndarray:
    """n weightings of m members on the simplex, about a share `off` of the weights 0 (as switches leave
    them)."""
    W = rng.random((n, m))
    W[rng.random((n, m)) < off] = 0
    W = np.where(W.sum(1, keepdims=True) > 0, W, 1)
    return np.round(W / W.sum(1, keepdims=True), 12)


@pytest.mark.parametrize("name", SHIPPED)
def test_fused_accuracy_is_the_sgemm_mixtures_argmax(name):
    table = load(name).table
    same_cpu = json.loads((COLLECTION / name / "manifest.json").read_text())["written_by"]["cpu"] == cpu_identity()
    rng = np.random.default_rng(0)
    for (party, split), P in table.probs.items():
        y = table.labels[party, split]
        for n in (1, 15, 2 * SPLIT + 3):  # one weighting, a few, a batch split between threads
            W = weightings(n, len(P), rng)
            fused, reference = accuracy_hits(W, P, y), blas_hits(W, P, y)
            assert fused.shape == reference.shape == (n, len(y))
            if same_cpu:
                assert np.array_equal(fused, reference), (party, split, n)
            else:  # another CPU's sgemm may round a near tie otherwise
                assert np.abs(fused.mean(1) - reference.mean(1)).max() <= 2 / len(y), (party, split, n)


@pytest.mark.parametrize("name", SHIPPED)
def test_fused_accuracy_is_the_chains_on_any_cpu(name, monkeypatch):
    """The pruned and gathered verdicts are the chains' (the reference the tolerance bounds), bit for bit on
    every CPU, in a batch large enough that hard samples leave many weightings open to be gathered (on the
    path its members choose, and forced many at once), a few weightings at a time, and in a batch of switched
    weightings (half the weights 0: scored a weighting at a time, over the members each uses)."""
    table = load(name).table
    rng = np.random.default_rng(1)
    for (party, split), P in table.probs.items():
        y, W = table.labels[party, split], weightings(2 * SPLIT + 3, len(P), rng).astype(np.float32)
        switched = weightings(2 * SPLIT + 3, len(P), rng, off=0.5).astype(np.float32)
        assert np.count_nonzero(switched) <= max(_mixture.FEW, _mixture.SPARSE * len(P)) * len(switched)
        fused, narrow, sparse = AccuracyHits(P, y)(W), few_at_a_time(P, y, W[:100]), AccuracyHits(P, y)(switched)
        with monkeypatch.context() as m:
            many_at_once(m)
            wide = AccuracyHits(P, y)(W)
        with monkeypatch.context() as m:
            m.setattr(_mixture, "RANGE", (np.inf, np.inf))  # every weighting takes the chains
            chains, switched_chains = AccuracyHits(P, y)(W), AccuracyHits(P, y)(switched)
        assert np.array_equal(fused, chains), (party, split)
        assert np.array_equal(wide, chains), (party, split)
        assert np.array_equal(narrow, chains[:, :100]), (party, split)
        assert np.array_equal(sparse, switched_chains), (party, split)


@pytest.mark.parametrize("n", [1, 17])
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
    with pytest.raises(ValueError, match="keys must be 2 indices of the 1 ensembles"):
        AccuracyHits(P, y)(np.ones((2, 2), np.float32), np.array([0, 1]))
    with pytest.raises(ValueError, match="do not fit"):  # no ensemble at all
        AccuracyHits(np.zeros((0, 2, 5, 3), np.float32), y)
    with pytest.raises(ValueError, match="weights must be >= 0"):  # every pruning step needs it
        AccuracyHits(P, y)(np.array([[-1.0, 1.0]], np.float32))


def test_the_fused_accuracy_tells_weightings_apart():
    """A member's weight moves the score: the fused hits of the members alone differ (the check can fail)."""
    table = load("digits-shift.weights-3-switches").table
    P, y = table.probs["mnist", "val"], table.labels["mnist", "val"]
    alone = accuracy_hits(np.eye(len(P)), P, y)
    assert len({tuple(row) for row in alone}) == len(P)
    assert np.array_equal(alone, blas_hits(np.eye(len(P)), P, y))


def near_ties(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probabilities whose label (class 1) and class 0 differ by at most two ulps in each member, and
    weightings on the simplex: every margin is within the chains' rounding."""
    rng = np.random.default_rng(seed)
    M, N = 5, 403  # not whole words of 8 (the samples left open found a word at a time, then the rest)
    base = rng.uniform(0.2, 0.45, (M, N)).astype(np.float32)
    P = np.full((M, N, 3), 0.01, np.float32)
    P[:, :, 0] = base
    P[:, :, 1] = base + (rng.integers(-2, 3, (M, N)) * np.spacing(base)).astype(np.float32)
    W = rng.random((200, M))
    return P, np.ones(N, int), (W / W.sum(1, keepdims=True)).astype(np.float32)


def few_at_a_time(P: np.ndarray, y: np.ndarray, W: np.ndarray, n: int = 10) -> np.ndarray:
    """The hits of W scored n weightings at a time: the kernel's narrow path (vectorized over the samples)."""
    assert n < _mixture.NARROW
    return np.concatenate([AccuracyHits(P, y)(W[i : i + n]) for i in range(0, len(W), n)], 1)


def many_at_once(monkeypatch) -> None:
    """Every key's 32 weightings or more scored many at once (`_wide`), however few members they use."""
    monkeypatch.setattr(_mixture, "FEW", 0)
    monkeypatch.setattr(_mixture, "SPARSE", 0)


def test_pruned_verdicts_are_the_chains_even_at_near_ties_and_would_not_be_without_the_tolerance(monkeypatch):
    """In a batch (vectorized over the weightings) and a few weightings at a time (over the samples)."""
    P, y, W = near_ties()
    pruned, narrow = AccuracyHits(P, y)(W), few_at_a_time(P, y, W)
    monkeypatch.setattr(_mixture, "RANGE", (np.inf, np.inf))  # every weighting takes the chains
    chains = AccuracyHits(P, y)(W)
    assert np.array_equal(pruned, chains) and np.array_equal(narrow, chains)
    assert 0 < chains.mean() < 1  # the ties go both ways
    monkeypatch.setattr(_mixture, "RANGE", (2.0**-60, 2.0**100))
    monkeypatch.setattr(_mixture, "SAFETY", 0.0)  # margins trusted as computed
    assert (AccuracyHits(P, y)(W) != chains).sum() > 1000
    assert (few_at_a_time(P, y, W) != chains).sum() > 1000


def second_contenders(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label 0 and three contenders per sample, most dangerous first (lowest mean margin): class 1, behind the
    label by 0.2 in three members and ahead by 0.7 in the last; class 2, within two ulps of it in every
    member (a near tie) in the first half of the samples, ahead by 0.3 in member 0 and behind by 0.1 in the
    others in the second; class 3, behind by 0.15 but in member 1, ahead by 0.2. Where the last member's
    weight is small, the second contender decides."""
    rng = np.random.default_rng(seed)
    M, N = 4, 400
    label = rng.uniform(0.3, 0.4, (M, N)).astype(np.float32)
    P = np.full((M, N, 5), 0.01, np.float32)
    P[:, :, 0] = label
    P[:, :, 1], P[3, :, 1] = label - 0.2, label[3] + 0.7
    tie = np.arange(N) < N // 2
    P[:, tie, 2] = label[:, tie] + (rng.integers(-2, 3, (M, tie.sum())) * np.spacing(label[:, tie]))
    P[:, ~tie, 2], P[0, ~tie, 2] = label[:, ~tie] - 0.1, label[0, ~tie] + 0.3
    P[:, :, 3], P[1, :, 3] = label - 0.15, label[1] + 0.2
    W = rng.random((300, M))
    return P, np.zeros(N, int), (W / W.sum(1, keepdims=True)).astype(np.float32)


def test_a_second_contender_decides_as_the_chains_do(monkeypatch):
    """A few weightings at a time (each vectorized over the samples) and many: where the most dangerous
    contender stays behind the label, the second beats it or ties it, and the verdicts are the chains' (the
    data built so: the second ahead by far on some pairs, within rounding on others)."""
    P, y, W = second_contenders()
    margins = W.astype(np.float64) @ (P[:, :, 0] - P[:, :, 2]).astype(np.float64)  # class 2's, (weightings, N)
    first_behind = W.astype(np.float64) @ (P[:, :, 0] - P[:, :, 1]).astype(np.float64) > 1e-3
    assert (first_behind & (margins < -1e-3)).sum() > 1000  # the second decides a verdict
    assert (first_behind & (np.abs(margins) < 1e-6)).sum() > 1000  # the second ties
    few = few_at_a_time(P, y, W)
    with monkeypatch.context() as m:
        many_at_once(m)  # four members use few: a weighting at a time unless forced
        many = AccuracyHits(P, y)(W)
    monkeypatch.setattr(_mixture, "RANGE", (np.inf, np.inf))  # every weighting takes the chains
    chains = AccuracyHits(P, y)(W)
    assert np.array_equal(few, chains) and np.array_equal(many, chains)
    assert 0 < chains.mean() < 1


def one_near_tie(role: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label 3 and three contenders per sample, one of them (the first, second or among the others: `role`, by
    its mean margin) within two ulps of the label in every member, the other two behind it by far at every
    weighting of the batch (most weight on member 0), though ahead in some member: each contender's own bound
    proves them, the member-wise minimum's does not."""
    rng = np.random.default_rng(seed)
    M, N = 4, 400
    label = rng.uniform(0.4, 0.5, (M, N)).astype(np.float32)
    behind = {  # margins per member, mean margins -0.075 and -0.07 (before a near tie), 0.1125 and 0.115 (after)
        "others": ([0.3, -0.2, -0.2, -0.2], [0.32, -0.2, -0.2, -0.2]),
        "second": ([0.3, -0.2, -0.2, -0.2], [0.3, -0.05, 0.1, 0.1]),
        "first": ([0.3, -0.05, 0.1, 0.1], [0.31, 0.1, -0.05, 0.1]),
    }[role]
    P = np.full((M, N, 4), 0.01, np.float32)
    P[:, :, 3] = label
    P[:, :, 0] = label + (rng.integers(-2, 3, (M, N)) * np.spacing(label))  # the near tie: class 0 wins a tie
    for c, margins in zip((1, 2), behind, strict=True):
        P[:, :, c] = label - np.array(margins, np.float32)[:, None]
    W = 0.7 * np.eye(M)[0] + 0.3 * rng.dirichlet(np.ones(M), 300)
    return P, np.full(N, 3), W.astype(np.float32)


@pytest.mark.parametrize("role", ["first", "second", "others"])
def test_each_contender_s_own_bound_keeps_the_tolerance(role, monkeypatch):
    """Many weightings at once, where the member-wise minimum's bound proves nothing and each contender's own
    proves the two far behind, and a few at a time, where the samples left open are decided by all their
    contenders' margins: the near tie, whichever role it takes, is decided as the chains decide it (without
    the tolerance, not: the data tells the two apart)."""
    P, y, W = one_near_tie(role)
    hits = AccuracyHits(P, y)
    _, _, _, _, _, E, _, _, T, start, D, _ = hits.tables
    row = ["first", "second", "others"].index(role)  # its row of T, and of D past the sample's first
    near = D[start[:-1] + row]
    assert np.abs(near).max() < 1e-6 and np.array_equal(T[row, :, : len(near)], near.T)
    assert (E.astype(np.float64) @ W.mean(0).astype(np.float64) < 1e-6).all()  # the minimum's bound: none
    few = few_at_a_time(P, y, W)
    with monkeypatch.context() as m:
        m.setattr(_mixture, "SAFETY", 0.0)  # margins trusted as computed
        few_trusted = few_at_a_time(P, y, W)
        many_at_once(m)
        trusted = AccuracyHits(P, y)(W)
    with monkeypatch.context() as m:
        many_at_once(m)
        many = AccuracyHits(P, y)(W)
    monkeypatch.setattr(_mixture, "RANGE", (np.inf, np.inf))  # every weighting takes the chains
    chains = AccuracyHits(P, y)(W)
    assert np.array_equal(many, chains) and np.array_equal(few, chains)
    assert 0 < chains.mean() < 1 and (trusted != chains).sum() > 100 and (few_trusted != chains).sum() > 100


def behind_at_the_centre(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label 3 and three contenders per sample, each behind it by 0.2 to 0.4 in three members and ahead by 0.1
    to 0.3 in a fourth of its own (members 1, 2, 3), and weightings across the whole simplex: each contender is
    behind at the centre and ahead near its member's corner, so its own bound proves a ball of its own radius,
    and the member-wise minimum (ahead in three members) proves nothing."""
    rng = np.random.default_rng(seed)
    M, N = 4, 400
    label = rng.uniform(0.45, 0.55, (M, N)).astype(np.float32)
    P = np.full((M, N, 4), 0.01, np.float32)
    P[:, :, 3] = label
    for c in range(3):
        margins = rng.uniform(0.2, 0.4, (M, N))
        margins[c + 1] = -rng.uniform(0.1, 0.3, N)
        P[:, :, c] = label - margins.astype(np.float32)
    return P, np.full(N, 3), rng.dirichlet(np.ones(M), 300).astype(np.float32)


def test_each_contender_s_own_bound_is_its_own_radius(monkeypatch):
    """Many weightings at once: the verdicts are the chains', and they would not be with each contender's spread
    halved (its ball twice as wide as its margins allow), or 0 (its ball everywhere)."""
    P, y, W = behind_at_the_centre()
    many_at_once(monkeypatch)
    hits = AccuracyHits(P, y)
    E = hits.tables[5]
    assert (E.astype(np.float64) @ W.astype(np.float64).mean(0) < 0).all()  # the minimum's bound: none
    many = hits(W)
    with monkeypatch.context() as m:
        m.setattr(_mixture, "RANGE", (np.inf, np.inf))  # every weighting takes the chains
        chains = AccuracyHits(P, y)(W)
    assert np.array_equal(many, chains) and 0.2 < chains.mean() < 0.8
    spread = hits.tables[7]
    for wide in (spread * [1, 0.5, 0.5, 0.5], spread * [1, 0, 0, 0]):
        hits.tables = (*hits.tables[:7], wide, *hits.tables[8:])
        assert (hits(W) != chains).sum() > 100


def test_weightings_whose_products_underflow_take_the_chains(monkeypatch):
    """Weights so small that the products are subnormal void the relative error bound: such weightings are
    scored by the chains (without that guard, the margins would call thousands of verdicts otherwise); an
    all-zero one too, and without the guard it is scored on the margins (many at once: no distance from the
    weightings' centre, which it has not)."""
    P, y, W = near_ties(1)
    P[:, :, 1] = P[:, :, 0] * np.float32(1 + 2**-10)  # the label ahead by far more than float32's rounding
    W = (W.astype(np.float64) * 2.0**-140).astype(np.float32)
    W[7] = 0
    guarded = AccuracyHits(P, y)(W)
    monkeypatch.setattr(_mixture, "RANGE", (np.inf, np.inf))
    chains = AccuracyHits(P, y)(W)
    assert np.array_equal(guarded, chains)
    monkeypatch.setattr(_mixture, "RANGE", (0.0, np.inf))
    assert (AccuracyHits(P, y)(W) != chains).sum() > 1000


def test_probabilities_whose_margins_overflow_float32_take_the_chains(monkeypatch):
    """Margins of |p| near float32's largest value are infinite in float32, and any weight, however small,
    would make them decide: such a table is scored by the chains (the reviewer's counterexample)."""
    P, y, W = np.array([[[3e38, -3e38]], [[0, 1e30]]], np.float32), np.array([0]), np.array([[1e-40, 1e-9]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the table is built without a warning
        guarded = AccuracyHits(P, y)(W)
    monkeypatch.setattr(_mixture, "RANGE", (np.inf, np.inf))
    assert np.array_equal(guarded, AccuracyHits(P, y)(W)) and guarded[0, 0] == 0
    monkeypatch.setattr(_mixture, "RANGE", (2.0**-60, np.inf))  # the scale unchecked
    assert AccuracyHits(P, y)(W)[0, 0] == 1


def test_an_all_zero_weighting_takes_the_chains():
    """Every chain is 0 and class 0 wins: the label (class 1) is never hit."""
    P, y, _ = near_ties(1)
    assert (AccuracyHits(P, y)(np.zeros((3, len(P)), np.float32)) == 0).all()


def test_every_scorer_takes_an_all_zero_row_as_uniform_and_only_that():
    """`check_weights`: an all-zero row is the uniform weighting; a row whose sum overflows float64 (inf, not 0)
    or of one subnormal weight is kept, without a warning; non-finite or negative weights are refused."""
    W = np.array([[0.0, 0.0], [1e308, 1e308], [5e-324, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(check_weights(W), [[1, 1], [1e308, 1e308], [5e-324, 0]])
    for bad in ([[np.inf, 1.0]], [[np.nan, 1.0]], [[-1e-300, 1.0]]):
        with pytest.raises(InputError, match="ensemble weights must be finite and >= 0"):
            check_weights(bad)


def test_a_set_s_hits_are_counted_a_step_at_a_time_wherever_it_starts_and_ends(monkeypatch):
    """On the few-weightings path (32 samples a step, each from a whole cache line, the lanes outside a set
    masked): sets of 0, 1 and 2 samples, shorter than a step, across steps, from any sample, counted as the
    chains' hits summed; and every sample's hit written where they are not counted."""
    P, y, W = near_ties()
    ends = [0, 1, 3, 3, 17, 33, 34, 64, 95, 96, 160, 161, len(y) - 1]
    few, hits = AccuracyHits(P, y).counts(W[:10], ends), few_at_a_time(P, y, W[:10])
    monkeypatch.setattr(_mixture, "RANGE", (np.inf, np.inf))  # every weighting takes the chains
    chains = AccuracyHits(P, y)(W[:10])
    assert np.array_equal(hits, chains) and np.array_equal(few, per_set(chains, ends))
    assert 0 < few[-1].min() < few[-1].max() and (few[0] == 0).all() and few[1].max() == 1


def test_a_key_s_steps_write_none_of_the_samples_before_it(monkeypatch):
    """A step starts on a whole cache line, so the first of the second key's reads the first key's last
    unsettled samples: where the second key settled them (its label ahead by far), their hits stay its own,
    the chains', on the few-weightings path."""
    P, y, W = near_ties()
    ahead = P.copy()
    ahead[:, 203:, 1] += 0.3  # the second key: its last 200 samples settled, right at every weighting
    kernel = AccuracyHits(np.stack([P, ahead]), y)
    assert kernel.tables[3][1] % _mixture.ALIGN  # the second key's unsettled samples start inside a line
    keyed = kernel(W[:10], np.ones(10, int))
    monkeypatch.setattr(_mixture, "RANGE", (np.inf, np.inf))  # every weighting takes the chains
    chains = AccuracyHits(ahead, y)(W[:10])
    assert np.array_equal(keyed, chains) and (chains[203:] == 1).all() and 0 < chains[:203].mean() < 1


@pytest.mark.parametrize("at_once", [False, True])
def test_threads_and_keyed_batches_change_no_bit(monkeypatch, at_once):
    """A batch split between threads, and several ensembles scored in one keyed pass (rows shuffled across
    keys; many rows per key, or a few), give each ensemble's own scores: on either path for a key's many
    (four members use few: a weighting at a time unless forced many at once)."""
    if at_once:
        many_at_once(monkeypatch)
    table = load("digits-shift-4.stitch@uci-digits-1").table
    probs, y = table.probs["mnist-2", "val"], table.labels["mnist-2", "val"]
    probs = probs.reshape(-1, *probs.shape[2:])[:9]  # 9 ensembles of 4 members
    rng = np.random.default_rng(2)
    W, keys = weightings(3 * SPLIT, probs.shape[1], rng), rng.integers(0, len(probs), 3 * SPLIT)
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")
    alone = np.empty(len(W))
    for q in range(len(probs)):
        alone[keys == q] = weighted_scores(probs[q], y, "accuracy")(W[keys == q])
    keyed = PooledAccuracy([probs], [y])
    assert np.array_equal(keyed(W, keys)[:, 0], alone)
    assert np.array_equal(keyed(W[:20], keys[:20])[:, 0], alone[:20])  # a few rows per key: scored one by one
    grouped = np.argsort(keys, kind="stable")  # rows already grouped by key (and single rows) are not reordered
    assert np.array_equal(keyed(W[grouped], keys[grouped])[:, 0], alone[grouped])
    assert [keyed(W[i : i + 1], keys[i : i + 1])[0, 0] for i in range(5)] == list(alone[:5])
    monkeypatch.setenv("NUMBA_NUM_THREADS", "2")
    assert np.array_equal(keyed(W, keys)[:, 0], alone)
    assert len(set(alone)) > 10  # the keys and weightings differ in score


def per_set(hits: np.ndarray, ends: list[int]) -> np.ndarray:
    """Per-sample hits (N, B) summed per set of samples (the sets `counts` takes)."""
    return np.stack([hits[a:b].sum(0) for a, b in pairwise([0, *ends])])


@pytest.mark.parametrize("at_once", [False, True])
def test_hits_counted_per_set_by_the_threads_are_the_hits_summed(monkeypatch, at_once):
    """`counts` (what every accuracy is computed from) counts each set's hits as the threads score them,
    without writing them: the per-sample hits summed per set, with keys shuffled, empty sets and a batch
    split between threads; many weightings per key (over the samples, or forced vectorized over the
    weightings), a few (over the samples) and weightings that take the chains; sets that do not fit the
    samples are refused."""
    if at_once:
        many_at_once(monkeypatch)
    table = load("digits-shift-4.stitch@uci-digits-1").table
    probs, y = table.probs["mnist-2", "val"], table.labels["mnist-2", "val"]
    kernel = AccuracyHits(probs.reshape(-1, *probs.shape[2:])[:9], y)
    rng = np.random.default_rng(4)
    W, keys = weightings(3 * SPLIT, probs.shape[2], rng).astype(np.float32), rng.integers(0, 9, 3 * SPLIT)
    ends = [0, 7, 7, 300, len(y) - 1]  # an empty set, one more, and the last sample in none
    for threads, rows in (("1", 3 * SPLIT), ("2", 3 * SPLIT), ("1", 90)):  # 90 rows: about 10 per key
        monkeypatch.setenv("NUMBA_NUM_THREADS", threads)
        hits = kernel(W[:rows], keys[:rows])
        counted = kernel.counts(W[:rows], ends, keys[:rows])
        assert counted.dtype == np.uint32
        assert np.array_equal(counted, per_set(hits, ends))
        assert 0 < counted[-1].min() < counted[-1].max()  # the weightings differ in hits
    monkeypatch.setattr(_mixture, "RANGE", (np.inf, np.inf))  # every weighting takes the chains
    for threads, rows in (("2", 3 * SPLIT), ("1", 90)):
        monkeypatch.setenv("NUMBA_NUM_THREADS", threads)
        assert np.array_equal(kernel.counts(W[:rows], ends, keys[:rows]), per_set(kernel(W[:rows], keys[:rows]), ends))
    for bad in ([5, 3], [len(y) + 1], [[1]], [2.7, 5]):
        with pytest.raises(ValueError, match="not ascending sample counts"):
            kernel.counts(W, bad, keys)


@pytest.mark.parametrize("name", SHIPPED)
def test_parties_pooled_into_one_pass_score_as_each_alone(name):
    """A table scores its parties' accuracies in one fused pass over all their samples (more than two members):
    each party's score is its own scorer's, bit for bit, for one weighting, a few, and a batch split between
    threads, on val, test and a lower fidelity's val."""
    problem = load(name)
    table, objectives = problem.table, [o.name if o.name != "cost" else None for o in problem.objectives]
    parties = tuple(p for p in objectives if p is not None)
    rng = np.random.default_rng(3)
    for t in (table, table.restrict({p: np.arange(7) for p in parties}, objectives)):
        for split in ("val", "test"):
            assert (t.pooled(parties, split) is None) == is_step(len(table.members), "accuracy")
            for n in (1, 15, 2 * SPLIT + 3):
                W = weightings(n, len(table.members), rng)
                alone = np.stack([t.scorer(p, split)(W) if p else (W > 0) @ t.flops for p in objectives], 1)
                assert np.array_equal(t.score(W, objectives, split), alone), (split, n)


STITCHED = sorted(n for n, e in read_catalog().items() if e["family"] == "stitch-ensemble")


@pytest.mark.parametrize("name", STITCHED)
def test_a_stitch_ensembles_keys_and_parties_pooled_into_one_pass_score_as_each_alone(name):
    """A stitch-ensemble table scores every (point, alpha) and party in one fused pass (more than two
    members): each score is that key's own scorer's on that party, bit for bit, for one candidate, a few and
    a batch split between threads, on val, test and a lower fidelity's val."""
    problem = load(name)
    table, objectives = problem.table, [o.name if o.name != "cost" else None for o in problem.objectives]
    parties = tuple(p for p in objectives if p is not None)
    (P, A, M), rng = table.shape, np.random.default_rng(5)
    lower = table.restrict({p: np.arange(7) for p in parties}, objectives)  # a lower fidelity's val
    for t, split in product((table, lower), ("val", "test")):
        assert (t.pooled(parties, split) is None) == is_step(M, "accuracy")
        for n in (1, 15, 2 * SPLIT + 3) if t.pooled(parties, split) else ():  # two members: step scorers
            points, levels, W = rng.integers(0, P, n), rng.integers(0, A, n), weightings(n, M, rng)
            keys = t.canonical(points, levels)
            alone = [t.party_scores(keys, W, None, p, split) if p else t.cost(keys, W) for p in objectives]
            pooled = t.score_levels(points, levels, W, objectives, split)
            assert np.array_equal(pooled, np.stack(alone, 1)), (split, n)


def test_a_forked_child_scores_on_threads_of_its_own(monkeypatch):
    """The parent's thread pool does not survive a fork: a child scoring a batch split between threads would
    wait forever on it, so the child starts its own."""
    import multiprocessing

    P, y, W = near_ties(2)
    W = np.repeat(W, 3, 0)  # 600 weightings: two threads
    monkeypatch.setenv("NUMBA_NUM_THREADS", "2")
    expected = AccuracyHits(P, y)(W)  # the parent's pool now exists
    with multiprocessing.get_context("fork").Pool(1) as child:
        result = child.apply_async(AccuracyHits(P, y), (W,)).get(timeout=60)
    assert np.array_equal(result, expected)
