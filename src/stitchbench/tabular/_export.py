"""Write a tabular problem as Parquet tables + `manifest.json` (torch-free; the format is described in
`stitchbench.tabular._load`, which reads it back). The manifest holds the format version, the problem instance
record, the family, variables and objectives, the artifact sha256s and the sha256 of every other file. Its
table writes its own files (`problem.table.write`); building an instance of a suite to export is the
builders' side (`stitchbench.benchmark._export`)."""

import json
import os
import platform
import shutil
import uuid
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa

from stitchbench import __version__
from stitchbench._files import check_folder
from stitchbench._hashing import cpu_identity, file_sha256
from stitchbench.errors import InputError
from stitchbench.moo._api import Problem
from stitchbench.moo._front import nondominated
from stitchbench.moo._instance import ProblemInstance
from stitchbench.moo._splits import EVAL_SPLITS

from ._files import FORMAT, TABLE_MANIFEST, VERSION, write
from ._problem import TableBackedProblem


def not_tabular(instance: str, family: str, reason: str) -> InputError:
    return InputError(f"instance {instance!r} ({family}) is not tabular, so it cannot be exported: {reason}")


def check_out(out: Path) -> None:
    check_folder(out, "--out")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} exists and is not an empty directory; export into a new or empty one")


def write_common(problem: Problem, out: Path, known: dict[str, np.ndarray] | None = None) -> None:
    """Baselines and fronts per split (with `known`, the non-dominated union of the problem's front and those
    objective vectors), and the output-ensemble front (claim 4's E) where there is one."""
    names = [o.name for o in problem.objectives]
    rows = [(s, b, v) for s in EVAL_SPLITS for b, v in problem.baselines(s).items()]
    write(
        out / "baselines.parquet",
        {"split": [r[0] for r in rows], "baseline": [r[1] for r in rows]}
        | {f"f.{n}": np.array([float(r[2][j]) for r in rows]) for j, n in enumerate(names)},
    )
    fronts = {s: problem.exact_front(s) for s in EVAL_SPLITS}
    fronts = {s: np.empty((0, len(names))) if f is None else np.asarray(f, dtype=float) for s, f in fronts.items()}
    if known:
        fronts = {s: nondominated(np.vstack([f, known[s]]), problem.maximize) for s, f in fronts.items()}
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


def export_problem(
    problem: Problem, instance: ProblemInstance, out: Path, known: dict[str, np.ndarray] | None = None, **fields
) -> dict:
    """Write a tabular problem and its instance record into the new or empty directory `out`, through a
    temporary sibling renamed into place at the end; returns the manifest. An approximate front can be
    improved by `known` objective vectors per split (e.g. solvers' runs), which `fields` then describe (say
    `front_source`)."""
    out = Path(out)
    if not isinstance(problem, TableBackedProblem):
        reason = type(problem).untabular_reason(instance.params) or "its table does not fit (see the family's docs)"
        raise not_tabular(instance.id, instance.family, reason)
    check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        shapes = problem.table.write(tmp)
        write_common(problem, tmp, known)
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
            **fields,
            **shapes,
            # tables are keyed by configuration: another CPU may round float32 differently (docs/tabular.md)
            "written_by": {
                "stitchbench": __version__,
                "pyarrow": pa.__version__,
                "platform": platform.platform(),
                "machine": platform.machine(),
                "cpu": cpu_identity(),
            },
            "files": {f.name: file_sha256(f) for f in sorted(tmp.iterdir())},
        }
        (tmp / TABLE_MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        check_out(out)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest
