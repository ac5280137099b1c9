"""Scores from class probabilities, in numpy: the one implementation of the metrics, used alike by model
evaluation, baselines, live and tabular problems.

Classification: probs (..., N, C), labels (N,). Segmentation: probs (..., N, C, H, W), masks (N, H, W).
A prediction is the most probable class, ties going to the lowest class index.

Weighted output ensembles (`weighted_scores`) score sum_m w_m p_m for batches of weightings W (B, M). With
two members the score is an exact step function of w = w_A / (w_A + w_B), scored by binary search
(`StepAccuracy`, `StepDice`), and its breakpoints give exact fronts. Every scorer refuses non-finite
probabilities, labels that are no class and negative or non-finite weights alike; an all-zero weighting is
the uniform one.
"""

import numpy as np

from stitchbench.errors import InputError, unknown


def accuracy_samples(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per sample: 1 where the most probable class is the label, else 0 (..., N)."""
    return (probs.argmax(-1) == y).astype(np.float64)


def dice_samples(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per image: the mean over foreground classes 1..C-1 of 2|P∩G| / (|P| + |G|) on the argmax masks, where a
    class absent from both prediction and ground truth scores 1 (nothing to find, nothing found) (..., N)."""
    pred = probs.argmax(-3)
    scores = []
    for c in range(1, probs.shape[-3]):
        p, g = pred == c, np.broadcast_to(y == c, pred.shape)
        inter = (p & g).sum((-2, -1))
        total = p.sum((-2, -1)) + g.sum((-2, -1))
        scores.append(np.where(total > 0, 2 * inter / np.maximum(total, 1), 1.0))
    return np.mean(scores, 0)


def accuracy(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fraction of samples whose most probable class is the label."""
    return accuracy_samples(probs, y).mean(-1)


def dice(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean Dice of the argmax masks: the mean over images of `dice_samples`."""
    return dice_samples(probs, y).mean(-1)


SAMPLE_SCORES = {"accuracy": accuracy_samples, "dice": dice_samples}
METRICS = {"accuracy": accuracy, "dice": dice}


def sample_scores(metric: str, probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each sample's score (..., N): a split's score is their mean, so a bootstrap can resample them."""
    if metric not in SAMPLE_SCORES:
        raise unknown("metric", metric, SAMPLE_SCORES)
    return SAMPLE_SCORES[metric](np.asarray(probs), np.asarray(y))


def score(metric: str, probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    check_scored(probs, y)
    return sample_scores(metric, probs, y).mean(-1)


def check_scored(probs: np.ndarray, y: np.ndarray) -> None:
    """Every scorer's one behaviour on inputs no problem passes: an InputError for non-finite probabilities
    or labels outside 0..C-1 (C: the classes, axis -1 for labels, -3 for masks)."""
    probs, y = np.asarray(probs), np.asarray(y)
    classes = probs.shape[-1] if y.ndim == 1 else probs.shape[-3]
    samples = probs.shape[-2] if y.ndim == 1 else probs.shape[-4]
    if len(y) != samples:
        raise InputError(f"{len(y)} labels for {samples} samples of probabilities (shape {probs.shape})")
    if not np.isfinite(probs).all():
        raise InputError("probabilities must be finite; got NaN or inf")
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise InputError(f"labels must be class indices in 0..{classes - 1}; got {y.min()}..{y.max()}")


def check_weights(W: np.ndarray) -> np.ndarray:
    """Weightings (B, M) as every scorer takes them: finite and >= 0, an all-zero row meaning uniform (W itself
    where no row is all zero: a copy is the caller's to make before writing to it)."""
    from ._simplex import scanned

    W = np.asarray(W, dtype=np.float64)
    empty = np.empty(len(W), bool)
    if not scanned(W, empty):
        raise InputError("ensemble weights must be finite and >= 0")
    return np.where(empty[:, None], 1.0, W) if empty.any() else W


def normalize(W: np.ndarray) -> np.ndarray:
    """Rows of weights on the simplex (all-zero rows: uniform), rounded to 12 decimals (a canonical form): each
    row divided by its sum, numpy's (`_simplex.shares`)."""
    from ._simplex import shares

    W = np.atleast_2d(np.asarray(W, dtype=float))
    out = np.empty(W.shape)
    shares(W, W.sum(1), out)
    return out


def member_weights(columns: np.ndarray, switches: bool = False) -> np.ndarray:
    """The normalized weightings (n, M) a problem scores from its member columns: the weights w.<m> (n, M),
    followed with `switches` by the binary use.<m> (n, M), where use.<m> = 0 leaves member m out (weight 0,
    no cost); members switched on whose weights are all 0 share the weight evenly, and every member off is
    the uniform ensemble of all (`_simplex.switched`). A solver picks a member subset with positive
    probability that way; the weightings reachable are still the whole simplex, faces included, so an exact
    front stays exact."""
    from ._simplex import switched

    columns = np.atleast_2d(np.asarray(columns, dtype=float))
    if switches:
        if columns.shape[1] % 2:
            raise ValueError(f"{columns.shape[1]} member columns: with switches, as many weights as switches")
        weights = np.empty((len(columns), columns.shape[1] // 2))
        switched(columns, weights)
        columns = weights
    return normalize(columns)


def switch_names(weight_names: list[str]) -> list[str]:
    """The switch variables (use.<m>) of weight variables w.<m>."""
    return [f"use.{n.removeprefix('w.')}" for n in weight_names]


class WeightedScores:
    """Scores of weighted output ensembles of M members' probabilities (M, N, C, ...) on labels y: the
    mixture computed in float32 (accuracy: fused with its argmax; Dice: in chunks of weightings that bound
    its memory)."""

    def __init__(self, probs: np.ndarray, y: np.ndarray, metric: str):
        check_scored(probs, y)
        self.probs, self.y, self.metric = np.asarray(probs, dtype=np.float32), np.asarray(y), metric
        self.rows = max(1, min(128, 2**23 // self.probs[0].size))
        self._hits = None  # `kernel()`

    def __call__(self, W: np.ndarray) -> np.ndarray:
        return self.hit_rate(W) if self.fused() else self.samples(W).mean(-1)

    def fused(self) -> bool:
        return self.metric == "accuracy" and self.y.ndim == 1

    def hits(self, W: np.ndarray, keys: np.ndarray | None = None) -> np.ndarray:
        """Accuracy per sample and weighting (N, B) uint8, fused and pruned (`_mixture`), bit for bit."""
        return self.kernel()(self.fused_weights(W), keys)

    def hit_rate(self, W: np.ndarray, keys: np.ndarray | None = None) -> np.ndarray:
        """The accuracy of each weighting: its hits counted exactly, the samples' mean bit for bit."""
        return self.hit_counts(W, [len(self.y)], keys)[0] / len(self.y)

    def hit_counts(self, W: np.ndarray, ends, keys: np.ndarray | None = None) -> np.ndarray:
        """Each weighting's hits counted per set of samples (S, B), set s the samples ends[s - 1] <= n < ends[s]
        (`_mixture.AccuracyHits.counts`)."""
        return self.kernel().counts(self.fused_weights(W), ends, keys)

    def kernel(self):
        """The fused accuracy (`_mixture.AccuracyHits`), built on first use."""
        if self._hits is None:
            from ._mixture import AccuracyHits

            self._hits = AccuracyHits(self.probs, self.y)
        return self._hits

    def fused_weights(self, W: np.ndarray) -> np.ndarray:
        """Weightings (B, M) as the fused kernel takes them (float32, checked: `check_weights`), M the members'
        axis of classification probabilities, (K,) M, N, C."""
        return check_weights(np.reshape(W, (-1, self.probs.shape[-3]))).astype(np.float32)

    def samples(self, W: np.ndarray) -> np.ndarray:
        """Per-sample scores (B, N) of the weightings W (B, M)."""
        if self.fused():
            return self.hits(W).T.astype(np.float64)
        W = check_weights(np.reshape(W, (-1, len(self.probs)))).astype(np.float32)
        flat = self.probs.reshape(len(self.probs), -1)
        out = [
            sample_scores(self.metric, (W[i : i + self.rows] @ flat).reshape(-1, *self.probs.shape[1:]), self.y)
            for i in range(0, len(W), self.rows)
        ]
        return np.concatenate(out) if out else np.empty((0, len(self.y)))

    def breakpoints(self) -> np.ndarray | None:
        """Weights on member A where the score can change (two members: step scorers); None otherwise."""
        return None


class PooledAccuracy:
    """The accuracy of the same members' weighted output ensembles on several sets of samples (each party's),
    probs [(M, N_p, C)] and labels [(N_p,)], in one fused pass over all their samples: a set's score is its
    `WeightedScores`', bit for bit (its hits counted exactly and divided by its size), in one call of the kernel
    where each set's would take one (a weighting at a time, as MOEA/D and ask-and-tell loops ask, pays that
    call's overhead once). Or of several ensembles on those samples, probs [(K, M, N_p, C)], each row of a
    batch scored by its own (`keys`), all in the same pass."""

    def __init__(self, probs: list[np.ndarray], labels: list[np.ndarray]):
        self.ends = np.cumsum([len(y) for y in labels])
        self.sizes = np.diff(self.ends, prepend=0)[:, None]
        self.scores = WeightedScores(np.concatenate(probs, axis=-2), np.concatenate(labels), "accuracy")

    def __call__(self, W: np.ndarray, keys: np.ndarray | None = None) -> np.ndarray:
        """Scores (B, sets) of weightings W (B, M), row b by ensemble keys[b] (None: the first)."""
        return (self.scores.hit_counts(W, self.ends, keys) / self.sizes).T


def interval_weights(breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The edges (0, 1 and every breakpoint, sorted) and the midpoint of each interval between them."""
    edges = np.unique(np.concatenate([[0.0, 1.0], breaks]))
    return edges, (edges[:-1] + edges[1:]) / 2


def step_weightings(breaks: list[np.ndarray]) -> np.ndarray:
    """Two-member weightings (w, 1 - w) at every breakpoint in `breaks` (any number of arrays) and inside
    every interval between them: one of them has the scores of any weighting (see `StepAccuracy`)."""
    w = np.concatenate(interval_weights(np.concatenate(breaks)))
    return np.stack([w, 1 - w], 1)


def sample_intervals(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per sample, the interval of weights w on member A where w pA + (1 - w) pB predicts its label (see
    `StepAccuracy`): (lo, hi, lo_strict, hi_strict), lo = inf where no weight does."""
    pa, pb = np.asarray(probs, dtype=np.float64)
    label = y[:, None]
    rows = np.arange(len(label))
    a, b = pa[rows, y][:, None] - pa, pb[rows, y][:, None] - pb
    slope = a - b
    classes = np.arange(pa.shape[1])[None, :]
    other, strict = classes != label, classes < label  # below the label, a tie loses
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -b / slope
    lower, upper, flat = other & (slope > 0), other & (slope < 0), other & (slope == 0)
    never = (flat & ((b < 0) | ((b == 0) & strict))).any(1)
    tl, tu = np.where(lower, t, -np.inf), np.where(upper, t, np.inf)
    lo, hi = tl.max(1), tu.min(1)
    lo_strict = (lower & strict & (tl == lo[:, None])).any(1)
    hi_strict = (upper & strict & (tu == hi[:, None])).any(1)
    keep = ~never & ((lo < hi) | ((lo == hi) & ~lo_strict & ~hi_strict))
    return np.where(keep, lo, np.inf), hi, lo_strict, hi_strict


class StepAccuracy(WeightedScores):
    """Accuracy of the two-member ensemble w pA + (1 - w) pB as an exact step function of w.

    Sample n is right where its label y beats every class c below it and ties-or-beats every class above
    it: each is a linear condition b_c + w (a_c - b_c) > 0 (or >= 0) with a_c = pA_y - pA_c and
    b_c = pB_y - pB_c, a half-line of w. So each sample is right on one interval [L_n, U_n] (open or
    closed at either end), and the accuracy at w counts the samples whose lower end is passed minus those
    whose upper end is passed: four binary searches, in float64. The score changes only at those ends."""

    def __init__(self, probs: np.ndarray, y: np.ndarray, metric: str = "accuracy"):
        super().__init__(probs, y, metric)
        self._set_intervals(*sample_intervals(self.probs, self.y))

    @classmethod
    def from_intervals(cls, lo, hi, lo_strict, hi_strict) -> "StepAccuracy":
        """The scorer of its samples' intervals (`intervals`; a sample never right has lo = inf): the same
        scores, bit for bit, without the probabilities (a compact table's form)."""
        scorer = cls.__new__(cls)
        scorer.metric, scorer.probs, scorer.y = "accuracy", None, None
        scorer._set_intervals(*(np.asarray(a) for a in (lo, hi, lo_strict, hi_strict)))
        return scorer

    def _set_intervals(self, lo, hi, lo_strict, hi_strict) -> None:
        self.intervals = (lo, hi, lo_strict, hi_strict)  # per sample
        self.n = len(lo)
        keep = lo != np.inf
        lo, hi, lo_strict, hi_strict = lo[keep], hi[keep], lo_strict[keep], hi_strict[keep]
        self.bounds = [np.sort(v) for v in (lo[lo_strict], lo[~lo_strict], hi[~hi_strict], hi[hi_strict])]
        ends = np.concatenate([lo, hi])
        self.edges = np.unique(ends[(ends > 0) & (ends < 1)])

    @staticmethod
    def weight_on_a(W: np.ndarray) -> np.ndarray:
        W = check_weights(np.reshape(W, (-1, 2)))
        return W[:, 0] / W.sum(1)

    def samples(self, W: np.ndarray) -> np.ndarray:
        """Per-sample correctness (B, N): whether each weighting lies in the sample's interval."""
        w = self.weight_on_a(W)[:, None]
        lo, hi, lo_strict, hi_strict = self.intervals
        entered = np.where(lo_strict, w > lo, w >= lo)
        stayed = np.where(hi_strict, w < hi, w <= hi)
        return (entered & stayed).astype(np.float64)

    def __call__(self, W: np.ndarray) -> np.ndarray:
        return self.at(self.weight_on_a(W))

    def at(self, w: np.ndarray) -> np.ndarray:
        """The accuracy at weights `w` on member A (each in [0, 1])."""
        lo_open, lo_closed, hi_closed, hi_open = self.bounds
        entered = np.searchsorted(lo_open, w, "left") + np.searchsorted(lo_closed, w, "right")
        left = np.searchsorted(hi_closed, w, "left") + np.searchsorted(hi_open, w, "right")
        return (entered - left) / self.n

    def breakpoints(self) -> np.ndarray:
        return self.edges

    def ends(self) -> np.ndarray:
        """Every end of a sample's interval, sorted: the score is constant between two consecutive ones."""
        return np.unique(np.concatenate(self.bounds))


class StepDice(WeightedScores):
    """Dice of the two-member ensemble w pA + (1 - w) pB as an exact step function of w.

    Each pixel predicts class c on one interval of w (`sample_intervals` with c as its label: open or closed
    at either end, in float64), so per image and foreground class the counts of predicted and of correctly
    predicted pixels change only where a pixel's interval starts or ends, and so does every image's Dice.
    The sorted ends v_0 < v_1 < ... cut [0, 1] into slots: 2r + 1 is w = v_r, 2r the gap below it. A
    pixel entering at v_r (closed) counts from slot 2r + 1 on, entering after it (open) from 2r + 2; leaving
    likewise. Each image's Dice per class is kept at the slots where it changes; a split's score is computed
    at every slot as the mean over images of the mean over classes, as `dice` computes it."""

    def __init__(self, probs: np.ndarray, y: np.ndarray, metric: str = "dice"):
        super().__init__(probs, y, metric)
        pa, pb = (np.moveaxis(p, 1, -1).reshape(-1, p.shape[1]) for p in self.probs)  # (pixels, C) each
        N, C = self.probs.shape[1:3]
        labels, image = self.y.reshape(-1), np.repeat(np.arange(N), self.y[0].size)
        events = []  # (group = image x foreground class, lo, hi, lo_strict, hi_strict, pixel is of the class)
        for c in range(1, C):
            lo, hi, lo_strict, hi_strict = sample_intervals(np.stack([pa, pb]), np.full(len(pa), c))
            keep = lo != np.inf
            group = image * (C - 1) + c - 1
            events.append((group[keep], lo[keep], hi[keep], lo_strict[keep], hi_strict[keep], labels[keep] == c))
        group, lo, hi, lo_strict, hi_strict, right = (np.concatenate(e) for e in zip(*events, strict=True))
        lo, hi = np.where(lo < 0, -np.inf, lo), np.where(hi > 1, np.inf, hi)  # no weight lies beyond [0, 1]
        ends = np.concatenate([lo, hi])
        self.values = np.unique(ends[np.isfinite(ends)])
        self.slots = 2 * len(self.values) + 1
        rank_lo, rank_hi = np.searchsorted(self.values, lo), np.searchsorted(self.values, hi)
        enter = np.where(np.isfinite(lo), 2 * rank_lo + 1 + lo_strict, 0)
        leave = 2 * rank_hi + 2 - hi_strict
        stays = np.isfinite(hi)
        slot = np.concatenate([enter, leave[stays]])
        groups = np.concatenate([group, group[stays]])
        step = np.concatenate([np.ones(len(enter)), -np.ones(int(stays.sum()))])
        hit = np.concatenate([right, right[stays]]) * step
        # per (group, slot) with a change: the counts after it
        codes, where = np.unique(groups.astype(np.int64) * self.slots + slot, return_inverse=True)
        predicted, correct = (np.bincount(where, v, len(codes)) for v in (step, hit))
        run = np.diff(codes // self.slots, prepend=-1) != 0
        first = np.flatnonzero(run)[np.cumsum(run) - 1]
        predicted, correct = (np.cumsum(v) - (np.cumsum(v) - v)[first] for v in (predicted, correct))
        truth = np.stack([np.bincount(image[labels == c], minlength=N) for c in range(1, C)], 1).reshape(-1)
        total = predicted + truth[codes // self.slots]
        self.codes, self.after = codes, np.where(total > 0, 2 * correct / np.maximum(total, 1), 1.0)
        self.before = np.where(truth > 0, 0.0, 1.0)  # each group's Dice before its first change
        self.shape = (N, C - 1)
        self.scores = self.every_slot()
        self.edges = self.values[(self.values > 0) & (self.values < 1)]

    def every_slot(self, block: int = 8192) -> np.ndarray:
        """The split's score at every slot: each group's last change at or before the slot, carried forward
        through blocks of slots."""
        groups = self.shape[0] * self.shape[1]
        slot, group = self.codes % self.slots, self.codes // self.slots
        last = np.full(groups, -1)
        scores = []
        for start in range(0, self.slots, block):
            stop = min(start + block, self.slots)
            inside = (slot >= start) & (slot < stop)
            index = np.full((stop - start + 1, groups), -1)
            index[0] = last
            index[slot[inside] - start + 1, group[inside]] = np.flatnonzero(inside)
            index = np.maximum.accumulate(index, 0)[1:]
            last = index[-1]
            values = np.where(index >= 0, np.r_[self.after, 0.0][index], self.before[None])
            scores.append(self.per_image(values).sum(1) / self.shape[0])
        return np.concatenate(scores)

    def slot_of(self, w: np.ndarray) -> np.ndarray:
        """The slot of each weight w on member A."""
        rank = np.searchsorted(self.values, w, "left")
        at = np.r_[self.values, np.nan][rank] == w
        return 2 * rank + at

    def slot_samples(self, slots: np.ndarray) -> np.ndarray:
        """Per-image Dice (B, N) at `slots` (B,)."""
        groups = np.arange(self.shape[0] * self.shape[1])
        query = groups[None] * self.slots + np.asarray(slots)[:, None]  # (B, groups)
        i = np.searchsorted(self.codes, query, "right") - 1
        mine = (i >= 0) & (np.r_[self.codes, -1][i] // self.slots == groups[None])
        return self.per_image(np.where(mine, np.r_[self.after, 0.0][i], self.before[None]))

    def per_image(self, values: np.ndarray) -> np.ndarray:
        """Each image's mean over its classes (B, N) of per-group Dice (B, groups)."""
        values = values.reshape(len(values), *self.shape)
        return sum(values[..., c] for c in range(self.shape[1])) / self.shape[1]

    def samples(self, W: np.ndarray) -> np.ndarray:
        return self.slot_samples(self.slot_of(StepAccuracy.weight_on_a(W)))

    def __call__(self, W: np.ndarray) -> np.ndarray:
        return self.at(StepAccuracy.weight_on_a(W))

    def at(self, w: np.ndarray) -> np.ndarray:
        """The score at weights `w` on member A."""
        return self.scores[self.slot_of(np.asarray(w, dtype=float))]

    def breakpoints(self) -> np.ndarray:
        return self.edges

    def ends(self) -> np.ndarray:
        return self.values


class StepBank:
    """Many two-member step scorers (`StepAccuracy` or `StepDice`, one per key) as one lookup: a batch of
    (key, weighting) pairs costs two binary searches, not two per key touched. A scorer's score is constant
    between two consecutive `ends()`, so each key keeps its sorted ends E, the score at each end and in each
    gap (read from the scorer itself at those weights). Every end is coded key * R + its rank among all the
    ends (`values`); a weight is located among the ends by float comparisons, and in its key's block by
    integer search. No arithmetic touches a weight or an end: the scores are the scorers', bit for bit."""

    def __init__(self, scorers: list[StepAccuracy | StepDice]):
        ends = [s.ends() for s in scorers]
        self.values = np.unique(np.concatenate(ends))
        self.R = len(self.values) + 1  # a weight's position among the values: 0..len(values)
        self.codes = np.concatenate([k * self.R + np.searchsorted(self.values, e) for k, e in enumerate(ends)])
        self.padded_values, self.padded_codes = np.r_[self.values, np.nan], np.r_[self.codes, -1]  # past the end
        self.start = np.concatenate([[0], np.cumsum([len(e) for e in ends])[:-1]]).astype(np.int64)
        at_end = [s.at(np.clip(e, 0.0, 1.0)) for s, e in zip(scorers, ends, strict=True)]
        self.at_end = np.concatenate([*at_end, [np.nan]])  # a sentinel: `start + below` always indexes
        self.in_gap = np.concatenate([s.at(gap_weights(e)) for s, e in zip(scorers, ends, strict=True)])

    def __call__(self, keys: np.ndarray, W: np.ndarray) -> np.ndarray:
        """Scores of weightings W (B, 2), row b by scorer keys[b]."""
        return self.at(keys, StepAccuracy.weight_on_a(W))

    def at(self, keys: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Scores at weights `w` (B,) on member A, row b by scorer keys[b]. The searches run on sorted
        queries (the results do not depend on the order; the memory walk does)."""
        keys = np.asarray(keys, dtype=np.int64)
        order = np.lexsort((w, keys))
        k, w = keys[order], w[order]
        base, start = k * self.R, self.start[k]
        rank = np.searchsorted(self.values, w, "left")  # values and each key's codes are unique: an equal
        found = np.searchsorted(self.codes, base + rank)  # one, if any, is where the search stops
        below = found - start
        at_end = (self.padded_values[rank] == w) & (self.padded_codes[found] == base + rank)  # one of its ends
        out = np.empty(len(w))
        out[order] = np.where(
            at_end, self.at_end[start + below], self.in_gap[start + k + below]
        )  # +k: a gap more per key
        return out


def gap_weights(ends: np.ndarray) -> np.ndarray:
    """A weight in [0, 1] inside each gap around and between sorted `ends` (len(ends) + 1 gaps); where a gap
    holds no weight in [0, 1] (or no float at all), any weight: no query can land there."""
    edges = np.concatenate([[-np.inf], ends, [np.inf]])
    lo, hi = np.clip(edges[:-1], 0.0, 1.0), np.clip(edges[1:], 0.0, 1.0)
    return np.where(
        np.isfinite(edges[:-1]) & np.isfinite(edges[1:]), (lo + hi) / 2, np.where(np.isfinite(edges[1:]), lo, hi)
    )


def weighted_scores(probs: np.ndarray, y: np.ndarray, metric: str) -> WeightedScores:
    """The scorer of weighted output ensembles of `probs` (M, N, C, ...): a step function for two members
    (`is_step`), the direct mixture otherwise."""
    if metric not in METRICS:
        raise unknown("metric", metric, METRICS)
    return STEP_SCORERS[metric](probs, y) if is_step(len(probs), metric) else WeightedScores(probs, y, metric)


STEP_SCORERS = {"accuracy": StepAccuracy, "dice": StepDice}


def is_step(members: int, metric: str) -> bool:
    """Whether weighted ensembles of `members` members scored by `metric` are scored as an exact step
    function of the weight (two members), whose breakpoints give exact fronts."""
    return members == 2 and metric in STEP_SCORERS
