"""The claims' paired bootstrap and their three-valued verdicts.

A claim's condition is tested on resamples of the test samples: every party's test set drawn with
replacement, the same draw for everything compared on it (paired), and over zoo seeds where there are several.
The fraction of resamples on which the condition holds decides: HOLDS at >= LEVEL, FAILS at <= 1 - LEVEL,
INCONCLUSIVE between. A fraction within NEAR Monte Carlo standard errors of either cut is re-estimated with
RESAMPLES_NEAR resamples; one still that close is INCONCLUSIVE (another bootstrap seed could flip it).
"""

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
RESAMPLES_NEAR = 20_000
LEVEL = 0.95
NEAR = 3.0  # Monte Carlo standard errors
BOOTSTRAP_SEED = 0
BLOCK = 250  # resamples scored at once
KEPT = 1 << 25  # counts of a draw kept for the next check (64 MB where test sets are under 65,536); 4 kept
INTERVAL = (2.5, 97.5)  # the percentiles of `interval`: a 95% interval

HOLDS, FAILS, INCONCLUSIVE, NOT_TESTED, NOT_APPLICABLE = "HOLDS", "FAILS", "INCONCLUSIVE", "NOT TESTED", "N/A"

# One resample block: per party, the weights of its test samples (N_party, b), each column summing to 1; per zoo
# seed, its weight (K, b) summing to 1. A condition maps a block to whether it holds on each resample (b,).
Condition = Callable[[list[np.ndarray], np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Fraction:
    """The fraction of resamples on which a condition holds, with its Monte Carlo standard error."""

    value: float
    resamples: int

    @property
    def se(self) -> float:
        return float(np.sqrt(self.value * (1 - self.value) / self.resamples))

    def near(self, cut: float) -> bool:
        return abs(self.value - cut) <= NEAR * self.se and self.se > 0


def drawn(sizes: Sequence[int], seeds: int, resamples: int) -> Iterator[tuple[list[np.ndarray], np.ndarray]]:
    """The resampling draw, block by block: each party's counts (b, N) of its test samples drawn with
    replacement, and the zoo seeds' weights (K, b); the same for every condition on parties of `sizes`."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    for start in range(0, resamples, BLOCK):
        b = min(BLOCK, resamples - start)
        counts = [rng.multinomial(n, np.full(n, 1 / n), size=b).astype(np.min_scalar_type(n)) for n in sizes]
        zoo = rng.multinomial(seeds, np.full(seeds, 1 / seeds), size=b).T / seeds if seeds > 1 else np.ones((1, b))
        zoo.setflags(write=False)  # kept: no condition may change it for the next
        yield counts, zoo


@functools.lru_cache(maxsize=4)
def kept(sizes: tuple[int, ...], seeds: int, resamples: int) -> tuple[tuple[list[np.ndarray], np.ndarray], ...]:
    return tuple(drawn(sizes, seeds, resamples))


def draw(sizes: Sequence[int], seeds: int, resamples: int) -> Iterable[tuple[list[np.ndarray], np.ndarray]]:
    """`drawn`, kept where it is at most KEPT counts: numpy's multinomial is most of a run's claims check, and
    every check of a scenario draws the same (paired)."""
    if resamples * sum(sizes) > KEPT:
        return drawn(sizes, seeds, resamples)
    return kept(tuple(sizes), seeds, resamples)


def resampled(condition: Condition, sizes: Sequence[int], seeds: int = 1, resamples: int = RESAMPLES) -> Fraction:
    """The fraction of `resamples` paired resamples (test samples of parties of `sizes`; `seeds` zoo seeds drawn
    with replacement where there are several) on which `condition` holds."""
    held = 0
    for counts, zoo in draw(sizes, seeds, resamples):
        parties = [c.T / n for c, n in zip(counts, sizes, strict=True)]
        held += int(np.count_nonzero(condition(parties, zoo)))
    return Fraction(held / resamples, resamples)


def fraction(condition: Condition, sizes: Sequence[int], seeds: int = 1) -> Fraction:
    """`resampled` with RESAMPLES, re-estimated with RESAMPLES_NEAR where it is near either cut."""
    f = resampled(condition, sizes, seeds)
    if f.near(LEVEL) or f.near(1 - LEVEL):
        f = resampled(condition, sizes, seeds, RESAMPLES_NEAR)
    return f


def verdict(f: Fraction) -> str:
    """HOLDS, FAILS or INCONCLUSIVE from a bootstrap fraction (see the module's docstring)."""
    if f.value >= LEVEL and not f.near(LEVEL):
        return HOLDS
    if f.value <= 1 - LEVEL and not f.near(1 - LEVEL):
        return FAILS
    return INCONCLUSIVE


def combined(verdicts: Sequence[str]) -> str:
    """The verdict of checks that must all hold: FAILS if any fails, HOLDS if every tested one holds,
    INCONCLUSIVE otherwise; NOT TESTED when none was tested (N/A when none applies)."""
    tested = [v for v in verdicts if v in (HOLDS, FAILS, INCONCLUSIVE)]
    if not tested:
        return NOT_APPLICABLE if verdicts and all(v == NOT_APPLICABLE for v in verdicts) else NOT_TESTED
    if FAILS in tested:
        return FAILS
    return HOLDS if all(v == HOLDS for v in tested) else INCONCLUSIVE


def interval(x: np.ndarray, resamples: int = RESAMPLES) -> tuple[float, float]:
    """The INTERVAL percentile interval of the mean of per-sample values x (N,), from the claims' resampling draw
    (the same draw for every x of one length: paired)."""
    n = len(x)
    means = [x @ (counts.T / n) for [counts], _ in draw([n], 1, resamples)]
    lo, hi = np.percentile(np.concatenate(means), INTERVAL)
    return float(lo), float(hi)
