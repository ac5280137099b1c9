"""The scenario registry and the shipped scenarios."""

import numpy as np
import torch

from stitchbench.errors import InputError
from stitchbench.registry import Registry

from .partition import partition
from .scenario import Party, Scenario, Split
from .sources import load_source
from .splits import SPLITS, check_fractions, stratified_split

SCENARIOS: Registry[Scenario] = Registry("scenario")

DIGITS_RECIPE = {"optimizer": "adam", "lr": 2e-3, "epochs": 6, "batch_size": 32, "weight_decay": 0.0}


def make_parties(
    sources: list[str],
    per_source: int,
    partitioner: str,
    alpha: float,
    split: tuple[float, float, float],
    seed: int,
) -> tuple[Party, ...]:
    """Split each source into `per_source` parties, then each party into stratified train/val/test."""
    check_fractions(split)
    rng = np.random.default_rng(seed)
    parties = []
    for source in sources:
        data = load_source(source)
        labels = data.y.numpy()
        chunks = partition(partitioner, labels, per_source, rng, alpha) if per_source > 1 else [None]
        for i, chunk in enumerate(chunks):
            idx = np.arange(len(labels)) if chunk is None else chunk
            name = source if per_source == 1 else f"{source}-{i + 1}"
            parts = stratified_split(labels[idx], split, rng)
            splits = {}
            for s in SPLITS:
                sel = torch.from_numpy(idx[parts[s]].astype(np.int64))
                splits[s] = Split(data.x[sel], data.y[sel], tuple(f"{source}:{j}" for j in idx[parts[s]]))
            parties.append(Party(name, source, splits))
    return tuple(parties)


def _digits(name: str, seed: int, k: int, partitioner: str, alpha: float, split) -> Scenario:
    sources = ["uci-digits", "mnist"]
    if k < len(sources) or k % len(sources):
        raise InputError(f"k={k} parties is impossible for {name!r}: k must be a multiple of 2 and >= 2")
    split = tuple(split)
    parties = make_parties(sources, k // len(sources), partitioner, alpha, split, seed)
    params = {"seed": seed, "k": k, "partitioner": partitioner, "alpha": alpha, "split": list(split)}
    return Scenario(name, "classification", "accuracy", 10, 1, parties, params, dict(DIGITS_RECIPE))


@SCENARIOS.register("digits-shift")
def digits_shift(
    seed: int = 0, k: int = 2, partitioner: str = "dirichlet", alpha: float = 0.5, split=(0.6, 0.2, 0.2)
) -> Scenario:
    """UCI digits (8x8 upscaled) vs MNIST: a real domain shift; k > 2 splits each source further."""
    return _digits("digits-shift", seed, k, partitioner, alpha, split)


@SCENARIOS.register("digits-shift-4")
def digits_shift_4(
    seed: int = 0, k: int = 4, partitioner: str = "dirichlet", alpha: float = 0.5, split=(0.6, 0.2, 0.2)
) -> Scenario:
    """digits-shift with each source split in two by Dirichlet label skew (4 parties)."""
    return _digits("digits-shift-4", seed, k, partitioner, alpha, split)


def get_scenario(name: str, **params) -> Scenario:
    return SCENARIOS.create(name, **params)
