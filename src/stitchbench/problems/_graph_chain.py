"""Every canonical candidate of a chain's stitch graph scored at once, by the same operations as the live path.

In a chain (no skip crosses a selected point) a candidate's output reads one *lineage* per output member: a
path that starts in member n at the candidate's first active point s (its live value there) and, at each
selected point j >= s, continues in member n_j, through the stitch from the member before where they
differ. A lineage is fixed by (s, n, n_s .. n_{k-1}), so the 2^(k - s + 1) lineages of a start share their
prefixes: walking them depth first runs each segment once per prefix, not once per candidate. A candidate
with no active switch reads its members' own outputs. Each lineage runs the live path's modules on the live
path's chunks of samples (`chunked_lives`), so its probabilities are the live ones bit for bit, and so are
the candidates' scores (tests compare them: every candidate of small graphs, in small chunks and batches too,
and sampled ones of a 9-point graph).
"""

from collections.abc import Iterator

import numpy as np
import torch

from stitchbench.moo._scoring import sample_scores
from stitchbench.stitching import Members, StitchSet
from stitchbench.stitching._cache import ActivationCache
from stitchbench.stitching._networks import chunked_lives

BATCH = 4096  # candidates mixed and scored at a time


def lineages(canonical_rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per canonical row (n, 2k + 1): its start s and, for output members A and B, the lineage's code
    n * 2^(k - s) + sum_j n_j 2^(j - s) (-1 where the output does not read that member). A row with no active
    switch has start -1 and reads its members' own outputs: code 0 for A, 1 for B."""
    ab, ba, output = canonical_rows[:, :k] == 1, canonical_rows[:, k : 2 * k] == 1, canonical_rows[:, 2 * k]
    active = ab | ba
    start = np.where(active.any(1), active.argmax(1), -1)
    codes = []
    for member, read in ((0, output != 1), (1, output != 0)):
        net = np.full(len(output), member)
        code = np.zeros(len(output), dtype=np.int64)
        for j in reversed(range(k)):
            on = j >= start
            code += np.where(on, net.astype(np.int64) << np.maximum(j - start, 0), 0)
            into = np.where(net == 0, ba[:, j], ab[:, j]) & on
            net = np.where(into, 1 - net, net)
        code += net.astype(np.int64) << np.maximum(k - start, 0)
        codes.append(np.where(read, np.where(start >= 0, code, member), -1))
    return start, codes[0], codes[1]


class ChainScorer:
    """The per-sample scores of a chain's canonical candidates on one party's split."""

    def __init__(self, members: Members, stitches: StitchSet, cache: ActivationCache, selected: list[int]):
        self.members, self.stitches, self.cache, self.selected = members, stitches, cache, selected

    @torch.no_grad()
    def probs(self, s: int, party: str, split: str) -> torch.Tensor:
        """(2^(k - s + 1), N, C, ...): the output probabilities of every lineage starting at selected point s
        (2^(k + 1) N C floats at s = 0: the build's peak memory)."""
        k, pi = len(self.selected), self.selected[s]
        lives = [self.cache.lives(m, pi, party, split) for m in (0, 1)]
        out, lo = None, 0
        for chunk in chunked_lives(lives, self.members.batch_size):
            for n in (0, 1):
                for code, probs in self._walk(s, n, chunk[n], n << (k - s), s):
                    if out is None:
                        out = probs.new_empty((2 ** (k - s + 1), len(lives[0][0]), *probs.shape[1:]))
                    out[code, lo : lo + len(probs)] = probs
            lo += len(chunk[0][0])
        return out

    def _walk(self, j: int, prev: int, live: tuple, code: int, s: int) -> Iterator[tuple[int, torch.Tensor]]:
        """Continue a lineage in member prev with live values `live` at selected point j (its code so far):
        yields (code, output probabilities) of every lineage it leads to."""
        k, pi, n_points = len(self.selected), self.selected[j], len(self.members.points)
        stop = self.selected[j + 1] if j + 1 < k else n_points
        for n in (0, 1):
            v = live if n == prev else (self.stitches.get(pi, prev, n)(live[0]), *live[1:])
            for q in range(pi, stop):
                v = self.members.segment(n, q, None if q == n_points - 1 else q + 1)(*v)
            if j + 1 < k:
                yield from self._walk(j + 1, n, v, code | n << (j - s), s)
            else:
                yield code | n << (j - s), v.softmax(1)

    def scores(self, canonical_rows: np.ndarray, metric: str, party: str, split: str) -> Iterator[np.ndarray]:
        """Per-sample scores of the rows (n, N), by start and in row order within it: yields (rows' index,
        their scores) per batch."""
        k = len(self.selected)
        start, code_a, code_b = lineages(canonical_rows, k)
        y = self.cache.scenario.party(party).split(split).y.numpy()
        own = torch.stack([self.cache.logits(m, party, split).softmax(1) for m in (0, 1)])
        for s in range(-1, k):
            rows = np.flatnonzero(start == s)
            if not len(rows):
                continue
            table = own if s < 0 else self.probs(s, party, split)
            for lo in range(0, len(rows), BATCH):
                part = rows[lo : lo + BATCH]
                yield part, sample_scores(metric, mix(table, code_a[part], code_b[part]).cpu().numpy(), y)


def mix(table: torch.Tensor, a: np.ndarray, b: np.ndarray) -> torch.Tensor:
    """Each candidate's output probabilities from its lineages' (-1: that member is not read): one alone,
    or their average as `output_probs` takes it, 0.5 * (p_A + p_B)."""
    both = (a >= 0) & (b >= 0)
    out = table[torch.from_numpy(np.where(a >= 0, a, b))].clone()
    if both.any():
        idx = torch.from_numpy(np.flatnonzero(both))
        out[idx] = 0.5 * (table[torch.from_numpy(a[both])] + table[torch.from_numpy(b[both])])
    return out
