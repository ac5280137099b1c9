"""The accuracy of weighted output ensembles, fused: for each weighting and sample, the mixture of the
members' class probabilities and its first argmax, without the (B, N, C) mixture in memory (numba).

Each mixture value is the float32 chain acc = w_k * p_k + acc (one fused multiply-add per member, members in
order, from 0): the bits OpenBLAS's sgemm gives for the same product on the CPUs stitchbench records
(`WeightedScores` scored it so before; a test compares the two on every shipped ensemble-weights table), so a table's
scores stay those it was built with. Imported on first use: numba's import is not paid by loading a table.
"""

import numba
import numpy as np

WIDE = 16  # weightings from which the candidates, not the classes, are the vectorized loop
BLOCK = 1024  # weightings per block of the wide loop (its accumulators stay in cache)


@numba.njit(fastmath={"contract"}, cache=True)
def _hits_wide(Wt: np.ndarray, P: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """out[b, n] = 1.0 where the first argmax over classes of sum_k Wt[k, b] P[k, n, :] is y[n] (vectorized
    over the weightings b)."""
    M, B = Wt.shape
    _, N, C = P.shape
    acc = np.empty(B, np.float32)
    best = np.empty(B, np.float32)
    arg = np.empty(B, np.int64)
    for n in range(N):
        for c in range(C):
            acc[:] = 0
            for k in range(M):
                p = P[k, n, c]
                for b in range(B):
                    acc[b] = Wt[k, b] * p + acc[b]
            if c == 0:
                best[:] = acc
                arg[:] = 0
            else:
                for b in range(B):
                    if acc[b] > best[b]:
                        best[b] = acc[b]
                        arg[b] = c
        for b in range(B):
            out[b, n] = 1.0 if arg[b] == y[n] else 0.0


@numba.njit(fastmath={"contract"}, cache=True)
def _hits_narrow(W: np.ndarray, P: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """As `_hits_wide` for a few weightings W (B, M): vectorized over the classes."""
    B, M = W.shape
    _, N, C = P.shape
    acc = np.empty(C, np.float32)
    for b in range(B):
        for n in range(N):
            acc[:] = 0
            for k in range(M):
                w = W[b, k]
                for c in range(C):
                    acc[c] = w * P[k, n, c] + acc[c]
            arg = 0
            for c in range(1, C):
                if acc[c] > acc[arg]:
                    arg = c
            out[b, n] = 1.0 if arg == y[n] else 0.0


def accuracy_hits(W: np.ndarray, P: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per weighting and sample (B, N): 1.0 where the weighted ensemble's most probable class (ties: the
    lowest index) is the label. W (B, M) float32 >= 0, P (M, N, C) float32, y (N,) class indices."""
    W, P = np.ascontiguousarray(W, dtype=np.float32), np.ascontiguousarray(P, dtype=np.float32)
    y = np.ascontiguousarray(y, dtype=np.int64)
    if W.ndim != 2 or P.ndim != 3 or W.shape[1] != P.shape[0] or y.shape != P.shape[1:2]:  # numba checks no bounds
        raise ValueError(f"weightings {W.shape}, probabilities {P.shape} and labels {y.shape} do not fit")
    out = np.empty((len(W), P.shape[1]))
    if len(W) < WIDE:
        _hits_narrow(W, P, y, out)
        return out
    for i in range(0, len(W), BLOCK):
        _hits_wide(np.ascontiguousarray(W[i : i + BLOCK].T), P, y, out[i : i + BLOCK])
    return out
