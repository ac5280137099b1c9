"""Lattices on the weight simplex (pymoo's Das-Dennis construction, imported when first needed)."""

import math

import numpy as np


def simplex_grid(m: int, size: int = 5000) -> np.ndarray:
    """pymoo's Das-Dennis lattice on the m-simplex, as fine as `size` points allow (1,001 points for m = 2)."""
    from pymoo.util.ref_dirs import get_reference_directions

    partitions = 1
    while math.comb(partitions + m, m - 1) <= size:  # the lattice with one more partition still fits
        partitions += 1
    if m == 2:
        partitions = min(partitions, 1000)
    return get_reference_directions("das-dennis", m, n_partitions=partitions)
