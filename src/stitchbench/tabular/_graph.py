"""The table of a tabular stitch graph: every raw decision of a k-point subset mapped to its canonical
candidate, and every canonical candidate's objective values per split. Torch-free (numpy only).

Raw decisions are rows in the numeric encoding of the subset's variables: `ab.<p>` for the k points, then
`ba.<p>`, then `output` (0, 1, 2 for A, B, avg). The *raw decision index* of a row is
`sum_b row[b] * 2**b + row[2k] * 4**k` over its 2k switch bits b, so indices run over 0 .. 3 * 4**k - 1.

Two forms. `GraphTable` maps every raw decision to its candidate through a stored array (3 * 4**k entries:
any network). `ChainGraphTable` is for *chains*, networks whose live value at every point is the point
itself: there a decision's canonical form follows from its bits alone (`chain_canonical`), so the table
stores only the sorted canonical indices ((k + 3) * 2**k of them) and finds a row by binary search, and
spaces of 3 * 4**15 > 10**9 raw decisions fit; its per-sample val scores are bits (accuracy).
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache, partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from stitchbench.errors import InputError
from stitchbench.moo._front import nondominated

from ._files import column, malformed, read, read_again, value_columns, write


def raw_rows(k: int) -> np.ndarray:
    """Every raw decision of a k-point subset, row i having raw decision index i: (3 * 4**k, 2k + 1)."""
    return rows_of(np.arange(3 * 4**k), k)


def decision_index(matrix: np.ndarray, k: int) -> np.ndarray:
    """The raw decision index of each validated row (see the module docstring)."""
    m = np.asarray(matrix).astype(np.int64)
    return m[:, : 2 * k] @ (np.int64(1) << np.arange(2 * k, dtype=np.int64)) + m[:, 2 * k] * 4**k


def rows_of(index: np.ndarray, k: int) -> np.ndarray:
    """The rows of raw decision indices (the inverse of `decision_index`): (n, 2k + 1) floats."""
    index = np.asarray(index, dtype=np.int64)
    bits = (index[:, None] % 4**k >> np.arange(2 * k)) & 1
    return np.concatenate([bits, (index // 4**k)[:, None]], axis=1).astype(float)


def _rule(need_a, need_b, ab, ba):
    """One point of the chain rule, walking back: the switches kept and what is needed before the point."""
    ab, ba = ab & need_b, ba & need_a
    return ab, ba, (need_a & ~ba) | ab, (need_b & ~ab) | ba


def _nibbles() -> np.ndarray:
    """The rule over 4 points at once: [needs after (1 A, 2 B, 3 both), ab bits, ba bits] -> the kept ab bits,
    the kept ba bits and the needs before them, packed as ab | ba << 4 | needs << 8."""
    table = np.zeros((4, 16, 16), dtype=np.int64)
    for needs, ab, ba in np.ndindex(4, 16, 16):
        need_a, need_b, kept_ab, kept_ba = np.bool_(needs & 1), np.bool_(needs & 2), 0, 0
        for j in reversed(range(4)):
            a, b, need_a, need_b = _rule(need_a, need_b, np.bool_(ab >> j & 1), np.bool_(ba >> j & 1))
            kept_ab, kept_ba = kept_ab | int(a) << j, kept_ba | int(b) << j
        table[needs, ab, ba] = kept_ab | kept_ba << 4 | (int(need_a) | int(need_b) << 1) << 8
    return table


NIBBLES = _nibbles()


def chain_canonical(matrix: np.ndarray, k: int) -> np.ndarray:
    """The raw decision index of each validated row's canonical form in a chain: walking back from the
    output, a switch into a member stays on only where that member's value is needed after it (A's where the
    output reads A, B's where it reads B, both for avg), and a member's value is needed before a point where
    it is needed after it unswitched, or where the other member takes it (stitched) there. Four points per
    step, through a table of the rule (`NIBBLES`)."""
    m = np.asarray(matrix).astype(np.int64)
    powers = np.int64(1) << np.arange(k, dtype=np.int64)
    ab, ba, output = m[:, :k] @ powers, m[:, k : 2 * k] @ powers, m[:, 2 * k]
    needs = np.where(output == 2, 3, output + 1)
    kept = np.zeros(len(m), dtype=np.int64)
    for shift in range(4 * ((k - 1) // 4), -1, -4):
        step = NIBBLES[needs, ab >> shift & 15, ba >> shift & 15]
        kept |= (step & 15) << shift | (step >> 4 & 15) << (k + shift)
        needs = step >> 8
    return kept + output * 4**k


@cache
def chain_candidates(k: int) -> np.ndarray:
    """Every canonical decision of a k-point chain, as sorted raw decision indices ((k + 3) * 2**k): built
    back from each output, a point's switch pair kept where the rule keeps both its switches (made once per
    k, read-only: every table of k points, and each of its fidelity views, checks its rows against it)."""
    index = np.arange(3, dtype=np.int64) * 4**k
    need_a, need_b = index != 4**k, index != 0
    for j in reversed(range(k)):
        parts = []
        for ab, ba in ((False, False), (True, False), (False, True), (True, True)):
            kept_ab, kept_ba, before_a, before_b = _rule(need_a, need_b, ab, ba)
            ok = (kept_ab == ab) & (kept_ba == ba)
            parts.append((index[ok] + (int(ab) << j) + (int(ba) << (k + j)), before_a[ok], before_b[ok]))
        index, need_a, need_b = (np.concatenate(x) for x in zip(*parts, strict=True))
    index.sort()
    index.flags.writeable = False
    return index


def pack_bits(samples: np.ndarray) -> np.ndarray:
    """Per-sample scores of 0 or 1 (n, N), packed 8 to a byte (n, ceil(N / 8)); other scores are refused."""
    if not ((samples == 0) | (samples == 1)).all():
        raise InputError("per-sample scores other than 0 and 1 (not accuracy) cannot be stored as bits")
    return np.packbits(samples == 1, axis=1)


MAX_CHAIN_K = 20  # a chain table's points, as far as its format goes (builds stop at 15: their memory)
POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


class _GraphTableBase:
    """What both forms share: the exact front, the variables' check, their files."""

    family: ClassVar[str] = "stitch-graph"
    scores: dict[str, np.ndarray]

    def front_kind(self) -> str:
        return "exact"

    def front(self, objectives: list[str | None], maximize: np.ndarray, split: str) -> np.ndarray:
        """The exact front: the non-dominated objective vectors of all candidates."""
        return nondominated(self._split_scores(split), maximize)

    def check_variables(self, variables: list) -> None:
        if len(variables) != 2 * self.k + 1:
            raise InputError(f"{len(variables)} variables for a graph table over {self.k} points ({2 * self.k + 1})")

    def stitch_alpha(self, matrix: np.ndarray) -> None:
        return None  # switches, not a mixing alpha: claim 4 is about stitch-ensembles

    def claim_pools(self, parties: list[str]) -> None:
        return None

    def _split_scores(self, split: str) -> np.ndarray:
        if split not in self.scores:
            raise InputError(f"graph table has no split {split!r}; it has {', '.join(self.scores)}")
        return self.scores[split]

    def write(self, directory: Path) -> dict[str, Any]:
        """One file per array (`graph.<array>.parquet`: `value` for 1-D, `c.<j>` for 2-D arrays)."""
        arrays = self.to_arrays()
        for name, a in arrays.items():
            a = np.asarray(a)
            columns = {"value": a} if a.ndim == 1 else {f"c.{j}": a[:, j] for j in range(a.shape[1])}
            write(Path(directory) / f"graph.{name}.parquet", columns)
        return {"graph_arrays": list(arrays)}

    @classmethod
    def read(cls, directory: Path, manifest: dict[str, Any]) -> "GraphTable | ChainGraphTable":
        """The table of an export; a chain's per-sample bits (tens of MB) are read when first needed (by a
        fidelity or an export: a lookup never reads them), their file verified again then."""
        arrays: dict[str, Any] = {}
        for name in manifest["graph_arrays"]:
            file = f"graph.{name}.parquet"
            if name.startswith("bits."):
                arrays[name] = partial(stacked_again, directory, manifest, file)
            else:
                arrays[name] = stacked(read(directory, manifest, file))
        return cls.from_arrays(arrays)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "GraphTable | ChainGraphTable":
        """The table of either form (a chain's holds `canonical`)."""
        form = ChainGraphTable if "canonical" in arrays else GraphTable
        return form._from_arrays(arrays)


@dataclass
class GraphTable(_GraphTableBase):
    """`decision_to_candidate[i]`: the candidate row of raw decision i; `candidates`: the canonical rows
    (n_cand, 2k + 1); `scores[split]`: their objective values (n_cand, n_objectives); `samples[party]`: their
    per-sample scores on the party's val split (n_cand, N) float32, whose mean is its score: what fidelities
    read (tables of format 1 have none)."""

    decision_to_candidate: np.ndarray
    candidates: np.ndarray
    scores: dict[str, np.ndarray]
    samples: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        d2c, cands = self.decision_to_candidate, self.candidates
        if cands.ndim != 2 or cands.shape[1] % 2 != 1:
            raise InputError(f"graph table: candidates have shape {cands.shape}; expected (n, 2k + 1)")
        if d2c.shape != (3 * 4**self.k,) or d2c.dtype.kind not in "iu":
            raise InputError(f"graph table: decision_to_candidate {d2c.shape} {d2c.dtype}; expected ({3 * 4**self.k},)")
        if len(d2c) and not (d2c.min() >= 0 and d2c.max() < len(cands)):
            raise InputError("graph table: decision_to_candidate points outside the candidates")
        for split, s in self.scores.items():
            if s.ndim != 2 or len(s) != len(cands):
                raise InputError(f"graph table: {split} scores have shape {s.shape}; expected ({len(cands)}, m)")
        for party, s in self.samples.items():
            if s.ndim != 2 or len(s) != len(cands):
                raise InputError(f"graph table: {party}'s samples have shape {s.shape}; expected ({len(cands)}, N)")

    @property
    def k(self) -> int:
        """The number of points in the subset."""
        return self.candidates.shape[1] // 2

    def lookup(self, matrix: np.ndarray, objectives: list[str | None], split: str) -> np.ndarray:
        """Objective values of validated rows (n, 2k + 1), vectorized: (n, n_objectives) (the table holds
        every objective's value, in the problem's order)."""
        return self._split_scores(split)[self.decision_to_candidate[decision_index(matrix, self.k)]]

    def val_samples(self, party: str) -> int:
        if party not in self.samples:
            raise InputError(
                f"this stitch-graph table has no per-sample scores of {party!r} (it has: "
                f"{', '.join(self.samples) or 'none'}), so it has no fidelities; rebuild it (stitch-graph table "
                "format 2 has them)"
            )
        return self.samples[party].shape[1]

    def restrict(self, keep: dict[str, np.ndarray], objectives: list[str | None]) -> "GraphTable":
        """This table scoring each party's val split on the samples `keep[party]` (see `fidelity`): each
        party's score the mean of those samples' scores."""
        val = self.scores["val"].copy()
        for j, party in enumerate(objectives):
            if party is not None:
                val[:, j] = self.samples[party][:, keep[party]].astype(np.float64).mean(1)
        return replace(self, scores={**self.scores, "val": val})

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "decision_to_candidate": self.decision_to_candidate,
            "candidates": self.candidates,
            **{f"scores.{s}": v for s, v in self.scores.items()},
            **{f"samples.{p}": v for p, v in self.samples.items()},
        }

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray]) -> "GraphTable":
        missing = {"decision_to_candidate", "candidates"} - set(arrays)
        if missing:
            raise InputError(f"graph table: missing arrays {sorted(missing)}; got {sorted(arrays)}")
        return cls(
            np.asarray(arrays["decision_to_candidate"]).astype(np.int64),
            np.asarray(arrays["candidates"], dtype=float),
            {s: np.asarray(v, dtype=float) for s, v in named(arrays, "scores.").items()},
            {p: np.ascontiguousarray(v) for p, v in named(arrays, "samples.").items()},
        )


@dataclass
class ChainGraphTable(_GraphTableBase):
    """A chain's table: `canonical`, the sorted raw decision index of every canonical candidate (its rows'
    order); `k` points; `scores[split]` per candidate (n_cand, n_objectives); `bits[party]`, its per-sample
    val scores (0 or 1) packed 8 to a byte (`numpy.packbits`, (n_cand, ceil(N / 8))), `sample_counts[party]`
    the N; their mean is its score (what fidelities read)."""

    canonical: np.ndarray
    k: int
    scores: dict[str, np.ndarray]
    bits: Mapping[str, Any] = field(default_factory=dict)  # arrays, or loaders of them (`Deferred`)
    sample_counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        c, k = self.canonical, self.k
        if not 1 <= k <= MAX_CHAIN_K or c.dtype.kind not in "iu" or not np.array_equal(c, chain_candidates(k)):
            raise InputError(
                f"chain graph table: canonical must be every canonical decision of a {k}-point chain, sorted "
                f"(chain_candidates; k in 1..{MAX_CHAIN_K}); got {len(c)} of dtype {c.dtype}"
            )
        for split, s in self.scores.items():
            if s.ndim != 2 or len(s) != len(c):
                raise InputError(f"graph table: {split} scores have shape {s.shape}; expected ({len(c)}, m)")
        if set(self.bits) != set(self.sample_counts):
            raise InputError(
                f"chain graph table: bits of {sorted(self.bits)} but sample counts of {sorted(self.sample_counts)}"
            )
        if not isinstance(self.bits, Deferred):
            self.bits = Deferred(self.bits, self.checked_bits)

    def checked_bits(self, party: str, b: np.ndarray) -> np.ndarray:
        expected = (len(self.canonical), -(-self.sample_counts[party] // 8))
        if b.shape != expected or b.dtype != np.uint8:
            raise InputError(f"chain graph table: {party}'s bits {b.shape} {b.dtype}; expected {expected} uint8")
        return b

    @property
    def candidates(self) -> np.ndarray:
        """The canonical rows (n_cand, 2k + 1)."""
        return rows_of(self.canonical, self.k)

    def lookup(self, matrix: np.ndarray, objectives: list[str | None], split: str) -> np.ndarray:
        """Objective values of validated rows: each canonicalized by its bits, found by binary search (the
        table holds every canonical decision: checked when it is made)."""
        return self._split_scores(split)[np.searchsorted(self.canonical, chain_canonical(matrix, self.k))]

    def val_samples(self, party: str) -> int:
        if party not in self.sample_counts:  # the parties of the bits (checked when made), none of them read
            raise InputError(
                f"this stitch-graph table has no per-sample scores of {party!r} (it has: "
                f"{', '.join(self.bits) or 'none'})"
            )
        return self.sample_counts[party]

    def restrict(self, keep: dict[str, np.ndarray], objectives: list[str | None]) -> "ChainGraphTable":
        """This table scoring each party's val split on the samples `keep[party]`: each candidate's count of
        right ones among them (a popcount of its bits under their mask) over their number."""
        val = self.scores["val"].copy()
        for j, party in enumerate(objectives):
            if party is not None:
                mask = np.zeros(self.sample_counts[party], dtype=bool)
                mask[keep[party]] = True
                right = POPCOUNT[self.bits[party] & np.packbits(mask)].sum(1, dtype=np.int64)
                val[:, j] = right / len(keep[party])
        return replace(self, scores={**self.scores, "val": val})

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "canonical": np.array(self.canonical),  # a writable copy (torch takes no read-only array)
            "k": np.array([self.k], dtype=np.int64),
            **{f"scores.{s}": v for s, v in self.scores.items()},
            **{f"bits.{p}": v for p, v in self.bits.items()},
            **{f"sample_count.{p}": np.array([n], dtype=np.int64) for p, n in self.sample_counts.items()},
        }

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray]) -> "ChainGraphTable":
        if "k" not in arrays:
            raise InputError(f"chain graph table: missing array 'k'; got {sorted(arrays)}")
        return cls(
            np.asarray(arrays["canonical"]).astype(np.int64),
            int(np.asarray(arrays["k"])[0]),
            {s: np.asarray(v, dtype=float) for s, v in named(arrays, "scores.").items()},
            {
                k.removeprefix("bits."): v if callable(v) else np.asarray(v)  # uint8 (`checked_bits`)
                for k, v in arrays.items()
                if k.startswith("bits.")
            },
            {p: int(v[0]) for p, v in named(arrays, "sample_count.").items()},
        )


def stacked(t: pa.Table) -> np.ndarray:
    """A graph array's file as its array: `value` (1-D) or the columns `c.<j>` (2-D), stacked column by column:
    a Fortran-ordered array, no strided copy (bits: 10^7 bytes and more)."""
    cols = value_columns(t, "c.")
    return np.stack([column(t, c) for c in cols]).T if cols else column(t, "value")


def stacked_again(directory: Path, manifest: dict[str, Any], file: str) -> np.ndarray:
    """`stacked` of a file read when first needed (`read_again`), an error of its content an InputError."""
    with malformed(directory):
        return stacked(read_again(directory, manifest, file))


class Deferred(Mapping):
    """Named arrays, each given or made by its loader (a callable) on first use, and checked by `check(name,
    array)` once it exists (given ones at once); then kept."""

    def __init__(self, items: Mapping[str, Any], check: Callable[[str, np.ndarray], np.ndarray]):
        self._names, self._check = list(items), check
        self._loaders = {k: v for k, v in items.items() if callable(v)}
        self._arrays = {k: check(k, v) for k, v in items.items() if not callable(v)}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._arrays:
            self._arrays[name] = self._check(name, self._loaders[name]())
        return self._arrays[name]

    def __contains__(self, name: object) -> bool:  # Mapping's would load it
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def named(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The arrays whose name starts with `prefix` (`scores.val`, ...), by the rest of their name."""
    return {k.removeprefix(prefix): np.asarray(v) for k, v in arrays.items() if k.startswith(prefix)}
