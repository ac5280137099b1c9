"""Stratified train/val/test splits."""

import math

import numpy as np

from stitchbench.errors import InputError

SPLITS = ("train", "val", "test")


def check_fractions(fractions: tuple[float, ...]) -> tuple[float, float, float]:
    numbers = isinstance(fractions, list | tuple) and all(
        isinstance(f, int | float) and not isinstance(f, bool) and math.isfinite(f) for f in fractions
    )
    if not numbers or len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise InputError(
            "split fractions must be three positive numbers (train, val, test) summing to 1, "
            f"e.g. [0.6, 0.2, 0.2]; got {fractions!r}"
        )
    return tuple(float(f) for f in fractions)  # type: ignore[return-value]


def stratified_split(
    labels: np.ndarray, fractions: tuple[float, float, float], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per class, shuffle and cut by `fractions` (largest remainder), so each split keeps the class mix."""
    fractions = check_fractions(fractions)
    out: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        exact = np.array(fractions) * len(idx)
        counts = np.floor(exact).astype(int)
        for i in np.argsort(-(exact - counts), kind="stable")[: len(idx) - counts.sum()]:
            counts[i] += 1
        for s, chunk in zip(SPLITS, np.split(idx, np.cumsum(counts)[:-1]), strict=True):
            out[s].append(chunk)
    result = {s: np.sort(np.concatenate(v)) for s, v in out.items()}
    empty = [s for s, v in result.items() if len(v) == 0]
    if empty:
        raise InputError(f"{len(labels)} samples are too few for a non-empty {empty[0]!r} split")
    return result


def slab_split(
    positions: np.ndarray, fractions: tuple[float, float, float], rng: np.random.Generator, slab: int, gap: int
) -> dict[str, np.ndarray]:
    """Split slices of a volume by slab, not by slice, so neighbouring slices do not leak across splits.

    Slices are grouped into slabs of `slab` consecutive positions; whole slabs are shuffled and cut by
    `fractions` (largest remainder); where a slab's neighbour went to another split, the `gap` slices at
    that border are dropped. Returns indices into `positions` per split.
    """
    fractions = check_fractions(fractions)
    slab_of = (positions - positions.min()) // slab
    slabs = np.unique(slab_of)
    exact = np.array(fractions) * len(slabs)
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: len(slabs) - counts.sum()]:
        counts[i] += 1
    order = rng.permutation(slabs)
    assigned = {int(s): k for k, part in enumerate(np.split(order, np.cumsum(counts)[:-1])) for s in part}
    keep = np.ones(len(positions), bool)
    for s in slabs:
        members = np.flatnonzero(slab_of == s)
        members = members[np.argsort(positions[members])]
        if assigned.get(int(s) + 1, assigned[int(s)]) != assigned[int(s)]:
            keep[members[len(members) - gap :]] = False
    out = {name: np.flatnonzero(keep & (np.vectorize(assigned.get)(slab_of) == k)) for k, name in enumerate(SPLITS)}
    empty = [s for s, v in out.items() if len(v) == 0]
    if empty:
        raise InputError(f"{len(slabs)} slabs of {slab} slices are too few for a non-empty {empty[0]!r} split")
    return out
