"""Fidelities of a tabular instance (torch-free): fidelity f scores each party's val split on the first
ceil(f * N) of its N samples in a fixed order, so a lower fidelity's samples are a prefix of a higher one's,
and every score at fidelity f is exactly the mean over that prefix (the table's scorers, on those samples).
The order is a permutation drawn from `numpy.random.default_rng([ORDER_SEED, crc32(party)])`: fixed by the
party's name and sample count, recorded in no file. Fidelity 1 is the instance itself, bit for bit; the test
split is always scored whole (final fronts are reported on it). An evaluation at fidelity f costs the
fraction of val samples it scores (summed over the parties), so a budget counts full-fidelity equivalents."""

import math
import zlib
from fractions import Fraction

import numpy as np

from stitchbench.errors import InputError

ORDER_SEED = 35  # issue 35


def check_fidelity(fidelity: float) -> float:
    """The fidelity as a float, or an InputError naming it and the valid range (0, 1]."""
    try:
        f = float(fidelity)
    except (TypeError, ValueError) as e:
        raise InputError(f"fidelity {fidelity!r} is not a number; valid fidelities lie in (0, 1]") from e
    if not 0 < f <= 1:
        raise InputError(f"fidelity {fidelity!r} is outside (0, 1]: the fraction of val samples scored")
    return f


def sample_order(party: str, n: int) -> np.ndarray:
    """The fixed order in which fidelities take a party's n val samples."""
    return np.random.default_rng([ORDER_SEED, zlib.crc32(party.encode())]).permutation(n)


def prefix_size(fidelity: float, n: int) -> int:
    """How many of n samples fidelity f scores: ceil(f * n) (at least one)."""
    return max(1, math.ceil(round(check_fidelity(fidelity) * n, 9)))


def prefix(party: str, n: int, fidelity: float) -> np.ndarray:
    """The indices (ascending) of the samples fidelity f scores of a party's n val samples."""
    return np.sort(sample_order(party, n)[: prefix_size(fidelity, n)])


def fidelity_cost(sizes: dict[str, int], fidelity: float) -> Fraction:
    """The cost of one evaluation at `fidelity` in full-fidelity evaluations: the fraction of the parties'
    val samples (`sizes`: party -> N) it scores."""
    return Fraction(sum(prefix_size(fidelity, n) for n in sizes.values()), sum(sizes.values()))


def val_sizes(problem) -> dict[str, int]:
    """Each party's number of val samples where `problem` has fidelities (a tabular instance whose table
    has per-sample scores), else {}."""
    table = getattr(problem, "table", None)
    try:
        return {p: table.val_samples(p) for p in problem.parties()} if table is not None else {}
    except InputError:
        return {}
