"""The export format's files (torch-free): Parquet tables written and read in long form, and the manifest
that lists every file's sha256 (checked before anything is read).

Format 1: a per-sample value of shape S is flattened into the columns `p.0 .. p.{prod(S)-1}` (the class
probabilities, for classification), S in the manifest. Every export holds `baselines.parquet` (split,
baseline, `f.<objective>` ...), `fronts.parquet` (split, `f.<objective>` ...; none: no rows) and, for
stitching instances, `output_ensembles.parquet` (`w.<i>` per member, `val.<party>` ..., `test.<party>` ...);
each table class (`WeightsTable`, `EnsembleTable`, `GraphTable`) writes and reads its own files.
"""

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from stitchbench._files import parse, read_regular
from stitchbench._hashing import file_sha256
from stitchbench.errors import InputError, shorten
from stitchbench.moo._splits import EVAL_SPLITS

FORMAT = "stitchbench-table"
VERSION = 1
TABLE_MANIFEST = "manifest.json"


class TableIntegrityError(InputError):
    """An exported table whose file is missing or does not match the sha256 in its manifest."""


def read_manifest(directory: Path, manifest_sha256: str | None = None) -> dict[str, Any]:
    """The manifest of an export, after checking the sha256 of every file it lists (and of the manifest
    itself, where `manifest_sha256` is given)."""
    directory = Path(directory)
    path = directory / TABLE_MANIFEST
    if not path.is_file():
        raise InputError(
            f"{directory} holds no exported table ({TABLE_MANIFEST} not found); see 'stitchbench table export'"
        )
    if manifest_sha256 is not None and (actual := file_sha256(path)) != manifest_sha256:
        raise TableIntegrityError(f"{path}: sha256 {actual}, expected {manifest_sha256}")
    try:
        manifest = parse(json.loads, read_regular(path), str(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON: {e}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise InputError(f"{path}: not a {FORMAT} manifest of version {VERSION}")
    files = manifest.get("files", {})
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise InputError(f"{path}: 'files' must map each file name to its sha256, got {shorten(files)}")
    for name, expected in files.items():
        if Path(name).name != name or name in (TABLE_MANIFEST, "", ".", ".."):
            raise InputError(f"{path}: file name {name!r} is not a plain file name in {directory}")
        if not (directory / name).is_file():
            raise TableIntegrityError(f"{directory / name}: missing; the manifest lists it with sha256 {expected}")
        check_listed(directory / name, file_sha256(directory / name), expected)
    return manifest


def check_listed(path: Path, actual: str, expected: str) -> None:
    """A file's sha256 against the one its export's manifest lists."""
    if actual != expected:
        raise TableIntegrityError(f"{path}: sha256 {actual}, expected {expected} (from {TABLE_MANIFEST})")


def write(path: Path, columns: dict[str, np.ndarray] | list[dict[str, np.ndarray]]) -> None:
    """One Parquet file (zstd) of columns, or of several column groups of one schema (one row group each)."""
    groups = [columns] if isinstance(columns, dict) else columns
    tables = [pa.table(g) for g in groups]
    schema = tables[0].schema
    strings = [f.name for f in schema if pa.types.is_dictionary(f.type) or pa.types.is_string(f.type)]
    floats = [f.name for f in schema if pa.types.is_floating(f.type)]  # byte-stream split: zstd packs them best
    options = {"use_dictionary": strings or False, "use_byte_stream_split": floats or False}
    with pq.ParquetWriter(path, schema, compression="zstd", **options) as w:
        for t in tables:
            w.write_table(t)


def labelled(names: list[str], index: int, n: int) -> pa.DictionaryArray:
    """A column of n copies of names[index], dictionary-encoded over `names` (one schema for every group)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.full(n, index, dtype=np.int32)), pa.array(names))


def long_columns(array: np.ndarray, keys: list[str], prefix: str) -> dict[str, np.ndarray]:
    """A dense array (index axes named by `keys`, then per-row values flattened into `<prefix><i>`)."""
    shape = array.shape[: len(keys)]
    flat = array.reshape(int(np.prod(shape)), -1)
    index = np.unravel_index(np.arange(len(flat)), shape)
    cols = {k: i.astype(np.int32) for k, i in zip(keys, index, strict=True)}
    return cols | {f"{prefix}{j}": np.ascontiguousarray(flat[:, j]) for j in range(flat.shape[1])}


def value_columns(table: pa.Table, prefix: str) -> list[str]:
    """The columns `<prefix><i>` in order of i."""
    cols = [c for c in table.column_names if c.startswith(prefix) and c[len(prefix) :].isdigit()]
    return sorted(cols, key=lambda c: int(c[len(prefix) :]))


def column(table: pa.Table, name: str) -> np.ndarray:
    """A column as a read-only array (`values`)."""
    return values(table.column(name).combine_chunks())


def values(array: pa.Array) -> np.ndarray:
    """An Arrow array as numpy, numbers straight from its buffer (pyarrow's own `to_numpy` imports pandas,
    which loading a table does not need: a third of a fresh load's time)."""
    if pa.types.is_boolean(array.type):  # bit-packed
        return values(pc.cast(array, pa.uint8())).astype(bool)
    if array.null_count or not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
        return np.array(array.to_pylist())
    dtype = np.dtype(array.type.to_pandas_dtype())
    return np.frombuffer(array.buffers()[1], dtype, len(array), array.offset * dtype.itemsize)


def dense(table: pa.Table, keys: list[str], shape: tuple[int, ...], cols: list[str], dtype=np.float32) -> np.ndarray:
    """A long table (one row per index tuple of `keys`, values in `cols`) as a dense array of shape
    `shape + (len(cols),)`; every index tuple must occur exactly once."""
    index = tuple(column(table, k).astype(np.int64) for k in keys)
    size = int(np.prod(shape))
    try:
        flat = np.ravel_multi_index(index, shape)
    except ValueError as e:
        raise InputError(f"table index {keys} outside the shape {shape}") from e
    if len(flat) != size or np.bincount(flat, minlength=size).max(initial=0) != 1:
        raise InputError(f"table index {keys} does not cover the shape {shape} exactly once")
    values = np.column_stack([column(table, c) for c in cols]).astype(dtype, copy=False)
    if not (flat[1:] > flat[:-1]).all():  # rows in index order, as `write` leaves them, are the array already
        out = np.empty((size, len(cols)), dtype=dtype)
        out[flat] = values
        values = out
    return values.reshape(*shape, len(cols))


def by_party_split(table: pa.Table):
    """(party, split, sub-table) for every (party, split) of a long table: parties in order of appearance, and
    each party's splits (a slice of the table where its rows are contiguous, as `write` leaves them)."""
    (party, parties), (split, splits) = (codes_of(table, c) for c in ("party", "split"))
    for p in first_appearances(party):
        mine = party == p
        for s in first_appearances(split[mine]):
            rows = np.flatnonzero(mine & (split == s))
            contiguous = rows[-1] - rows[0] + 1 == len(rows)
            yield parties[p], splits[s], table.slice(rows[0], len(rows)) if contiguous else table.take(rows)


def first_appearances(codes: np.ndarray) -> list[int]:
    """The distinct codes (small ints) in order of first appearance."""
    present = np.flatnonzero(np.bincount(codes)) if len(codes) else []
    return sorted(present, key=lambda v: int(np.argmax(codes == v)))


def codes_of(table: pa.Table, name: str) -> tuple[np.ndarray, list[str]]:
    """A string column as codes into its distinct values."""
    array = table.column(name).combine_chunks()
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    return values(array.indices), array.dictionary.cast(pa.string()).to_pylist()


def read(directory: Path, manifest: dict[str, Any], name: str) -> pa.Table:
    """A verified file of an export (`read_manifest` checked every sha256)."""
    if name not in manifest["files"]:
        raise InputError(f"{directory}: the {manifest.get('family')} export lacks {name}")
    return pq.ParquetFile(Path(directory) / name).read()  # not read_table: its datasets import pandas


def read_again(directory: Path, manifest: dict[str, Any], name: str) -> pa.Table:
    """A file of an export read after `read_manifest` verified it, when first needed (a table's deferred
    arrays): its bytes verified again and parsed from those bytes, so what is read is what was verified."""
    path = Path(directory) / name
    if not path.is_file():  # gone, or no longer a regular file (reading a FIFO would wait forever)
        raise TableIntegrityError(f"{path}: not a file any more; {TABLE_MANIFEST} lists it")
    data = path.read_bytes()
    check_listed(path, hashlib.sha256(data).hexdigest(), manifest["files"][name])
    return pq.ParquetFile(pa.BufferReader(data)).read()


@contextmanager
def malformed(directory: Path) -> Iterator[None]:
    """Within: an error of an export's content (its hashes consistent) raised as an InputError naming it."""
    try:
        yield
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, pa.ArrowException) as e:
        raise InputError(f"{directory}: malformed export ({type(e).__name__}: {e})") from e


def write_ensemble(out: Path, probs: dict, labels: dict, keys: list[str]) -> dict:
    """probs.parquet and labels.parquet of (party, split) -> arrays; returns the manifest's shape fields."""
    parties, splits = list(dict.fromkeys(p for p, _ in probs)), list(EVAL_SPLITS)

    def where(p: str, s: str, n: int) -> dict:
        return {"party": labelled(parties, parties.index(p), n), "split": labelled(splits, splits.index(s), n)}

    prob_groups, label_groups = [], []
    for (p, s), a in probs.items():
        y = np.asarray(labels[p, s])
        cols = long_columns(np.asarray(a, dtype=np.float32), [*keys, "sample"], "p.")
        prob_groups.append(where(p, s, len(cols["sample"])) | cols)
        sample = np.arange(len(y), dtype=np.int32)
        label_groups.append(
            where(p, s, len(y)) | ({"sample": sample, "y": y} if y.ndim == 1 else long_columns(y, ["sample"], "y."))
        )
    write(out / "probs.parquet", prob_groups)
    write(out / "labels.parquet", label_groups)
    first, y = next(iter(probs.values())), np.asarray(next(iter(labels.values())))
    return {
        "shape": list(first.shape[: len(keys)]),
        "sample_shape": list(first.shape[len(keys) + 1 :]),
        "label_shape": list(y.shape[1:]),
    }


def read_ensemble(directory: Path, manifest: dict[str, Any], keys: list[str]) -> tuple[dict, dict]:
    """probs[(party, split)] (index shape of `keys`..., N, *S) float32 and labels[(party, split)]."""
    sample_shape, label_shape = tuple(manifest["sample_shape"]), tuple(manifest["label_shape"])
    labels = {}
    for p, s, t in by_party_split(read(directory, manifest, "labels.parquet")):
        cols = ["y"] if "y" in t.column_names else value_columns(t, "y.")
        labels[p, s] = dense(t, ["sample"], (len(t),), cols, np.int64).reshape(len(t), *label_shape)
    shape = tuple(manifest["shape"])  # the index shape before the sample axis
    probs = {}
    for p, s, t in by_party_split(read(directory, manifest, "probs.parquet")):
        n = len(labels[p, s])
        probs[p, s] = dense(t, [*keys, "sample"], (*shape, n), value_columns(t, "p.")).reshape(*shape, n, *sample_shape)
    return probs, labels


INTERVALS = ("lo", "hi", "lo_strict", "hi_strict")


def write_intervals(out: Path, intervals: dict) -> dict:
    """intervals.parquet: per party, split, point, alpha level and sample, the interval of weights on member A
    where the sample is right (`stitchbench.moo._scoring.sample_intervals`); the manifest's fields."""
    parties, splits = list(dict.fromkeys(p for p, _ in intervals)), list(EVAL_SPLITS)
    groups = []
    for (p, s), arrays in intervals.items():
        shape = arrays[0].shape
        n = int(np.prod(shape))
        axes = np.unravel_index(np.arange(n), shape)
        index = {k: i.astype(np.int32) for k, i in zip(("point", "level", "sample"), axes, strict=True)}
        where = {"party": labelled(parties, parties.index(p), n), "split": labelled(splits, splits.index(s), n)}
        groups.append(where | index | {k: a.reshape(-1) for k, a in zip(INTERVALS, arrays, strict=True)})
    write(out / "intervals.parquet", groups)
    return {"encoding": "intervals", "samples": {f"{p}/{s}": int(a[0].shape[-1]) for (p, s), a in intervals.items()}}


def read_intervals(directory: Path, manifest: dict[str, Any]) -> dict:
    """intervals[(party, split)] = (lo, hi, lo_strict, hi_strict), each (points, levels, samples)."""
    P, A, _ = manifest["shape"]
    out = {}
    for p, s, t in by_party_split(read(directory, manifest, "intervals.parquet")):
        shape = (P, A, int(manifest["samples"][f"{p}/{s}"]))
        lo, hi = (dense(t, ["point", "level", "sample"], shape, [c], np.float64)[..., 0] for c in INTERVALS[:2])
        flags = (dense(t, ["point", "level", "sample"], shape, [c], bool)[..., 0] for c in INTERVALS[2:])
        out[p, s] = (lo, hi, *flags)
    return out
