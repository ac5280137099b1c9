"""Real user datasets from local folders: one directory per party, each with `images/` and `masks/`.

    ROOT/<party>/images/<stem>.<ext>    image (PNG, JPEG, TIFF, NPY, NIfTI .nii/.nii.gz); grey or RGB
    ROOT/<party>/masks/<stem>.<ext>     label mask with the same stem, integer classes 0..C-1
    ROOT/<party>/split.csv              optional: lines `stem,train|val|test` (a predefined split)

Images are scaled to [0, 1] (8-bit by 255, other types by their maximum) and resized bilinearly to
size x size; masks are resized by nearest neighbour. With `binary_masks`, a mask is foreground where its
value is above half its type's range (for 0/255 masks saved as JPEG, like Kvasir-SEG's). Every problem with
a file (unreadable, wrong shape, stems without a partner, label values out of range) raises an error that
names the file.
"""

import csv
import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stitchbench.errors import InputError

from ._splits import SPLITS

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".npy", ".nii", ".nii.gz")


def stem_of(path: Path) -> str:
    return path.name[: -len(".nii.gz")] if path.name.endswith(".nii.gz") else path.stem


def listing(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise InputError(f"{folder} is not a directory; each party needs images/ and masks/")
    files = [p for p in sorted(folder.iterdir()) if p.name.lower().endswith(IMAGE_SUFFIXES)]
    return {stem_of(p): p for p in files}


def read_array(path: Path, rgb: bool) -> np.ndarray:
    """An image as (H, W) or (H, W, 3) array; never unpickles (NPY with allow_pickle=False)."""
    name = path.name.lower()
    try:
        if name.endswith(".npy"):
            return np.load(path, allow_pickle=False)
        if name.endswith((".nii", ".nii.gz")):
            import nibabel as nib

            return np.squeeze(np.asarray(nib.load(str(path)).dataobj))
        from PIL import Image

        with Image.open(path) as im:
            return np.asarray(im.convert("RGB" if rgb else "L"))
    except Exception as e:  # every reader has its own error types; all mean "not a readable image"
        raise InputError(f"cannot read {path}: {e}") from e


def to_unit(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float32)
    top = 255.0 if a.max(initial=0) <= 255 and a.min(initial=0) >= 0 else float(np.abs(a).max()) or 1.0
    return np.clip(a / top, 0, 1)


def load_image(path: Path, channels: int, size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """The image as (channels, size, size) in [0, 1], and its original (H, W)."""
    a = read_array(path, rgb=channels == 3)
    if a.ndim == 2 and channels == 3:
        a = np.repeat(a[..., None], 3, -1)
    if a.ndim == 3 and channels == 1:
        a = a.mean(-1)
    if a.ndim != (2 if channels == 1 else 3):
        raise InputError(f"{path}: expected a 2-D image with {channels} channel(s), got shape {a.shape}")
    t = torch.from_numpy(to_unit(a))
    t = t.unsqueeze(0) if channels == 1 else t.permute(2, 0, 1)
    resized = F.interpolate(t[None], size=(size, size), mode="bilinear", align_corners=False)[0].clamp(0, 1)
    return resized, a.shape[:2]


def load_mask(path: Path, size: int, num_classes: int, binary: bool, image_shape: tuple) -> torch.Tensor:
    a = read_array(path, rgb=False)
    if a.ndim != 2:
        raise InputError(f"{path}: a mask must be 2-D, got shape {a.shape}")
    if a.shape != image_shape:
        raise InputError(f"{path}: mask shape {a.shape} does not match its image's {image_shape}")
    if binary:
        top = 255 if a.max(initial=0) > 1 else 1
        a = (a > top / 2).astype(np.int64)
    else:
        if not np.issubdtype(a.dtype, np.integer) and not np.all(a == np.round(a)):
            raise InputError(f"{path}: mask values must be integers (class ids), got {a.dtype}")
        bad = sorted(set(np.unique(a).astype(int).tolist()) - set(range(num_classes)))
        if bad:
            raise InputError(f"{path}: label values {bad[:5]} out of range; valid: 0..{num_classes - 1}")
    t = torch.from_numpy(a.astype(np.int64))[None, None].float()
    return F.interpolate(t, size=(size, size), mode="nearest")[0, 0].long()


def read_split_file(path: Path, stems: list[str]) -> dict[str, np.ndarray]:
    assigned: dict[str, str] = {}
    with path.open(newline="") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if len(row) != 2 or row[1].strip() not in SPLITS:
                raise InputError(f"{path}:{n}: expected 'stem,split' with split one of {', '.join(SPLITS)}")
            assigned[row[0].strip()] = row[1].strip()
    missing = [s for s in stems if s not in assigned]
    if missing:
        raise InputError(f"{path}: no split given for {missing[0]!r} ({len(missing)} stems missing)")
    return {s: np.array([i for i, t in enumerate(stems) if assigned[t] == s], dtype=np.int64) for s in SPLITS}


def files_digest(root: Path, files: Iterable[Path]) -> str:
    """sha256 over the files' paths (relative to `root`) and contents: any edit changes it."""
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f"{f.relative_to(root).as_posix()}\0{f.stat().st_size}\0".encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def party_files(folder: Path) -> list[Path]:
    """The files of a party's folder the loader reads."""
    split_file = folder / "split.csv"
    files = [*listing(folder / "images").values(), *listing(folder / "masks").values()]
    return files + ([split_file] if split_file.is_file() else [])


def load_party(folder: Path, channels: int, size: int, num_classes: int, binary: bool):
    """(x, y, stems, predefined split or None) of one party's folder."""
    images, masks = listing(folder / "images"), listing(folder / "masks")
    lonely = sorted(set(images) ^ set(masks))
    if lonely:
        side = "images" if lonely[0] in images else "masks"
        raise InputError(f"{folder / side} has {lonely[0]!r} without a partner in the other folder")
    if not images:
        raise InputError(f"{folder / 'images'} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    stems = sorted(images)
    xs, ys = [], []
    for s in stems:
        x, shape = load_image(images[s], channels, size)
        xs.append(x)
        ys.append(load_mask(masks[s], size, num_classes, binary, shape))
    split_file = folder / "split.csv"
    split = read_split_file(split_file, stems) if split_file.is_file() else None
    return torch.stack(xs), torch.stack(ys), stems, split
