"""The run directory: atomic writes, per-job files, the manifest, and the assembled tables.

Every file is written to a temporary name and renamed into place, so a run killed at any moment leaves
each file either complete or absent. A job's files are written before the manifest marks it done, so a
done job's results are always on disk; a job not marked done is simply run again. The manifest holds the
sha256 of every job file, so a changed or damaged one is found before anything is built on it. One run
at a time holds a directory (a lock file); a non-empty directory that is not a run is never written to.
"""

import json
import os
import platform
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from stitchbench._files import atomic_file, atomic_write, check_folder, parse, read_regular, temporary
from stitchbench._hashing import config_hash, file_sha256
from stitchbench.errors import InputError, explain
from stitchbench.moo._instance import ProblemInstance

RUN_MANIFEST = "manifest.json"
RESULTS_FORMAT = 1  # the run folder's layout (docs/results.md); a manifest without `results_format` is format 1
LOCK = ".stitchbench.lock"
READ_THREADS = 4  # threads reading job files
JOIN_FILES = 64  # job files joined into one row group of a run table (`write_job_tables`)
HOLDER = ".stitchbench.holder"  # the lock holder's pid and host (the lock itself is released when it dies)
AGGREGATES = (  # built from the job files; the manifest records their sha256
    "evaluations.parquet",
    "fronts.parquet",
    "indicators.parquet",
    "statistics.parquet",
    "failed_jobs.parquet",
    "anytime.parquet",
)


def inside(path: str) -> str:
    """A file the manifest records: a path relative to the run folder that stays in it."""
    if not path or Path(path).is_absolute() or ".." in Path(path).parts:
        raise ValueError(f"{path!r} is not a path inside the run folder")
    return path


RunFile = Annotated[str, AfterValidator(inside)]
STRICT = ConfigDict(strict=True, extra="forbid")  # JSON's types as they are: no "3" for 3, no true for 1


class SolverRecord(BaseModel):
    model_config = ConfigDict(strict=True)
    name: str
    id: str | None = None
    params: dict[str, Any] = {}


class ZooRecord(BaseModel):
    model_config = ConfigDict(strict=True)
    seeds: list[int] = [0]


class SuiteRecord(BaseModel):
    """What the results read of the suite a run recorded (the builders' `Suite` holds the rest)."""

    model_config = ConfigDict(strict=True)
    name: str
    seeds: list[int]
    budget: int
    solvers: list[SolverRecord]
    zoo: ZooRecord = ZooRecord()
    analyses: list[str] = []


class JobRecord(BaseModel):
    model_config = STRICT
    status: Literal["pending", "done", "failed"]
    instance: str | None = None
    files: dict[RunFile, str] = {}
    error: str | None = None
    seconds: float | None = None
    evaluations: int | None = None
    log: RunFile | None = None


class RunManifest(BaseModel):
    """A run's manifest.json, validated in full whenever it is read (`RunDir.manifest`)."""

    model_config = STRICT | ConfigDict(title="run manifest")
    results_format: Annotated[int, Field(ge=1, le=RESULTS_FORMAT)] = 1
    suite: SuiteRecord
    suite_key: str
    jobs: dict[str, JobRecord]
    status: Literal["running", "complete"]
    instances: dict[str, ProblemInstance]
    started: str | None = None
    ended: str | None = None
    versions: dict[str, str] = {}
    git_commit: str | None = None
    host: str | None = None
    executor: str | None = None
    workers: int | None = None
    device: dict[str, str] | None = None  # kind (cpu, cuda) and name
    cache: str | None = None
    references: dict[RunFile, str] = {}
    timings: dict[str, float] = {}
    aggregates: dict[RunFile, str] = {}


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())


def write_parquet(path: Path, df: pd.DataFrame) -> None:
    atomic_write(path, df.to_parquet(index=False))


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with `schema`'s columns, in its order and types: those it lacks null."""
    return pa.Table.from_arrays(
        [table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type) for f in schema],
        schema=schema,
    )


def instances_of(manifest: dict[str, Any]) -> dict[str, ProblemInstance]:
    """A run manifest's problem instance records, by id."""
    return {k: ProblemInstance(**v) for k, v in manifest["instances"].items()}


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

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory for one writer (a run, or `report`); another is refused, naming the holder (it
        never waits half-way). The lock is the operating system's: it is free again when its holder dies."""
        lock = FileLock(self.path / LOCK, timeout=0)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        except Timeout as e:
            raise InputError(
                f"{self.path} is in use by another stitchbench process ({self.holder()}); wait for it to finish"
            ) from e
        except OSError as e:
            raise InputError(f"cannot write to {self.path}: {e.strerror or e}") from e
        try:
            write_json(self.file(HOLDER), {"pid": os.getpid(), "host": platform.node(), "since": time.time()})
            yield
        finally:
            self.file(HOLDER).unlink(missing_ok=True)
            lock.release()

    def holder_record(self) -> dict[str, Any] | None:
        """The lock holder's record, where the file holds one as `lock` writes it (else None)."""
        try:
            h = parse(json.loads, read_regular(self.file(HOLDER)), HOLDER)
        except (OSError, ValueError):
            return None
        types = {"pid": int, "host": str, "since": float}
        ok = isinstance(h, dict) and h.keys() == types.keys() and all(type(h[k]) is t for k, t in types.items())
        return h if ok else None

    def holder(self) -> str:
        """Who holds the lock, as its holder recorded it."""
        h = self.holder_record()
        return f"pid {h['pid']} on host {h['host']}" if h else f"lock {self.file(LOCK)}"

    def killed_run(self) -> bool:
        """Whether the directory holds only what a run of ours leaves before its manifest: its (empty) lock,
        and where one was killed, our holder record and our temporary files."""
        rest = [p for p in self.path.iterdir() if not (p.name == LOCK and p.is_file() and not p.stat().st_size)]
        return not rest or (
            self.holder_record() is not None
            and all(p.is_file() and (p.name == HOLDER or temporary(p.name)) for p in rest)
        )

    def check_is_run_or_empty(self, manifest: dict[str, Any] | None) -> None:
        """Refuse a directory that holds files but no stitchbench run: nothing of the user's is touched. One
        that a run of ours was killed in before its manifest (`killed_run`) resumes. `manifest`: this
        directory's (`manifest()`), read once by the caller."""
        if manifest is None and self.path.is_dir() and not self.killed_run():
            raise InputError(f"{self.path} is not empty and holds no stitchbench run; choose an empty or new --out")

    def check_folders(self) -> None:
        """Refuse, before anything is written, a run whose jobs/ or figures/ is not a folder."""
        for name in ("jobs", "figures"):
            check_folder(self.file(name), f"the run's {name} folder")

    def clean_temporary(self) -> None:
        """Remove the temporary files that a killed writer of ours left (only the names `atomic_write`
        makes), in the run directory and its jobs/ and figures/ folders; nothing of the user's."""
        for folder in (self.path, self.path / "jobs", self.path / "figures"):
            for p in folder.iterdir() if folder.is_dir() else []:
                if temporary(p.name) and p.is_file():
                    p.unlink(missing_ok=True)

    def manifest(self) -> dict[str, Any] | None:
        try:
            manifest = parse(json.loads, read_regular(self.file(RUN_MANIFEST)), str(self.file(RUN_MANIFEST)))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"{self.file(RUN_MANIFEST)} is not valid JSON ({e}); it is not a stitchbench run") from e
        except OSError as e:
            raise InputError(f"cannot read {self.file(RUN_MANIFEST)}: {e.strerror or e}") from e
        self.check_format(manifest)
        try:
            RunManifest.model_validate(manifest)
        except ValidationError as e:
            why = explain(e)
            raise InputError(
                f"{self.file(RUN_MANIFEST)} is not a stitchbench run manifest ({why[:300]}"
                f"{'...' if len(why) > 300 else ''})"
            ) from None
        return manifest

    def check_format(self, manifest: Any) -> None:
        """Refuse a manifest of a results format newer than this stitchbench reads (before validating it: a
        newer format may hold fields this one does not know), naming the found and the supported format."""
        found = manifest.get("results_format", 1) if isinstance(manifest, dict) else None
        if type(found) is int and found > RESULTS_FORMAT:
            raise InputError(
                f"{self.file(RUN_MANIFEST)} is in results format {found}; this stitchbench reads results format "
                f"{RESULTS_FORMAT} and older: upgrade stitchbench to read it"
            )

    def require(self) -> dict[str, Any]:
        m = self.manifest()
        if m is None:
            raise InputError(f"{self.path} is not a stitchbench run directory (no {RUN_MANIFEST})")
        return m

    def save_manifest(self, manifest: dict[str, Any]) -> None:
        """Write the manifest, stamped with the results format its run folder is written in."""
        manifest["results_format"] = RESULTS_FORMAT
        write_json(self.file(RUN_MANIFEST), manifest)

    def save_job(self, job_id: str, tables: dict[str, pd.DataFrame]) -> dict[str, str]:
        """Write a job's tables ({what: table}); {path relative to the run: sha256} for the manifest."""
        files = {}
        for what, df in tables.items():
            path = self.job_file(job_id, f"{what}.parquet")
            write_parquet(path, df)
            files[str(path.relative_to(self.path))] = file_sha256(path)
        return files

    def damaged(self, files: dict[str, str]) -> list[str]:
        """The files (relative paths) that are missing or whose sha256 is not the recorded one."""
        return [f for f, sha in files.items() if not self.file(f).is_file() or file_sha256(self.file(f)) != sha]

    def damaged_files(self, manifest: dict[str, Any]) -> list[str]:
        """Recorded files (finished jobs' tables, reference tables) that are missing or changed."""
        files = dict(manifest.get("references", {}))
        for s in manifest["jobs"].values():
            files |= s.get("files", {}) if s["status"] == "done" else {}
        return self.damaged(files)

    def damaged_aggregates(self, manifest: dict[str, Any]) -> list[str]:
        """Aggregates (evaluations, indicators, claims, ...) missing or changed since the run built them."""
        return self.damaged(manifest.get("aggregates", {}))

    def verify(self, manifest: dict[str, Any], aggregates: bool = False) -> None:
        """Refuse to build on recorded files that changed since the run wrote them (with `aggregates`: the
        aggregates too)."""
        bad = self.damaged_files(manifest) + (self.damaged_aggregates(manifest) if aggregates else [])
        if bad:
            raise InputError(
                f"{len(bad)} files of {self.path} are missing or changed since the run wrote them "
                f"(first: {bad[0]}); rerun `stitchbench run` with the same suite and --out to recompute them"
            )

    def nonempty_job_files(self, job_ids: list[str], what: str, pool: ThreadPoolExecutor) -> dict[Path, pa.Schema]:
        """The jobs' `what` files that hold rows, with their schemas (from the footer's metadata, read in
        `pool`'s threads). Jobs without rows add nothing: a job that failed before its first evaluation has no
        column types to unite."""
        files = [f for f in (self.job_file(j, f"{what}.parquet") for j in job_ids) if f.is_file()]
        metas = pool.map(pq.read_metadata, files)
        return {f: meta.schema.to_arrow_schema() for f, meta in zip(files, metas, strict=True) if meta.num_rows}

    def job_tables(self, job_ids: list[str], what: str) -> pd.DataFrame:
        """Every job's `what` table, concatenated (read in threads: Parquet decoding releases the GIL; joined
        by Arrow, which unites the instances' differing columns faster than pandas)."""
        with ThreadPoolExecutor(READ_THREADS) as pool:
            tables = list(pool.map(pq.read_table, self.nonempty_job_files(job_ids, what, pool)))
        return pa.concat_tables(tables, promote_options="permissive").to_pandas() if tables else pd.DataFrame()

    def write_job_tables(self, job_ids: list[str], what: str, name: str) -> None:
        """Every job's `what` table, concatenated into the run file `name` (atomically): the columns of every
        instance, a job's missing ones null, JOIN_FILES jobs at a time, so the whole table is never in memory
        (a large run's evaluations are tens of GB as one frame)."""
        with ThreadPoolExecutor(READ_THREADS) as pool:
            schemas = self.nonempty_job_files(job_ids, what, pool)
            if not schemas:
                return write_parquet(self.file(name), pd.DataFrame())
            files = list(schemas)
            schema = pa.unify_schemas(list(schemas.values()), promote_options="permissive")
            schema = schema.remove_metadata()  # each job file's pandas metadata describes its columns only
            with atomic_file(self.file(name)) as tmp, pq.ParquetWriter(str(tmp), schema) as writer:
                for start in range(0, len(files), JOIN_FILES):
                    tables = list(pool.map(pq.read_table, files[start : start + JOIN_FILES]))
                    writer.write_table(conform(pa.concat_tables(tables, promote_options="permissive"), schema))

    def table(self, name: str, select: Callable[[str], bool] | None = None) -> pd.DataFrame:
        """A run table; with `select`, only the columns it accepts (a run's evaluations have a column per
        variable of every instance: read whole, a large run's need tens of GB)."""
        path = self.file(f"{name}.parquet")
        if not path.is_file():
            raise InputError(f"{self.path} has no {name}.parquet; is the run finished?")
        try:
            columns = [c for c in pq.read_schema(path).names if select(c)] if select else None
            return pd.read_parquet(path, columns=columns)
        except (OSError, ValueError) as e:  # pyarrow's errors derive from these
            raise InputError(
                f"{path} is damaged ({type(e).__name__}); `stitchbench run` with the same suite and --out rebuilds it"
            ) from e
