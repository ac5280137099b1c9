"""The scenario registry and the shipped scenarios. Parameters are declared with their type and range
(checked by the registry before a scenario is built)."""

from typing import Annotated

import numpy as np
import torch
from pydantic import Field

from stitchbench._params import Seed
from stitchbench.errors import InputError, unknown
from stitchbench.registry import Registry

from ._partition import check_partition, partition
from ._scenario import Party, Scenario, Split
from ._sources import load_source
from ._splits import SPLITS, check_fractions, slab_split, stratified_split

SCENARIOS: Registry[Scenario] = Registry("scenario")
Concentration = Annotated[float, Field(gt=0, le=1e6)]  # Dirichlet alpha: small is skewed, large is IID

DIGITS_RECIPE = {"optimizer": "adam", "lr": 2e-3, "epochs": 6, "batch_size": 32, "weight_decay": 0.0}
SEGMENTATION_RECIPE = {
    "optimizer": "adam",
    "lr": 4e-3,
    "epochs": 150,
    "batch_size": 32,
    "weight_decay": 0.0,
    "patience": 25,
    "min_epochs": 40,
    "local_epochs": 2,
    "channels_last": True,
}


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
    check_partition(partitioner, alpha)  # also when each source stays whole: no unused bad value passes
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"seed must be a whole number >= 0, got {seed!r}")
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
    if not isinstance(k, int) or isinstance(k, bool) or k < len(sources) or k % len(sources):
        raise InputError(f"k={k!r} parties is impossible for {name!r}: k must be a multiple of 2 and >= 2")
    split = check_fractions(split)
    parties = make_parties(sources, k // len(sources), partitioner, alpha, split, seed)
    params = {"seed": seed, "k": k, "partitioner": partitioner, "alpha": alpha, "split": list(split)}
    return Scenario(name, "classification", "accuracy", 10, 1, parties, params, dict(DIGITS_RECIPE))


@SCENARIOS.register("digits-shift", task="classification")
def digits_shift(
    seed: Seed = 0, k: int = 2, partitioner: str = "dirichlet", alpha: Concentration = 0.5, split=(0.6, 0.2, 0.2)
) -> Scenario:
    """UCI digits (8x8 upscaled) vs MNIST: a real domain shift; k > 2 splits each source further."""
    return _digits("digits-shift", seed, k, partitioner, alpha, split)


@SCENARIOS.register("digits-shift-4", task="classification")
def digits_shift_4(
    seed: Seed = 0, k: int = 4, partitioner: str = "dirichlet", alpha: Concentration = 0.5, split=(0.6, 0.2, 0.2)
) -> Scenario:
    """digits-shift with each source split in two by Dirichlet label skew (4 parties)."""
    return _digits("digits-shift-4", seed, k, partitioner, alpha, split)


@SCENARIOS.register("brain-mri", task="segmentation")
def brain_mri(
    seed: Seed = 0,
    size: int = 64,
    split=(0.6, 0.2, 0.2),
    slab: int = 8,
    gap: int = 1,
    orientation: str = "coronal",
    site_gap: int = 8,
    invert: bool = True,
    bias: float = 0.3,
    gamma: float = 1.0,
    blur: float = 0.0,
    noise: float = 0.03,
) -> Scenario:
    """MNI152 brain template (nilearn), grey/white matter: site-a the posterior (inferior) half of the
    volume as T1, site-b the anterior (superior) half with site effects; no voxel in both."""
    from ._brain import SITE_ORIENTATIONS, site_effect, site_regions, slices

    if not 16 <= size <= 256 or size % 4:
        raise InputError(f"size={size} is invalid for 'brain-mri': a multiple of 4 in 16..256")
    if slab < 2 or not 0 <= gap < slab:
        raise InputError(f"slab={slab}, gap={gap} is invalid: slab >= 2 and 0 <= gap < slab")
    if orientation not in SITE_ORIENTATIONS:
        raise unknown("orientation", orientation, SITE_ORIENTATIONS)
    split = check_fractions(split)
    rng = np.random.default_rng(seed)
    s = slices(orientation, size)
    effect = {"invert": invert, "bias": bias, "gamma": gamma, "blur": blur, "noise": noise}
    parties = []
    regions = site_regions(s.positions, site_gap)
    for name, region, site in zip(("site-a", "site-b"), regions, (None, effect), strict=True):
        x = s.x[region] if site is None else site_effect(s.x[region], seed, **site)
        y, positions = s.y[region], s.positions[region]
        ids = [f"mni152-{orientation}:{p}" for p in positions]
        parts = slab_split(positions, split, rng, slab, gap)
        splits = {k: Split(x[v], y[v], tuple(ids[i] for i in v)) for k, v in parts.items()}
        acquisition = "t1" if site is None else "site-effects"  # another acquisition of the same template
        parties.append(Party(name, f"mni152-{orientation}/{acquisition}", splits))
    params = {"seed": seed, "size": size, "split": list(split), "slab": slab, "gap": gap}
    params |= {"orientation": orientation, "site_gap": site_gap, **effect}
    return Scenario(
        "brain-mri", "segmentation", "dice", 3, 1, tuple(parties), params, dict(SEGMENTATION_RECIPE), "unet"
    )


@SCENARIOS.register("folder", task="segmentation")
def folder(
    root: str = "",
    size: int = 64,
    channels: int = 1,
    num_classes: int = 2,
    binary_masks: bool = True,
    split=(0.6, 0.2, 0.2),
    seed: Seed = 0,
) -> Scenario:
    """Your own segmentation data: ROOT/<party>/{images,masks}/ (PNG, JPEG, NPY, NIfTI); see the README."""
    from pathlib import Path

    from ._folder import files_digest, load_party, party_files

    if not root:
        raise InputError("the 'folder' scenario needs root=DIR (one subdirectory per party)")
    if channels not in (1, 3) or num_classes < 2 or not 16 <= size <= 1024:
        raise InputError(
            "folder: channels must be 1 or 3, num_classes >= 2, size in 16..1024; "
            f"got channels={channels}, num_classes={num_classes}, size={size}"
        )
    base = Path(root).expanduser()
    dirs = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    if len(dirs) < 2:
        raise InputError(f"{base} must hold at least two party directories, each with images/ and masks/")
    split = check_fractions(split)
    rng = np.random.default_rng(seed)
    parties = []
    for d in dirs:
        x, y, stems, parts = load_party(d, channels, size, 2 if binary_masks else num_classes, binary_masks)
        if parts is None:
            parts = stratified_split(np.zeros(len(stems), np.int64), split, rng)
        splits = {k: Split(x[v], y[v], tuple(f"{d.name}:{stems[i]}" for i in v)) for k, v in parts.items()}
        parties.append(Party(d.name, d.name, splits))
    params = {"root": str(base.resolve()), "size": size, "channels": channels, "num_classes": num_classes}
    params |= {"binary_masks": binary_masks, "split": list(split), "seed": seed}
    classes = 2 if binary_masks else num_classes
    digest = files_digest(base, [f for d in dirs for f in party_files(d)])
    recipe = dict(SEGMENTATION_RECIPE)
    return Scenario("folder", "segmentation", "dice", classes, channels, tuple(parties), params, recipe, "unet", digest)


def get_scenario(name: str, **params) -> Scenario:
    return SCENARIOS.create(name, **params)
