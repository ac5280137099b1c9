"""The MNI ICBM152 2009 brain template shipped inside nilearn: T1 with grey/white-matter labels, as slices.

Labels: 0 background, 1 grey matter, 2 white matter. A voxel is grey (white) matter where that tissue's
probability map is >= 0.5 and not below the other's; everything else (CSF, skull, air) is background.
Slices with less than 2% brain tissue are skipped. Images are T1 intensities scaled to [0, 1].

Sites draw from disjoint regions of the volume: the slices along one axis are cut in two, with a gap of
unused slices between the halves, so no voxel appears in more than one site's slices. A slice's id
(`mni152-<orientation>:<position>`) names the template plane it came from; `voxel_mask` turns ids back into
the voxels they cover.

Site effects simulate acquisition differences on this real anatomy: a contrast change (gamma, inversion),
a smooth multiplicative bias field (intensity non-uniformity), Gaussian blur and Rician noise.
"""

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import numpy as np
import torch
import torch.nn.functional as F

from stitchbench.errors import InputError, unknown

TEMPLATE = "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"
ORIENTATIONS = {"sagittal": 0, "coronal": 1, "axial": 2}
# The template is left-right symmetric: sagittal halves would be mirror images of each other, a leak.
SITE_ORIENTATIONS = ("coronal", "axial")
TISSUE_THRESHOLD = 0.5
MIN_TISSUE = 0.02


@cache
def template() -> tuple[np.ndarray, np.ndarray]:
    """(T1 in [0, 1], labels) as (X, Y, Z) volumes, read with nibabel from nilearn's package data."""
    import nibabel as nib

    try:
        folder = files("nilearn") / "datasets" / "data"
        t1, gm, wm = (
            np.asarray(nib.load(str(folder / TEMPLATE.format(k))).dataobj, dtype=np.float32) for k in ("t1", "gm", "wm")
        )
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise InputError(f"the MNI152 template could not be read from nilearn's package data: {e}") from e
    gm, wm = gm / gm.max(), wm / wm.max()
    labels = np.zeros(t1.shape, np.int64)
    labels[(gm >= TISSUE_THRESHOLD) & (gm >= wm)] = 1
    labels[(wm >= TISSUE_THRESHOLD) & (wm > gm)] = 2
    return t1 / t1.max(), labels


@dataclass(frozen=True)
class Slices:
    x: torch.Tensor  # (N, 1, S, S) in [0, 1]
    y: torch.Tensor  # (N, S, S) labels
    positions: np.ndarray  # slice index along the orientation's axis


@cache
def slices(orientation: str, size: int) -> Slices:
    """Every slice of the template along `orientation` with brain tissue, resized to size x size
    (memoized per process: scenarios of other seeds or site effects reuse it)."""
    if orientation not in ORIENTATIONS:
        raise unknown("orientation", orientation, ORIENTATIONS)
    t1, labels = template()
    axis = ORIENTATIONS[orientation]
    img = torch.from_numpy(np.moveaxis(t1, axis, 0).copy()).unsqueeze(1)
    lab = torch.from_numpy(np.moveaxis(labels, axis, 0).copy())
    keep = (lab > 0).float().mean((1, 2)) >= MIN_TISSUE
    positions = np.flatnonzero(keep.numpy())
    img, lab = img[keep], lab[keep]
    img = F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    lab = F.interpolate(lab.unsqueeze(1).float(), size=(size, size), mode="nearest").squeeze(1).long()
    return Slices(img.contiguous(), lab.contiguous(), positions)


def site_regions(positions: np.ndarray, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices into `positions` of two contiguous regions of (about) equal size, the lower and the upper
    half along the axis, with the `gap` positions between them left out."""
    if gap < 1:
        raise InputError(f"site_gap={gap} is invalid: the site regions need a gap of >= 1 slice")
    order = np.argsort(positions)
    n_low = (len(positions) - gap) // 2
    if n_low < 1:
        raise InputError(f"site_gap={gap} leaves no slices: {len(positions)} slices hold tissue")
    cut = positions[order[n_low - 1]]
    low = order[positions[order] <= cut]
    high = order[positions[order] > cut + gap]
    return low, high


def voxel_mask(ids: list[str] | tuple[str, ...]) -> np.ndarray:
    """A boolean template-shaped volume, True at every voxel of the slices named by `ids`
    (`mni152-<orientation>:<position>`)."""
    mask = np.zeros(template()[1].shape, bool)
    for i in ids:
        source, position = i.rsplit(":", 1)
        orientation = source.removeprefix("mni152-")
        if orientation not in ORIENTATIONS:
            raise unknown("slice orientation", orientation, ORIENTATIONS)
        index = [slice(None)] * 3
        index[ORIENTATIONS[orientation]] = int(position)
        mask[tuple(index)] = True
    return mask


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), k.view(1, 1, -1, 1))


def site_effect(
    x: torch.Tensor,
    seed: int,
    invert: bool = False,
    bias: float = 0.0,
    gamma: float = 1.0,
    blur: float = 0.0,
    noise: float = 0.0,
) -> torch.Tensor:
    """Simulated acquisition of images x (N, 1, S, S) in [0, 1] at another site, seeded per call.

    In order: contrast x ** gamma, then with `invert` 1 - x (dark white matter, bright CSF, like a
    T2-weighted image); bias: amplitude of a smooth multiplicative field 1 + bias * f, f in [-1, 1] drawn
    per image on a 4x4 grid and upsampled bicubically; blur: Gaussian sigma in pixels; noise: Rician noise
    sigma. The result is clipped to [0, 1].
    """
    if gamma <= 0 or bias < 0 or blur < 0 or noise < 0:
        raise InputError(
            f"site effect needs gamma > 0 and bias, blur, noise >= 0; got {gamma=}, {bias=}, {blur=}, {noise=}"
        )
    g = torch.Generator().manual_seed(seed)
    x = x.clamp(0, 1) ** gamma
    if invert:
        x = 1 - x
    if bias:
        grid = torch.rand(len(x), 1, 4, 4, generator=g) * 2 - 1
        field = F.interpolate(grid, size=x.shape[-2:], mode="bicubic", align_corners=True).clamp(-1, 1)
        x = (x * (1 + bias * field)).clamp(0, 1)
    if blur:
        x = gaussian_blur(x, blur)
    if noise:
        n1, n2 = (torch.randn(x.shape, generator=g) * noise for _ in range(2))
        x = torch.sqrt((x + n1) ** 2 + n2**2)
    return x.clamp(0, 1).contiguous()
