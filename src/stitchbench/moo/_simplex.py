"""The loops behind `_scoring`'s weightings (numba): switches applied, rows checked, rows put on the simplex,
each in one pass over a batch where numpy takes several. Every element's arithmetic is numpy's (the same
bits). Imported on first use, as `_mixture` is: loading a table pays no numba import."""

import numba
import numpy as np

DECIMALS = 1e12  # np.round(x, 12): x * 1e12, rint, / 1e12 (1e12 exact in float64)


@numba.njit(cache=True, nogil=True)
def switched(columns: np.ndarray, out: np.ndarray) -> None:
    """out (B, M): the weights columns[:, :M] times their switches columns[:, M:] > 0; a row whose weights
    are then all 0 but that has a switch on: its switches (1 per member on, else 0)."""
    B, M = out.shape
    for b in range(B):
        empty, on = True, False
        for k in range(M):
            out[b, k] = columns[b, k] * (1.0 if columns[b, M + k] > 0 else 0.0)
            empty &= out[b, k] == 0
            on |= columns[b, M + k] > 0
        if empty and on:
            for k in range(M):
                out[b, k] = 1.0 if columns[b, M + k] > 0 else 0.0


@numba.njit(cache=True, nogil=True)
def shares(W: np.ndarray, total: np.ndarray, out: np.ndarray) -> None:
    """out[b] = W[b] / total[b] rounded to 12 decimals as np.round rounds; a row whose total is not > 0: 1 / M,
    so rounded."""
    B, M = W.shape
    even = np.rint(1.0 / M * DECIMALS) / DECIMALS
    for b in range(B):
        t = total[b]
        for k in range(M):
            out[b, k] = np.rint(W[b, k] / t * DECIMALS) / DECIMALS if t > 0 else even


@numba.njit(cache=True, nogil=True)
def scanned(W: np.ndarray, empty: np.ndarray) -> bool:
    """Whether every weight is finite and >= 0; empty[b]: whether row b is all 0 (where they are). Every weight
    looked at, without a branch (vectorized)."""
    B, M = W.shape
    ok = True
    for b in range(B):
        zero = True
        for k in range(M):
            w = W[b, k]
            ok &= (w >= 0) & (w < np.inf)  # a NaN is neither
            zero &= w == 0
        empty[b] = zero
    return ok
