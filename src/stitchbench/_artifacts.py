"""Content-addressed artifacts: safetensors weights plus a JSON manifest carrying their sha256.

Weights are untrusted (they come from other parties): they are read only with safetensors, and only after
the file's sha256 matches the manifest. Nothing is ever unpickled. Writes are atomic (a temporary folder
renamed into place) and builds of one key are serialized with a file lock, so concurrent workers build an
artifact once and never see a half-written one.
"""

import json
import logging
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from stitchbench import __version__
from stitchbench._files import parse, read_regular
from stitchbench._hashing import config_hash, file_sha256
from stitchbench.errors import InputError

log = logging.getLogger(__name__)

WEIGHTS = "weights.safetensors"
ARTIFACT_MANIFEST = "manifest.json"


class IntegrityError(InputError):
    """An artifact whose weights do not match its manifest, or that is not a safetensors file."""


def versions() -> dict[str, str]:
    return {"stitchbench": __version__, "torch": torch.__version__, "python": platform.python_version()}


def default_cache_dir() -> Path:
    return Path(os.environ.get("STITCHBENCH_CACHE", Path.home() / ".cache" / "stitchbench"))


@dataclass(frozen=True)
class Artifact:
    """A stored artifact: its folder and manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def key(self) -> str:
        return self.manifest["key"]

    def tensors(self) -> dict[str, torch.Tensor]:
        try:
            return read_weights(self.path / WEIGHTS, self.manifest["sha256"])
        except IntegrityError as e:
            raise damaged(self.path, e) from e


def damaged(entry: Path, e: IntegrityError) -> IntegrityError:
    """A cache entry's damage, saying what to do about it."""
    return IntegrityError(f"{e}; delete the cache entry {entry} to rebuild it")


def write_artifact(path: Path, tensors: dict[str, torch.Tensor], manifest: dict[str, Any]) -> Artifact:
    """Write weights and manifest into `path` atomically; the manifest gains the weights' sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp / WEIGHTS))
        manifest = {**manifest, "sha256": file_sha256(tmp / WEIGHTS), "versions": versions()}
        (tmp / ARTIFACT_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Artifact(path, manifest)


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = parse(json.loads, read_regular(path / ARTIFACT_MANIFEST), str(path / ARTIFACT_MANIFEST))
    except FileNotFoundError as e:
        raise IntegrityError(f"no manifest at {path / ARTIFACT_MANIFEST}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise IntegrityError(f"manifest {path / ARTIFACT_MANIFEST} is not valid JSON: {e}") from e
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sha256"), str):
        raise IntegrityError(f"manifest {path / ARTIFACT_MANIFEST} has no 'sha256' of its weights")
    return manifest


def read_weights(weights: Path, sha256: str) -> dict[str, torch.Tensor]:
    """Load a weights file after verifying its sha256; safetensors only, nothing is unpickled."""
    if not weights.is_file():
        raise IntegrityError(f"no weights file at {weights}")
    actual = file_sha256(weights)
    if actual != sha256:
        raise IntegrityError(
            f"sha256 mismatch for {weights}: manifest says {sha256}, file has {actual}; "
            "the file was altered or does not belong to this manifest"
        )
    try:
        return load_file(str(weights))
    except (SafetensorError, OSError) as e:
        raise IntegrityError(f"{weights} is not a valid safetensors file: {e}") from e


class ArtifactStore:
    """Artifacts of one kind (models, stitch sets) built on one kind of device (`stitchbench._devices.KINDS`)
    under `root/kind/<key>`, key = hash of the config (and of the device kind where it is not the CPU)."""

    def __init__(self, root: Path, kind: str, device: str = "cpu"):
        self.root = Path(root)
        self.kind = kind
        self.device = device

    def key(self, config: dict[str, Any]) -> str:
        """The content address of `config` built on this store's device kind: the kind joins the hash only
        where it is not the CPU, so every CPU key made before devices existed stays as it was."""
        on = {"device": self.device} if self.device != "cpu" else {}
        return config_hash({"kind": self.kind, **config, **on})

    def path(self, key: str) -> Path:
        return self.root / self.kind / key

    def get(self, key: str) -> Artifact | None:
        path = self.path(key)
        if not (path / ARTIFACT_MANIFEST).is_file():
            return None
        try:
            manifest = read_manifest(path)
        except IntegrityError as e:
            raise damaged(path, e) from e
        if manifest.get("device", "cpu") != self.device:  # never served for another device: rebuilt in place
            log.warning("%s was built on %s, not %s: building it again", path, manifest.get("device"), self.device)
            return None
        return Artifact(path, manifest)

    @contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Hold `key` for one writer (a build or an import): finding and writing it are one step."""
        lock_dir = self.root / ".locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock_dir / f"{self.kind}-{key}.lock")):
            yield

    def put(self, config: dict[str, Any], tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> Artifact:
        """Store (or replace) `config`'s artifact, recording the device kind it was built on; call it holding
        `locked(key)`."""
        key = self.key(config)
        return write_artifact(self.path(key), tensors, {"key": key, "config": config, **extra, "device": self.device})

    def get_or_build(
        self,
        config: dict[str, Any],
        build: Callable[[], tuple[dict[str, torch.Tensor], dict[str, Any]]],
    ) -> Artifact:
        """Return the artifact for `config`, building it once (under a lock) if it is not stored yet.

        `build` returns (tensors, extra manifest fields); the manifest also records the config, the key and
        the device kind.
        """
        key = self.key(config)
        found = self.get(key)
        if found is not None:
            return found
        with self.locked(key):
            found = self.get(key)
            if found is not None:
                return found
            log.info("building %s %s", self.kind, key)
            return self.put(config, *build())
