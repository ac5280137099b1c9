"""The claims' paired bootstrap and their three-valued verdicts.

A claim's condition is tested on resamples of the test samples: every party's test set drawn with
replacement, the same draw for everything compared on it (paired), and over zoo seeds where there are several.
The fraction of resamples on which the condition holds decides: HOLDS at >= LEVEL, FAILS at <= 1 - LEVEL,
INCONCLUSIVE between. A fraction within NEAR Monte Carlo standard errors of either cut is re-estimated with
RESAMPLES_NEAR resamples; one still that close is INCONCLUSIVE (another bootstrap seed could flip it).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
RESAMPLES_NEAR = 20_000
LEVEL = 0.95
NEAR = 3.0  # Monte Carlo standard errors
BOOTSTRAP_SEED = 0
BLOCK = 250  # resamples scored at once
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


def resampled(condition: Condition, sizes: Sequence[int], seeds: int = 1, resamples: int = RESAMPLES) -> Fraction:
    """The fraction of `resamples` paired resamples (test samples of parties of `sizes`; `seeds` zoo seeds drawn
    with replacement where there are several) on which `condition` holds."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    held = 0
    for start in range(0, resamples, BLOCK):
        b = min(BLOCK, resamples - start)
        parties = [rng.multinomial(n, np.full(n, 1 / n), size=b).T / n for n in sizes]
        zoo = rng.multinomial(seeds, np.full(seeds, 1 / seeds), size=b).T / seeds if seeds > 1 else np.ones((1, b))
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
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    n = len(x)
    means = []
    for start in range(0, resamples, BLOCK):
        b = min(BLOCK, resamples - start)
        means.append(x @ (rng.multinomial(n, np.full(n, 1 / n), size=b).T / n))
    lo, hi = np.percentile(np.concatenate(means), INTERVAL)
    return float(lo), float(hi)
