"""The run directory: atomic writes, per-job files, the manifest, and the assembled tables.

Every file is written to a temporary name and renamed into place, so a run killed at any moment leaves
each file either complete or absent. A job's files are written before the manifest marks it done, so a
done job's results are always on disk; a job not marked done is simply run again.
"""

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from stitchbench.artifacts import atomic_write
from stitchbench.errors import InputError
from stitchbench.hashing import config_hash

MANIFEST = "manifest.json"


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())


def write_parquet(path: Path, df: pd.DataFrame) -> None:
    atomic_write(path, df.to_parquet(index=False))


class RunDir:
    def __init__(self, path: Path):
        self.path = Path(path)

    def file(self, name: str) -> Path:
        return self.path / name

    def job_file(self, job_id: str, what: str) -> Path:
        """jobs/<readable slug>-<hash of the exact id>.<what>: distinct ids, distinct files."""
        slug = re.sub(r"[^A-Za-z0-9_.@+-]+", "_", job_id)[:120]
        return self.path / "jobs" / f"{slug}-{config_hash(job_id, 10)}.{what}"

    def save_log(self, job_id: str, text: str) -> str:
        """Write a job's log (a failed job's traceback); its path relative to the run directory."""
        path = self.job_file(job_id, "log")
        atomic_write(path, text.encode())
        return str(path.relative_to(self.path))

    def clean_temporary(self) -> None:
        """Remove temporary files a killed run may have left (never a finished result: those are renamed)."""
        for p in self.path.rglob(".*"):
            if p.is_file() and ".tmp" in p.name:
                p.unlink(missing_ok=True)

    def manifest(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.file(MANIFEST).read_text())
        except (FileNotFoundError, NotADirectoryError):
            return None
        except json.JSONDecodeError as e:
            raise InputError(f"{self.file(MANIFEST)} is not valid JSON ({e}); it is not a stitchbench run") from e

    def require(self) -> dict[str, Any]:
        m = self.manifest()
        if m is None:
            raise InputError(f"{self.path} is not a stitchbench run directory (no {MANIFEST})")
        return m

    def save_manifest(self, manifest: dict[str, Any]) -> None:
        write_json(self.file(MANIFEST), manifest)

    def save_job(self, job_id: str, evaluations: pd.DataFrame, front: pd.DataFrame) -> None:
        write_parquet(self.job_file(job_id, "evaluations.parquet"), evaluations)
        write_parquet(self.job_file(job_id, "front.parquet"), front)

    def job_tables(self, job_ids: list[str], what: str) -> pd.DataFrame:
        files = [self.job_file(j, f"{what}.parquet") for j in job_ids]
        frames = [pd.read_parquet(f) for f in files if f.is_file()]
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def table(self, name: str) -> pd.DataFrame:
        path = self.file(f"{name}.parquet")
        if not path.is_file():
            raise InputError(f"{self.path} has no {name}.parquet; is the run finished?")
        return pd.read_parquet(path)
