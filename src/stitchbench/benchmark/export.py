"""Export a tabular problem instance as Parquet tables + `manifest.json` (the format is described in
`stitchbench.tabular.load`, which reads it back without torch). The manifest holds the format version, the
problem instance record, the family, variables and objectives, the artifact sha256s and the sha256 of every
other file in the directory."""

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from stitchbench import __version__
from stitchbench.artifacts import default_cache_dir
from stitchbench.errors import InputError, unknown
from stitchbench.hashing import file_sha256
from stitchbench.moo.api import EVAL_SPLITS, Problem
from stitchbench.moo.instance import ProblemInstance
from stitchbench.problems.baselines import ensemble_scorer
from stitchbench.tabular.load import FAMILIES, FORMAT, MANIFEST, VERSION

from .suite import expand, load_suite
from .workspace import Workspace

TABULAR_PARAMS = {"stitch-ensemble": ("alpha_grid",), "stitch-graph": ("points", "max_points")}
HINTS = {
    "stitch-ensemble": "give it alpha_grid = N (N >= 2) in its params (a table over 1 GiB, as segmentation at "
    "its default size, stays live)",
    "stitch-graph": "give it points = [...] or max_points = k in its params",
    "ensemble-weights": "it is always tabular",
}


def not_tabular(instance: str, family: str) -> InputError:
    hint = HINTS.get(family, f"families that export: {', '.join(FAMILIES)}")
    return InputError(f"instance {instance!r} ({family}) is not tabular, so it cannot be exported; {hint}")


def check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} exists and is not an empty directory; export into a new or empty one")


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


def write_weights(problem: Problem, out: Path) -> dict:
    """ensemble-weights: the members' probabilities (exactly what its scorers hold), labels and FLOPs."""
    scorers = {
        (p, s): ensemble_scorer(problem.zoo, problem.members, p, s) for p in problem.parties() for s in EVAL_SPLITS
    }
    write_members(problem, out, problem.flops)
    return write_ensemble(
        out, {k: v.probs for k, v in scorers.items()}, {k: v.y for k, v in scorers.items()}, ["member"]
    )


def write_members(problem: Problem, out: Path, flops: np.ndarray) -> None:
    names = [v.name for v in problem.variables if v.name.startswith("w.")]
    write(out / "members.parquet", {"member": np.arange(len(names), dtype=np.int32), "name": names, "flops": flops})


def write_stitch_ensemble(problem: Problem, out: Path) -> dict:
    """stitch-ensemble: its EnsembleTable (branch probabilities at every point x alpha, labels, costs)."""
    t = problem.table
    names = list(problem.variables[0].choices)
    write_members(problem, out, np.asarray(t.full, dtype=float))
    write(out / "alphas.parquet", {"level": np.arange(len(t.alphas), dtype=np.int32), "alpha": np.asarray(t.alphas)})
    points = {
        "point": np.arange(len(names), dtype=np.int32),
        "name": names,
        "prefix": np.asarray(t.prefix, dtype=float),
    }
    write(
        out / "points.parquet",
        points | {f"branch.{m}": np.asarray(t.branch[:, m], dtype=float) for m in range(t.branch.shape[1])},
    )
    return write_ensemble(out, t.probs, t.labels, ["point", "level", "member"])


def write_graph(problem: Problem, out: Path) -> dict:
    """stitch-graph: the arrays of its GraphTable."""
    arrays = problem.table.to_arrays()
    for name, a in arrays.items():
        a = np.asarray(a)
        write(
            out / f"graph.{name}.parquet",
            {"value": a} if a.ndim == 1 else {f"c.{j}": a[:, j] for j in range(a.shape[1])},
        )
    return {"graph_arrays": list(arrays)}


WRITERS = {"ensemble-weights": write_weights, "stitch-ensemble": write_stitch_ensemble, "stitch-graph": write_graph}


def write_common(problem: Problem, out: Path) -> None:
    """Baselines and fronts per split, and the output-ensemble front (claim 4's E) where there is one."""
    names = [o.name for o in problem.objectives]
    rows = [(s, b, v) for s in EVAL_SPLITS for b, v in problem.baselines(s).items()]
    write(
        out / "baselines.parquet",
        {"split": [r[0] for r in rows], "baseline": [r[1] for r in rows]}
        | {f"f.{n}": np.array([float(r[2][j]) for r in rows]) for j, n in enumerate(names)},
    )
    fronts = {s: problem.exact_front(s) for s in EVAL_SPLITS}
    fronts = {s: np.empty((0, len(names))) if f is None else np.asarray(f, dtype=float) for s, f in fronts.items()}
    write(
        out / "fronts.parquet",
        {"split": [s for s, f in fronts.items() for _ in f]}
        | {f"f.{n}": np.concatenate([f[:, j] for f in fronts.values()]) for j, n in enumerate(names)},
    )
    ensembles = problem.output_ensembles()
    if ensembles is not None:
        W, val, test = (np.asarray(a, dtype=float) for a in ensembles)
        cols = {f"w.{i}": W[:, i] for i in range(W.shape[1])}
        for split, a in (("val", val), ("test", test)):
            cols |= {f"{split}.{p}": a[:, j] for j, p in enumerate(problem.parties())}
        write(out / "output_ensembles.parquet", cols)


def export_problem(problem: Problem, instance: ProblemInstance, out: Path) -> dict:
    """Write a tabular problem and its instance record into the new or empty directory `out`, through a
    temporary sibling renamed into place at the end; returns the manifest."""
    out = Path(out)
    if instance.family not in WRITERS:
        raise InputError(f"family {instance.family!r} cannot be exported; families that export: {', '.join(FAMILIES)}")
    if not problem.tabular:
        raise not_tabular(instance.id, instance.family)
    check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        shapes = WRITERS[instance.family](problem, tmp)
        write_common(problem, tmp)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "family": instance.family,
            "instance": instance.model_dump(mode="json"),
            "variables": [v.record() for v in problem.variables],
            "objectives": [asdict(o) for o in problem.objectives],
            "front_kind": problem.front_kind(),
            "train_parties": problem.train_parties(),
            "max_cost": float(problem.max_cost()),
            "artifacts": dict(instance.artifacts),
            **shapes,
            "written_by": {"stitchbench": __version__, "pyarrow": pa.__version__},
            "files": {f.name: file_sha256(f) for f in sorted(tmp.iterdir())},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        check_out(out)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def export_instance(instance_id: str, out: Path, suite_ref: str = "quick", cache_dir: Path | None = None):
    """Build (or reuse from the cache) the instance of a suite and export it; returns (manifest, seconds)."""
    start = time.perf_counter()
    jobs = {j.instance: j for j in expand(load_suite(suite_ref))}
    if instance_id not in jobs:
        raise unknown("instance", instance_id, jobs)
    job = jobs[instance_id]
    if job.family in TABULAR_PARAMS and all(job.problem_params.get(k) in (None, 0) for k in TABULAR_PARAMS[job.family]):
        raise not_tabular(instance_id, job.family)  # before training anything
    check_out(Path(out))
    workspace = Workspace(cache_dir or default_cache_dir())
    manifest = export_problem(workspace.problem(job), workspace.instance(job), Path(out))
    return manifest, time.perf_counter() - start
