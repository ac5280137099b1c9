"""The accuracy of weighted output ensembles, fused and pruned (numba): for each weighting and sample, whether
the first argmax over classes of the float32 mixture sum_k w_k p_k is the label, without the (B, N, C)
mixture in memory.

The reference (`_chain_hit`) is each class's float32 chain acc = w_k * p_k + acc (one fused multiply-add per
member, members in order, from 0): the bits OpenBLAS's sgemm gives on the CPUs stitchbench records, so a
table's scores stay those it was built with (a test compares the two on every shipped ensemble-weights table).

Most verdicts need far less than the chain over every class. With margins d_c = p_y - p_c (label y), the sample
is right where w . d_c > 0 for every class c (>= 0 above y), and each chain differs from its real sum by at
most M u sum_k w_k |p_k| (u = 2^-24), a computed margin from the real one by (M + 1) u sum_k w_k |d_k|. So a
computed margin beyond the tolerance `SAFETY * (M + 2) * u * scale * sum(w)` (scale = 2 max |p|) decides the
verdict exactly as the chains do, and only margins inside it are settled by the chains. Per sample (once per
table): classes no weighting brings near the label are dropped; samples no weighting can make right, or wrong,
are settled; the rest keep their contenders (most dangerous first) and the member-wise minimum E of their
margins, whose one dot product proves most weightings right (a key's many weightings, sorted by their distance
r from their centre c on the simplex, need none where E . c - r |E - mean E| bounds it beyond twice the
tolerance, or the same bounds of the first two contenders' margins and of the others' minimum all do); the
weightings a sample leaves open are gathered, and each contender's margin taken of all of them at once. A key's
few weightings, and weightings that use few members (four, or a third left out: switches), are taken a
weighting at a time, 32 samples a step over the members each uses (`_lanes`: vector code written out, their
margins' rows from whole cache lines), by its first two contenders' margins and the others' minimum, and the
samples these leave open by every contender's margin, eight at a time.
Imported on first use: numba's import is not paid by loading a table.
"""

import functools
import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ._lanes import LANES, lowest, margins, popcount, sums, sums3

ALIGN = 16  # floats in a cache line

U = 2.0**-24  # float32's unit roundoff
SAFETY = 4.0  # the tolerance over the error bound
RANGE = (2.0**-60, 2.0**100)  # sum(w) * scale, or scale, outside it (no under- or overflow bound): the chains
SPLIT = 256  # weightings per thread at least
NARROW = 32  # a key's weightings below it are scored a weighting at a time (`_narrow`)
SPARSE, FEW = 2 / 3, 4  # and so are a key's weightings that use at most this share of the members (switches),
# or FEW, on average
NO_SETS = np.zeros(0, np.int64)  # hits not counted
GATHER = 16  # open verdicts of a sample from which they are gathered and vectorized
SLACK = 1e-9  # per unit of scale: float64's rounding in the distances' bound (`_radii`, `_wide`), far below it


@numba.njit(fastmath={"contract"}, cache=True, nogil=True)
def _chain_hit(W: np.ndarray, b: int, P: np.ndarray, label: int, n: int) -> int:
    """1 where the first argmax over classes of the chains sum_k W[b, k] P[k, n, :] is `label`."""
    M, _, C = P.shape
    arg, best = 0, np.float32(0)
    for c in range(C):
        acc = np.float32(0)
        for k in range(M):
            acc = W[b, k] * P[k, n, c] + acc
        if c == 0 or acc > best:
            arg, best = c, acc
    return 1 if arg == label else 0


@numba.njit(cache=True, nogil=True, inline="always")
def _used(W, b, members, weights) -> int:
    """How many members weighting b uses (weight not 0): their indices and weights, in order, to members and
    weights."""
    used = 0
    for k in range(W.shape[1]):
        members[used], weights[used] = k, W[b, k]
        used += W[b, k] != 0
    return used


@numba.njit(cache=True, nogil=True, inline="always")
def _decided(least, t, W, b, P, label, n) -> int:
    """The verdict the certificates left open for weighting b and sample n, from its contenders' least margin
    (`_least`): 0 where one beats the label, else the chains' where one is within the tolerance t of it, else 1."""
    return 0 if least < -t else (1 if least > t else _chain_hit(W, b, P, label, n))


@numba.njit(fastmath={"contract"}, cache=True, nogil=True, inline="always")
def _least(members, weights, used, T, R, i) -> np.float32:
    """The least margin of sample i's contenders over the `used` members (members[u], weights[u]): its first two
    (T[0], T[1]) and the others eight at a time (R[i]: members x chunks of 8, padded with inf), each a chain
    over those members in order (`_narrow` decides by it what `_lanes.margins` leaves open)."""
    f = g = np.float32(0)
    for u in range(used):
        f, g = T[0, members[u], i] * weights[u] + f, T[1, members[u], i] * weights[u] + g
    least = min(f, g)
    for c in range(R.shape[2]):
        m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = np.float32(0)
        for u in range(used):
            w, r = weights[u], R[i, members[u], c]
            m0, m1, m2, m3 = r[0] * w + m0, r[1] * w + m1, r[2] * w + m2, r[3] * w + m3
            m4, m5, m6, m7 = r[4] * w + m4, r[5] * w + m5, r[6] * w + m6, r[7] * w + m7
        least = min(least, min(min(min(m0, m1), min(m2, m3)), min(min(m4, m5), min(m6, m7))))
    return least


@numba.njit(cache=True, nogil=True)
def _tolerances(W, lo, hi, bound, scale, low, high, tol, chains) -> None:
    """Per weighting lo <= b < hi: the tolerance of its margins, bound * sum |w| (with slack), or `chains`
    where sum |w| * scale, or scale itself (the margins in float32), is outside [low, high] (no under- or
    overflow bound: the chains everywhere)."""
    for b in range(lo, hi):
        total = 0.0
        for k in range(W.shape[1]):
            total += abs(np.float64(W[b, k]))
        chains[b - lo] = not (low <= total * scale <= high and scale <= high)
        tol[b - lo] = 0 if chains[b - lo] else np.float32(bound * total * 1.01)


@numba.njit(cache=True, nogil=True, inline="always")
def _compacted(flags, words, n, base, out) -> int:
    """The indices base + i of the 1s among the 0/1 bytes flags[:n], written to out in order, and their count:
    a word of 8 at a time, the words with none skipped (few are 1; words: flags viewed as uint64 from an
    8-aligned address, at least n // 8 of them, made once by the caller)."""
    count, full = 0, n // 8 * 8
    for w in range(full // 8):
        if words[w]:
            for i in range(8 * w, 8 * w + 8):
                out[count] = base + i
                count += flags[i]
    for i in range(full, n):
        out[count] = base + i
        count += flags[i]
    return count


@numba.njit(fastmath={"contract"}, cache=True, nogil=True)
def _narrow(W, a, z, ts, P, y, unsettled, i0, i1, T, R, out, cuts, setof, counts, least, left) -> None:
    """The unsettled samples i0 <= i < i1 of weightings a <= b < z (tolerances ts[b - a]), a weighting at a
    time, 32 samples a step (`_lanes.margins`), over the members it uses (a weight of 0 adds nothing to a
    margin, nor to its rounding): the first two contenders' margins (f, g) and the others' minimum (o) (T, R:
    `_hits`') decide most verdicts (every one E, the minimum of all, decides, but for rounding near the
    tolerance), `_settled` the rest (least, left: scratch of i1 - i0). Written to out, or where out is empty
    counted per set, a step's hits by one bit count (cuts: each set's first unsettled sample, counted from i0,
    and the last one's end; setof, counts: `_hits`')."""
    tally, M, width = len(out) == 0, W.shape[1], T.shape[2]
    flat = T.reshape(T.size)
    members, weights = np.zeros(M, np.int64), np.zeros(M, np.float32)
    spans = cuts if tally else np.array([0, i1 - i0])  # the samples scored: every set's, or all
    for b in range(a, z):
        used, t, count = _used(W, b, members, weights), ts[b - a], 0
        for c in range(len(spans) - 1):
            first, end, hits = i0 + spans[c], i0 + spans[c + 1], 0
            for s in range(first - first % ALIGN, end, LANES):  # steps from whole cache lines
                right, open_ = margins(flat, members, width, weights, used, M * width, s, t)
                lo, hi = max(first - s, 0), min(end - s, LANES)  # the span's lanes
                keep = (1 << hi) - (1 << lo)
                right, open_ = right & keep, open_ & keep
                hits += popcount(right)
                if not tally:
                    for j in range(lo, hi):
                        out[unsettled[s + j], b] = (right >> j) & 1
                while open_:  # the samples left open
                    left[count] = s + lowest(open_)
                    count += 1
                    open_ &= open_ - 1
            if tally:
                counts[c, b] += hits
        if count:
            _settled(W, b, t, members, weights, used, T, R, left[:count], least, P, y, unsettled, out, setof, counts)


@numba.njit(fastmath={"contract"}, cache=True, nogil=True)
def _settled(W, b, t, members, weights, used, T, R, left, least, P, y, unsettled, out, setof, counts) -> None:
    """The verdicts of weighting b (tolerance t) on the samples `_lanes.margins` left open, unsettled[left[j]]: each
    one's least margin (`_least`), all taken first (in least), decides it where it is beyond the tolerance, the
    chains elsewhere; written to out, or where out is empty counted (`_narrow`'s)."""
    for j in range(len(left)):
        least[j] = _least(members, weights, used, T, R, left[j])
    for j in range(len(left)):
        n = unsettled[left[j]]
        right = _decided(least[j], t, W, b, P, y[n], n)
        if len(out) == 0:
            counts[setof[n], b] += right
        else:
            out[n, b] = right


@numba.njit(fastmath={"contract"}, cache=True, nogil=True, inline="always")
def _dots(Wt, rows, a, B, e, s) -> None:
    """s[b] = the chain sum_k Wt[rows[k], a + b] * e[k] for b < B (one fused multiply-add per row, in order,
    from 0: with every row, `_least`'s, its first the product itself, a zero's sign aside, which no
    comparison sees), four rows per pass over s, the first pass writing it (inlined: `_gathered` calls it once a
    contender)."""
    M = len(rows)
    k = 4 if M >= 4 else 0
    if k:
        e0, e1, e2, e3 = e[0], e[1], e[2], e[3]
        r0, r1, r2, r3 = rows[0], rows[1], rows[2], rows[3]
        w0, w1, w2, w3 = Wt[r0, a : a + B], Wt[r1, a : a + B], Wt[r2, a : a + B], Wt[r3, a : a + B]
        for b in range(B):
            s[b] = w3[b] * e3 + (w2[b] * e2 + (w1[b] * e1 + w0[b] * e0))
    else:
        s[:B] = 0
    while k + 4 <= M:
        e0, e1, e2, e3 = e[k], e[k + 1], e[k + 2], e[k + 3]
        r0, r1, r2, r3 = rows[k], rows[k + 1], rows[k + 2], rows[k + 3]
        w0, w1, w2, w3 = Wt[r0, a : a + B], Wt[r1, a : a + B], Wt[r2, a : a + B], Wt[r3, a : a + B]
        for b in range(B):
            s[b] = w3[b] * e3 + (w2[b] * e2 + (w1[b] * e1 + (w0[b] * e0 + s[b])))
        k += 4
    for j in range(k, M):
        ek, wk = e[j], Wt[rows[j], a : a + B]
        for b in range(B):
            s[b] = wk[b] * ek + s[b]


@numba.njit(cache=True, nogil=True)
def _radii(W, a, z, chains, centre, r) -> None:
    """centre: the mean of the weightings a <= b < z on the simplex (w / sum w), r[b - a]: each one's distance
    from it (inf, and left out of the centre: those the chains score, chains[b - a], and all-zero ones)."""
    M, count = W.shape[1], 0
    centre[:] = 0
    for b in range(a, z):  # r: first each one's sum (0: left out)
        total = 0.0
        for k in range(M):
            total += np.float64(W[b, k])
        r[b - a] = 0.0 if chains[b - a] else total
        if r[b - a] > 0:
            for k in range(M):
                centre[k] += W[b, k] / total
            count += 1
    for k in range(M):
        centre[k] /= max(count, 1)
    for b in range(a, z):
        total, d2 = r[b - a], 0.0
        for k in range(M):
            d2 += (W[b, k] / total - centre[k]) ** 2 if total > 0 else np.inf
        r[b - a] = np.sqrt(d2)


@numba.njit(cache=True, nogil=True)
def _sorted(W, a, z, ts, chains, centre, r, rs, Ws, Wts, tss) -> np.ndarray:
    """The weightings a <= b < z (tolerances ts[b - a]) sorted by their distance from their centre (`_radii`):
    their order, and their rows of W (Ws, Wts: transposed), distances (rs) and tolerances (tss) in it."""
    _radii(W, a, z, chains, centre, r)
    order = np.argsort(r[: z - a])
    for j in range(z - a):
        rs[j], tss[j] = r[order[j]], ts[order[j]]
        for k in range(W.shape[1]):
            Ws[j, k] = Wts[k, j] = W[a + order[j], k]
    return order


@numba.njit(cache=True, nogil=True, inline="always")
def _reach(near, limit, spread) -> float:
    """The distance from the centre within which a margin near at the centre stays beyond the limit (inf:
    everywhere; 0 or less: nowhere, as where spread is not a number)."""
    return (near - limit) / spread if spread > 0 else (np.inf if spread == 0 and near > limit else 0.0)


@numba.njit(fastmath={"contract"}, cache=True, nogil=True)
def _wide(W, Wt, a, z, ts, P, y, unsettled, i0, i1, E, others, start, D, T, R, out, setof, counts, scratch, ball):
    """As `_narrow`, vectorized over the weightings, LANES a step (`_lanes.sums`: Wt's rows from whole cache lines,
    `_lined`; scratch: s, s2, s3 of at least z + LANES, todo, idx of at least z - a, todo of twice that, G of M x
    that, hist `_hits`'), sorted by their distance from their centre on the simplex (ball: the
    centre, the distances r, each sample's spreads |V - mean V| of E, f, g, o (below) and the limit, `_hits`'): a
    sample's first weightings, those whose distance proves E's margin beyond the limit (E . w / sum w >= E . centre
    - r |E - mean E|), or f's, g's and o's alike, are right without a dot product; of the others, a sample that many
    fail on E is a hard one: its first two contenders (the most dangerous) and the others' minimum decide most of
    them at once (`_narrow`'s f, g, o); `_decided` the rest, one by one or `_gathered`. A sample's verdicts are
    written to its row of out (out[i - i0]), or where out is empty added to its set's counts (those of its first
    weightings as one count in hist[set, how many])."""
    tally, every, (centre, r, spread, limit) = len(out) == 0, np.arange(Wt.shape[0]), ball
    s, s2, s3, todo, idx, G, hist = scratch
    members, weights = np.zeros(W.shape[1], np.int64), np.zeros(W.shape[1], np.float32)
    words = todo[: (z - a) // 8 * 8].view(np.uint64)  # todo starts 8-aligned (`_hits`' allocation)
    for i in range(i0, i1):
        n, first, last = unsettled[i], start[i], start[i + 1]
        f, g, o = D[first], D[first + (last - first > 1)], others[i]
        near = nf = ng = no = 0.0  # E's margin at the centre, and f's, g's and o's
        for k in range(Wt.shape[0]):
            near += np.float64(E[i, k]) * centre[k]
            nf += np.float64(f[k]) * centre[k]
            ng += np.float64(g[k]) * centre[k]
            no += np.float64(o[k]) * centre[k]
        # the distance within which E's margin is beyond the limit (inf: everywhere; the chains' never)
        reach = _reach(near, limit, spread[i, 0])
        p = np.searchsorted(r[: z - a], reach) if reach > 0 else 0
        if p < z - a:  # the first two contenders' and the others' own balls
            own = min(_reach(nf, limit, spread[i, 1]), _reach(ng, limit, spread[i, 2]))
            own = min(own, _reach(no, limit, spread[i, 3]))
            if own > r[p]:
                p = np.searchsorted(r[: z - a], own)
        if tally:
            hist[setof[n], p] += 1
        else:
            out[i - i0, a : a + p] = 1
        aa, B, tb = a + p, z - a - p, ts[p:]
        if B == 0:
            continue
        row, fails = todo[z - a : z - a + B] if tally else out[i - i0, aa:z], B
        steps = range(aa - aa % ALIGN, z, LANES)  # E's, or f's, g's and o's margins of weightings aa .. z - 1,
        # LANES a step from whole cache lines (Wt's rows start on them; s, s2, s3 hold them from aa on)
        if reach > 0:  # E's margin proven at the centre: most of the others right on E too
            for j in steps:
                sums(Wt, E[i], j, s)
            fails = 0
            for b in range(B):
                right = s[aa + b] > tb[b]
                row[b] = right
                fails += 1 - right
        else:  # a hard sample, most likely: E not taken
            row[:] = 0
        if fails > B // 64:  # a hard sample
            for j in steps:
                sums3(Wt, f, g, o, j, s, s2, s3)  # f, g, o: `_narrow`'s
            sf, sg, so = s[aa:], s2[aa:], s3[aa:]
            for b in range(B):
                right = row[b] | ((sf[b] > tb[b]) & (sg[b] > tb[b]) & (so[b] > tb[b]))
                row[b] = right
                todo[b] = 1 - (right | (sf[b] < -tb[b]) | (sg[b] < -tb[b]))
        elif fails > 0:
            for b in range(B):
                todo[b] = 1 - row[b]
        count = _compacted(todo, words, B, 0, idx) if fails > 0 else 0  # the weightings left open
        if count < GATHER:
            for t in range(count):
                b = aa + idx[t]
                used = _used(W, b, members, weights)
                row[idx[t]] = _decided(_least(members, weights, used, T, R, i), tb[idx[t]], W, b, P, y[n], n)
        else:
            _gathered(W, Wt, every, aa, count, tb, idx, D, first, last, P, y[n], n, row, G, s, s2, s3)
        if tally:
            total = counts[setof[n], aa:z]
            for b in range(B):
                total[b] += row[b]
    if tally:  # the first weightings' hits: a sample's first p add 1 to each
        for c in range(len(hist)):
            running = 0
            for b in range(z - a - 1, -1, -1):
                running += hist[c, b + 1]
                counts[c, a + b] += running
            hist[c, : z - a + 1] = 0


@numba.njit(fastmath={"contract"}, cache=True, nogil=True)
def _gathered(W, Wt, every, a, count, ts, idx, D, first, last, P, label, n, row, G, m, tc, flags) -> None:
    """`_decided`'s verdicts of the weightings a + idx[t] (t < count) on one sample, vectorized over them:
    their weights gathered (G (M, count); every: its rows, 0 .. M - 1) and tolerances (tc), then each
    contender's margin (the same chain of fused multiply-adds) taken of all at once; flags: the most a
    contender got of 2 (beats the label), 1 (within the tolerance of it) and 0."""
    M = Wt.shape[0]
    for k in range(M):
        for t in range(count):
            G[k, t] = Wt[k, a + idx[t]]
    for t in range(count):
        tc[t] = ts[idx[t]]
        flags[t] = 0
    for j in range(first, last):
        _dots(G, every, 0, count, D[j], m)
        for t in range(count):
            flags[t] = max(flags[t], np.float32(not m[t] > tc[t]) + np.float32(m[t] < -tc[t]))
    for t in range(count):
        b = idx[t]
        row[b] = 0 if flags[t] == 2 else (_chain_hit(W, a + b, P, label, n) if flags[t] == 1 else 1)


@numba.njit(cache=True, nogil=True)
def _hits(
    W,
    keys,
    lo,
    hi,
    uses,
    bound,
    scale,
    low,
    high,
    P,
    y,
    cum,
    ustart,
    unsettled,
    E,
    others,
    spread,
    T,
    start,
    D,
    R,
    out,
    sets,
    counts,
):
    """out[n, b] for the weightings lo <= b < hi of W (B, M), sorted by their `keys`, with margins' tolerances from
    `bound` (`_tolerances`); per key q: probabilities P[q], the hits of its settled samples, cum[q, n] those of
    its first n, and its unsettled samples ustart[q] <= i < ustart[q + 1]: sample unsettled[i], its contenders'
    margins D[start[i]:start[i + 1]], their member-wise minimum E[i], and that of all but the first two
    others[i] (of a lone contender: itself; of two, the second), spread[i] the |V - mean V| (float64) of E[i], of
    its first, its second contender's margins and of others[i] (`_wide`'s balls); T:
    the first contenders, the second ones and others, each transposed (M, unsettled); R[i] the margins of all
    but the first two, members x chunks of 8 contenders (padded with inf). A key's few weightings, or
    those that use `uses` members or fewer on average, are scored a weighting at a time (vectorized over its
    samples), the others many at once (over them, sorted by their distance from the key's centre: `_sorted`,
    `_wide`). Where out is empty, the hits are counted instead, per set of samples: counts[s, b] those of the
    samples sets[s - 1] <= n < sets[s] (counts has a row more, discarded: where some verdicts of the samples
    after the last set land)."""
    if hi == lo:
        return
    tally = len(out) == 0
    setof = np.searchsorted(sets, np.arange(len(y)), side="right")  # each sample's set (counts' row)
    tol, chains = np.empty(hi - lo, np.float32), np.empty(hi - lo, np.bool_)
    _tolerances(W, lo, hi, bound, scale, low, high, tol, chains)
    groups = np.concatenate((np.array([lo]), np.flatnonzero(keys[lo + 1 : hi] != keys[lo : hi - 1]) + lo + 1))
    ends = np.append(groups[1:], hi)  # each key's weightings groups[g] <= b < ends[g]
    widest = (ends - groups).max()  # the most `_wide` gathers
    # `_wide`'s: a key's weightings sorted by their distance from its centre (in Ws, Wts, tss, rs: order), its
    # samples' verdicts in that order (local, lout), the samples whose first p weightings their bounds prove right
    # (hist)
    centre, r, rs, tss = np.empty(W.shape[1]), np.empty(widest), np.empty(widest), np.empty(widest, np.float32)
    Ws, Wts = np.empty((widest, W.shape[1]), np.float32), _lined(W.shape[1], widest + LANES)  # (`_wide`'s steps)
    local, hist = np.zeros((len(counts), widest), np.uint32), np.zeros((len(counts), widest + 1), np.int64)
    s, s2 = np.empty(widest + LANES, np.float32), np.empty(widest + LANES, np.float32)  # (`_wide`'s steps write
    s3 = np.empty(widest + LANES, np.float32)  # past widest)
    todo, idx = np.empty(2 * widest, np.uint8), np.empty(widest, np.int64)  # todo: `_wide`'s row too
    scratch = (s, s2, s3, todo, idx, np.empty((W.shape[1], widest), np.float32), hist)  # `_wide`'s
    most = max(1, (ustart[1:] - ustart[:-1]).max())  # the most samples a key leaves unsettled
    lout = np.empty((0 if tally else most, widest), np.uint8)
    # a real margin beyond two tolerances (per unit of weight) is computed beyond one, whatever the path takes it
    ball = (centre, rs, spread, 2 * bound * 1.01 + SLACK * scale)
    least, left = np.empty(most, np.float32), np.empty(most, np.int64)  # `_narrow`'s
    for g in range(len(groups)):
        a, z = groups[g], ends[g]
        q = keys[a]
        ts, i0, i1 = tol[a - lo : z - lo], ustart[q], ustart[q + 1]
        if tally:  # the settled samples' hits, per set
            for c in range(len(sets)):
                counts[c, a:z] += np.uint32(cum[q, sets[c]] - cum[q, sets[c - 1] if c else 0])
        else:
            for n in range(len(y)):  # the unsettled ones overwritten below
                out[n, a:z] = cum[q, n + 1] - cum[q, n]
        if z - a < NARROW or np.count_nonzero(W[a:z]) <= uses * (z - a):
            cuts = np.concatenate((np.zeros(1, np.int64), np.searchsorted(unsettled[i0:i1], sets)))
            _narrow(W, a, z, ts, P[q], y, unsettled, i0, i1, T, R, out, cuts, setof, counts, least, left)
        else:
            B, order = z - a, _sorted(W, a, z, ts, chains[a - lo : z - lo], centre, r, rs, Ws, Wts, tss)
            _wide(
                Ws,
                Wts,
                0,
                B,
                tss,
                P[q],
                y,
                unsettled,
                i0,
                i1,
                E,
                others,
                start,
                D,
                T,
                R,
                lout,
                setof,
                local,
                scratch,
                ball,
            )
            if tally:
                for c in range(len(counts)):
                    for j in range(B):
                        counts[c, a + order[j]] += local[c, j]
                    local[c, :B] = 0
            else:
                for i in range(i0, i1):
                    for j in range(B):
                        out[unsettled[i], a + order[j]] = lout[i - i0, j]
        for b in range(a, z):
            if chains[b - lo]:
                counts[:, b] = 0
                for n in range(len(y)):
                    hit = _chain_hit(W, b, P[q], y[n], n)
                    if tally:
                        counts[setof[n], b] += hit
                    else:
                        out[n, b] = hit


@numba.njit(cache=True, nogil=True)
def _lined(rows: int, width: int) -> np.ndarray:
    """Zeros (rows, width or more) float32 whose rows start on whole cache lines (64 bytes: ALIGN floats)."""
    width = -(-width // ALIGN) * ALIGN
    buffer = np.zeros(rows * width + ALIGN, np.float32)
    skip = (64 - buffer.ctypes.data % 64) % 64 // 4
    return buffer[skip : skip + rows * width].reshape((rows, width))


def threads() -> int:
    """Threads a batch is scored on: NUMBA_NUM_THREADS where set (a pool's workers set 1, `pin_threads`), else
    the cores this process may run on."""
    return int(os.environ.get("NUMBA_NUM_THREADS") or cores())


@functools.cache
def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@functools.cache
def pool(threads: int) -> ThreadPoolExecutor:
    """The threads that score a batch's parts beside the calling thread (the kernel releases the GIL)."""
    return ThreadPoolExecutor(threads, thread_name_prefix="stitchbench-hits")


if hasattr(os, "register_at_fork"):  # a forked child has none of its parent's threads: it starts its own pool
    os.register_at_fork(after_in_child=pool.cache_clear)


class AccuracyHits:
    """Per sample and weighting (N, B, uint8): 1 where the weighted ensemble's most probable class (ties: the
    lowest index) is the label. Of probabilities P (M, N, C), or of several ensembles on the same samples
    (K, M, N, C), each weighting scored by its own (`keys`); labels y (N,) are class indices."""

    def __init__(self, P: np.ndarray, y: np.ndarray):
        P = np.asarray(P, dtype=np.float32)
        self.P = np.ascontiguousarray(P[None] if P.ndim == 3 else P)
        self.y = np.ascontiguousarray(y, dtype=np.int64)
        if self.P.ndim != 4 or not len(self.P) or self.y.shape != self.P.shape[2:3]:  # numba checks no bounds
            raise ValueError(f"probabilities {P.shape} and labels {self.y.shape} do not fit")
        K, M, N, C = self.P.shape
        self.scale = 2 * float(np.abs(self.P).max(initial=0))
        self.bound = SAFETY * (M + 2) * U * self.scale  # per unit of weight sum
        P64 = self.P.astype(np.float64)
        d = np.moveaxis(P64[:, :, np.arange(N), self.y][..., None] - P64, 1, -1)  # (K, N, C, M), exact
        other = np.arange(C) != self.y[:, None]
        contends = other & (d.min(-1) <= self.bound)  # some weighting brings it near the label
        wrong = (other & (d.max(-1) < -self.bound)).any(-1)  # every weighting puts it above the label
        settled = np.where(wrong, 0, np.where(contends.any(-1), -1, 1)).astype(np.int8)  # (K, N)
        cum = np.pad(np.cumsum(settled == 1, axis=1), ((0, 0), (1, 0)))  # (K, N + 1)
        q, n = np.nonzero(settled < 0)  # the unsettled samples, key by key
        ustart, unsettled = np.searchsorted(q, np.arange(K + 1)).astype(np.int64), n.astype(np.int64)
        qq, nn, cc = np.nonzero(contends & (settled < 0)[..., None])  # their contenders, sample by sample
        margins = d[qq, nn, cc]  # (contenders, M)
        order = np.lexsort((margins.mean(1), nn, qq))  # most dangerous (lowest mean margin) first
        margins, qq, nn = margins[order], qq[order], nn[order]
        first = np.flatnonzero(np.r_[True, (qq[1:] != qq[:-1]) | (nn[1:] != nn[:-1])][: len(qq)])
        start = np.r_[first, len(margins)].astype(np.int64)
        count = np.diff(start)
        second = first + (count > 1)  # a lone contender: itself
        beyond = margins.copy()
        beyond[first[count > 1]] = beyond[second[count > 2]] = np.inf  # all but the first two (two: the 2nd)
        with np.errstate(over="ignore", invalid="ignore"):  # margins beyond float32: the chains score such a table
            E, others = (
                np.ascontiguousarray(np.minimum.reduceat(m, first, 0) if len(first) else np.empty((0, M)), np.float32)
                for m in (margins, beyond)
            )
            D = np.ascontiguousarray(margins, dtype=np.float32).reshape(-1, M)
        T = np.ascontiguousarray(np.stack([D[first].T, D[second].T, others.T]))  # (3, M, unsettled)
        with np.errstate(over="ignore", invalid="ignore"):
            V = np.stack([E, *(t.T for t in T)], 1).astype(np.float64)  # (unsettled, 4, M)
            spread = np.linalg.norm(V - V.mean(-1, keepdims=True), axis=-1)  # |V - mean V| (`_wide`'s balls)
        owner = np.repeat(np.arange(len(first)), count)  # each contender's sample, and its place there
        place = np.arange(len(margins)) - start[owner]
        chunks = max(1, -(-(count.max(initial=0) - 2) // 8))  # the contenders after the first two (`_least`)
        rest, later = np.full((len(first), M, chunks, 8), np.inf, np.float32), place >= 2
        rest.reshape(len(first), M, chunks * 8)[owner[later], :, place[later] - 2] = D[later]
        lined = _lined(3 * M, T.shape[2] + LANES).reshape(3, M, -1)  # a step from the last sample reads no further
        lined[..., : T.shape[2]] = T
        T = lined
        self.tables = (self.P, self.y, cum, ustart, unsettled, E, others, spread, T, start, D, rest)  # `_hits`'

    def __call__(self, W: np.ndarray, keys: np.ndarray | None = None) -> np.ndarray:
        """W (B, M) float32 >= 0 (every pruning step needs it), row b scored by ensemble keys[b] (None: all by
        the first); on `threads()` threads where the batch is large enough."""
        out, _, back = self._scored(W, keys, NO_SETS)
        return out if back is None else out[:, back]

    def counts(self, W: np.ndarray, ends, keys: np.ndarray | None = None) -> np.ndarray:
        """The hits of each weighting counted per set of samples (S, B) uint32, set s being the samples
        ends[s - 1] <= n < ends[s] (ends ascending, from 0, the last at most N): counted by the threads that
        scored them, as they scored them."""
        sets = np.asarray(ends)
        if (
            sets.ndim != 1
            or (sets.size and sets.dtype.kind not in "iu")
            or not all(a <= b for a, b in itertools.pairwise([0, *sets.tolist(), len(self.y)]))
        ):
            raise ValueError(f"set ends {ends} are not ascending sample counts up to {len(self.y)}")
        _, counts, back = self._scored(W, keys, sets.astype(np.int64))
        return counts if back is None else counts[:, back]

    def _scored(self, W: np.ndarray, keys: np.ndarray | None, sets: np.ndarray):
        """The hits (N, B) where `sets` is empty, else their counts per set (len(sets), B) (the other of the two
        empty), columns sorted by key; and the order that takes them back to W's (None: W's already). `sets` as
        `counts` checks them (numba checks no bounds)."""
        W = np.ascontiguousarray(W, dtype=np.float32)
        if W.ndim != 2 or W.shape[1] != self.P.shape[1]:
            raise ValueError(f"weightings {W.shape} do not fit probabilities {self.P.shape[1:]}")
        if (W < 0).any():
            raise ValueError("weights must be >= 0")
        order = None
        if keys is None:
            keys = np.zeros(len(W), np.int64)
        else:
            keys = np.asarray(keys, dtype=np.int64)
            if keys.shape != (len(W),) or (len(keys) and (keys.min() < 0 or keys.max() >= len(self.P))):
                raise ValueError(f"keys must be {len(W)} indices of the {len(self.P)} ensembles")
            if (keys[1:] < keys[:-1]).any():  # sorted by key already (a single weighting is): left in place
                order = np.argsort(keys.astype(np.int16) if len(self.P) <= 2**15 else keys, kind="stable")  # radix
                W, keys = W[order], keys[order]
        out = np.empty((0 if len(sets) else len(self.y), len(W)), np.uint8)  # empty: the hits counted instead
        counts = np.zeros((len(sets) + 1, len(W)), np.uint32)
        parts = max(1, min(threads(), len(W) // SPLIT)) if len(W) >= 2 * SPLIT else 1
        uses = float(max(FEW, SPARSE * W.shape[1]))  # `_hits`' (a float: one compiled kernel)
        run = [
            (W, keys, lo, hi, uses, self.bound, self.scale, *RANGE, *self.tables, out, sets, counts)
            for lo, hi in itertools.pairwise(len(W) * i // parts for i in range(parts + 1))
        ]
        if len(run) == 1:
            _hits(*run[0])
        else:  # the calling thread scores the first part
            rest = [pool(len(run) - 1).submit(_hits, *args) for args in run[1:]]
            _hits(*run[0])
            for part in rest:
                part.result()
        if order is None:
            return out, counts[:-1], None
        back = np.empty_like(order)  # the inverse permutation
        back[order] = np.arange(len(order))
        return out, counts[:-1], back
