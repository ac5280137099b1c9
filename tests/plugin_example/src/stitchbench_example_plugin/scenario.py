"""`example.stripes`: a synthetic scenario, two parties seeing the same four classes through different eyes."""

import numpy as np
import torch

from stitchbench.data import Party, Scenario, Split, stratified_split
from stitchbench.errors import InputError
from stitchbench.registry import tagged

ORIENTATIONS = 4  # the classes: horizontal, vertical, diagonal and anti-diagonal stripes


def stripe_images(labels: np.ndarray, size: int, freqs: tuple, rng: np.random.Generator) -> np.ndarray:
    """Sine stripes of each label's orientation, a random frequency in `freqs` and a random phase, in [0, 1]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    axes = np.stack([yy, xx, (xx + yy) / np.sqrt(2), (xx - yy) / np.sqrt(2)])
    freq = rng.uniform(*freqs, len(labels))[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, len(labels))[:, None, None]
    return 0.5 + 0.5 * np.sin(freq * axes[labels] + phase)


@tagged(task="classification")
def stripes(seed: int = 0, n: int = 400, size: int = 12, split=(0.6, 0.2, 0.2)) -> Scenario:
    """Synthetic stripes, 4 orientations: party `wide` sees broad clean ones, `fine` narrow, dim and noisy."""
    if n < 40 or not 8 <= size <= 64:
        raise InputError(f"example.stripes: n must be >= 40 and size in 8..64; got n={n}, size={size}")
    rng = np.random.default_rng(seed)
    parties = []
    for name, freqs, contrast, noise in (("wide", (0.5, 0.9), 1.0, 0.05), ("fine", (1.3, 1.9), 0.6, 0.15)):
        labels = rng.integers(0, ORIENTATIONS, n)
        pattern = stripe_images(labels, size, freqs, rng)
        images = np.clip(0.5 + contrast * (pattern - 0.5) + rng.normal(0, noise, (n, size, size)), 0, 1)
        x = torch.from_numpy(images.astype(np.float32)).unsqueeze(1)
        y = torch.from_numpy(labels.astype(np.int64))
        parts = stratified_split(labels, tuple(split), rng)
        splits = {s: Split(x[idx], y[idx], tuple(f"{name}:{i}" for i in idx)) for s, idx in parts.items()}
        parties.append(Party(name, name, splits))
    params = {"seed": seed, "n": n, "size": size, "split": list(split)}
    recipe = {"optimizer": "adam", "lr": 5e-3, "epochs": 10, "batch_size": 32}
    return Scenario(
        "example.stripes", "classification", "accuracy", ORIENTATIONS, 1, tuple(parties), params, recipe, "example.mlp"
    )
