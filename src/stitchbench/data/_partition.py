"""Partitioners: split one source's samples into disjoint parties."""

from collections.abc import Callable

import numpy as np

from stitchbench.errors import InputError, unknown

Partitioner = Callable[..., list[np.ndarray]]


def iid(labels: np.ndarray, parts: int, rng: np.random.Generator, alpha: float = 1.0) -> list[np.ndarray]:
    """Uniformly random, equal-sized parts (`alpha` is ignored)."""
    return [np.sort(p) for p in np.array_split(rng.permutation(len(labels)), parts)]


def dirichlet(
    labels: np.ndarray, parts: int, rng: np.random.Generator, alpha: float = 0.5, min_size: int = 10
) -> list[np.ndarray]:
    """Label skew: each class is divided among the parts in proportions drawn from Dirichlet(alpha)."""
    for _ in range(100):
        owner = np.empty(len(labels), dtype=np.int64)
        for c in np.unique(labels):
            idx = rng.permutation(np.flatnonzero(labels == c))
            cuts = (np.cumsum(rng.dirichlet(np.full(parts, alpha)))[:-1] * len(idx)).astype(int)
            for part, chunk in enumerate(np.split(idx, cuts)):
                owner[chunk] = part
        sizes = np.bincount(owner, minlength=parts)
        if sizes.min() >= min_size:
            return [np.flatnonzero(owner == p) for p in range(parts)]
    raise InputError(
        f"Dirichlet partition with alpha={alpha} left a party with fewer than {min_size} samples "
        f"in 100 draws; use a larger alpha or fewer parties"
    )


def quantity(
    labels: np.ndarray, parts: int, rng: np.random.Generator, alpha: float = 1.0, min_size: int = 10
) -> list[np.ndarray]:
    """Quantity skew: part sizes in proportions drawn from Dirichlet(alpha), labels IID."""
    n = len(labels)
    for _ in range(100):
        cuts = (np.cumsum(rng.dirichlet(np.full(parts, alpha)))[:-1] * n).astype(int)
        chunks = np.split(rng.permutation(n), cuts)
        if min(len(c) for c in chunks) >= min_size:
            return [np.sort(c) for c in chunks]
    raise InputError(f"quantity partition with alpha={alpha} left a party with fewer than {min_size} samples")


PARTITIONERS: dict[str, Partitioner] = {"iid": iid, "dirichlet": dirichlet, "quantity": quantity}


def check_partition(name: str, alpha: float) -> None:
    if not isinstance(name, str) or name not in PARTITIONERS:
        raise unknown("partitioner", name, PARTITIONERS)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not alpha > 0:
        raise InputError(f"alpha must be a number > 0, got {alpha!r}")


def partition(name: str, labels: np.ndarray, parts: int, rng: np.random.Generator, alpha: float) -> list[np.ndarray]:
    check_partition(name, alpha)
    if parts < 1 or parts > len(labels):
        raise InputError(f"cannot split {len(labels)} samples into {parts} parties")
    return PARTITIONERS[name](labels, parts, rng, alpha=alpha)
