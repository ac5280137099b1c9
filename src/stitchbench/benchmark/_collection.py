"""`stitchbench table build-collection`: export every instance of the `collection` suite into the package's
collection (`stitchbench.tabular.catalog`), with `catalog.json`. The tables are rebuilt reproducibly: every
table file of an instance is the same, bit for bit, on a rebuild from the same models (a test checks one),
a best-known front where the suite's solvers are those that made it."""

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import numpy as np

from stitchbench._artifacts import default_cache_dir
from stitchbench._devices import resolve
from stitchbench._files import atomic_write, check_folder
from stitchbench._hashing import file_sha256
from stitchbench._processes import worker_pool
from stitchbench.errors import InputError, unknown
from stitchbench.moo._splits import EVAL_SPLITS
from stitchbench.results import RunDir
from stitchbench.results._calibration import CALIBRATION_SEEDS, CONFIRMATION_SEEDS, calibration_of_run
from stitchbench.results._store import instances_of
from stitchbench.solvers import create_solver, run_solver
from stitchbench.tabular._catalog import CATALOG, COLLECTION, SUITE, catalog_file, collection_name, entry
from stitchbench.tabular._export import export_problem
from stitchbench.tabular._load import holds
from stitchbench.zoo._training import one_thread

from ._export import check_tabular
from ._suite import Suite, expand, load_suite
from ._workspace import Workspace


def collection_jobs(suite: Suite, only: list[str] | None = None) -> dict:
    """{name: the first job of each instance} of the suite, every one tabular (checked before any build)."""
    jobs = {}
    for job in expand(suite):
        jobs.setdefault(collection_name(job.instance), job)
    for name in only or []:
        if name not in jobs:
            raise unknown("instance of the collection", name, jobs)
    jobs = {n: j for n, j in jobs.items() if not only or n in only}
    for job in jobs.values():
        check_tabular(job)
    return jobs


def calibration_records(run_dir: Path, confirmation_dir: Path) -> dict[str, dict]:
    """{collection name: calibration record} of a finished run of the collection's suite, confirmed on a
    second run of it."""
    records = calibration_of_run(run_dir, confirmation_dir)
    return {collection_name(r.instance): r.model_dump(mode="json") for r in records}


def check_calibration(calibration: dict[str, dict], names: list[str], suite: Suite, suite_ref: str) -> None:
    """A calibration must come from runs of the collection's suite: every instance built, at the suite's
    budget, by its solvers with their parameters, calibrated on the CALIBRATION_SEEDS and confirmed on the
    CONFIRMATION_SEEDS (an InputError naming what differs)."""
    missing = [n for n in names if n not in calibration]
    if missing:
        raise InputError(
            f"--calibration: the run has no results for {', '.join(missing)}; give a finished run of the "
            f"{suite_ref!r} suite"
        )
    solvers = {s.label: s.params for s in suite.solvers}
    budgets = {s.label: s.budget or suite.budget for s in suite.solvers}
    for name in names:
        c = calibration[name]
        if (c.get("budget"), c.get("solver_params"), c.get("solver_budgets")) != (suite.budget, solvers, budgets):
            raise InputError(
                f"--calibration: {name} was run at budget {c.get('budget')} with solvers {c.get('solver_params')} "
                f"(budgets {c.get('solver_budgets')}); the {suite_ref!r} suite has budget {suite.budget} and solvers "
                f"{solvers} (budgets {budgets})"
            )
        seeds = (c.get("seeds"), (c.get("confirmation") or {}).get("seeds"))
        if seeds != (CALIBRATION_SEEDS, CONFIRMATION_SEEDS):
            raise InputError(
                f"--calibration: {name} was calibrated on seeds {seeds[0]} and confirmed on {seeds[1]}; the "
                f"collection is calibrated on {CALIBRATION_SEEDS} and confirmed on {CONFIRMATION_SEEDS}"
            )
        if c.get("verdict") != "calibrated":
            raise InputError(
                f"--calibration: {name} is {c.get('verdict')!r}, not calibrated; "
                f"leave it out of the {suite_ref!r} suite"
            )


def write_catalog(folder: Path, catalog: dict) -> None:
    """`folder`'s catalog.json, written whole or not at all."""
    atomic_write(folder / CATALOG, (json.dumps(catalog, indent=1) + "\n").encode())


KNOWN_BUDGET = 10  # times the suite's budget: the runs whose union improves an approximate front


def best_known(problem, suite) -> tuple[dict[str, np.ndarray], dict]:
    """The objective vectors (per split) of one run of each of the suite's solvers at KNOWN_BUDGET times its
    budget (its own where it has one; seed 0, searching val): what a best-known front adds to a lattice front,
    and how it was made."""
    decisions, solvers = [], []
    for spec in suite.solvers:
        budget = KNOWN_BUDGET * (spec.budget or suite.budget)
        run = run_solver(create_solver(spec.name, **spec.params), problem, budget, seed=0)
        decisions += [e.x for e in run.log]
        solvers.append(f"{spec.label} at {budget:,} evaluations")
    X = np.array(decisions)
    known = {split: problem.evaluate(X, split) for split in EVAL_SPLITS}
    return known, {"front_source": f"best known: the lattice front and {', '.join(solvers)} (seed 0)"}


BUILD_WORKERS = 2  # instances exported at once, each in a process of its own on one thread


def build_entry(name: str, job, suite, folder: Path, cache_dir: Path, device: str) -> tuple[dict, float, int]:
    """Export one instance into `folder / name` (a best-known front for an approximate one), in a pool worker
    with a workspace of its own (its models and tables come from the cache); (its entry, seconds, bytes)."""
    start = time.perf_counter()
    workspace = Workspace(cache_dir, zoo_workers=1, device=resolve(device))
    with one_thread():
        problem = workspace.problem(job)
        known, fields = best_known(problem, suite) if problem.front_kind() == "approximate" else (None, {})
        manifest = export_problem(problem, workspace.instance(job), folder / name, known, **fields)
    size = sum(f.stat().st_size for f in (folder / name).iterdir())
    return entry(name, manifest, file_sha256(folder / name / "manifest.json"), size), time.perf_counter() - start, size


def build_collection(
    out: Path | None = None,
    suite_ref: str = SUITE,
    cache_dir: Path | None = None,
    only: list[str] | None = None,
    calibration: dict | None = None,
    on_instance=None,
    device: str | None = None,
) -> list[dict]:
    """Export the suite's instances (or `only` those) into `out` (default: the package's collection),
    replacing it whole at the end, with catalog.json; `calibration` ({name: record}) goes into the entries.
    With `only`, the suite's other instances that `out` holds are kept as they are (tables and entries).
    Built on `device` (default: the CPU, as the shipped collection was). `on_instance(name, seconds, bytes)`
    reports progress. Returns the catalog's entries, in the suite's order."""
    out = Path(out) if out else COLLECTION
    check_folder(out, "--out")
    suite = load_suite(suite_ref)
    jobs = collection_jobs(suite, only)
    if calibration is not None:
        check_calibration(calibration, list(jobs), suite, suite_ref)
    if out.exists() and any(out.iterdir()) and not (out / CATALOG).is_file():
        raise InputError(f"{out} exists and holds no collection ({CATALOG}); give a new or empty folder")
    order = list(collection_jobs(suite))
    kept = held_entries(out, suite_ref, [n for n in order if n not in jobs]) if only else {}
    device = str(resolve(device or "cpu"))  # checked here; each worker resolves it again
    tmp = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir(parents=True)
    try:
        entries = []
        with worker_pool(min(BUILD_WORKERS, len(jobs))) as pool:
            cache = cache_dir or default_cache_dir()
            futures = {n: pool.submit(build_entry, n, j, suite, tmp, cache, device) for n, j in jobs.items()}
            for name, future in futures.items():
                e, seconds, size = future.result()
                if on_instance:
                    on_instance(name, seconds, size)
                entries.append(e)
        for e in entries:
            if calibration and e["name"] in calibration:
                e["calibration"] = calibration[e["name"]]
        for name in kept:
            shutil.copytree(out / name, tmp / name)
        entries = sorted([*entries, *kept.values()], key=lambda e: order.index(e["name"]))
        catalog = {"suite": suite_ref, "instances": entries}
        write_catalog(tmp, catalog)
        old = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.old"
        if out.exists():
            os.replace(out, old)
        try:
            os.replace(tmp, out)
        except BaseException:
            if old.exists():
                os.replace(old, out)  # the collection as it was
            raise
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return entries


def held_entries(folder: Path, suite_ref: str, names: list[str]) -> dict[str, dict]:
    """{name: catalog entry} of those of `names` that the collection in `folder` holds (none where it holds
    none), each instance's manifest checked against its entry's sha256 (the manifest pins its tables')."""
    catalog = catalog_file(folder)
    if not catalog:
        return {}
    if catalog.get("suite") != suite_ref:
        raise InputError(
            f"{folder} holds a collection of the {catalog.get('suite')!r} suite, not {suite_ref!r}; give another --out"
        )
    entries = {e["name"]: e for e in catalog.get("instances", []) if e.get("name") in names}
    for name, e in entries.items():
        manifest = folder / name / "manifest.json"
        if not manifest.is_file() or file_sha256(manifest) != e.get("manifest_sha256"):
            raise InputError(
                f"{folder / name}: its manifest is not the one {folder / CATALOG} records; rebuild it (--only {name})"
            )
    return entries


def check_run_of_tables(run_dir: Path, out: Path | None = None) -> None:
    """Refuse a run whose instances are not those of the collection at `out` (default: the package's) where
    it holds them: a calibration recorded without a rebuild must be of its tables (a run of the `solvers`
    suite), not of instances of the same names built from other models."""
    folder = Path(out) if out else COLLECTION
    other = [
        iid
        for iid, rec in instances_of(RunDir(run_dir).require()).items()
        if (folder / collection_name(iid)).is_dir() and not holds(folder / collection_name(iid), rec)
    ]
    if other:
        raise InputError(
            f"{run_dir} ran other instances than the tables in {folder} under the same names (other models or "
            f"parameters): {', '.join(other)}; record the calibration of runs of the solvers suite (its tables)"
        )


def recalibrate(calibration: dict, out: Path | None = None, suite_ref: str = SUITE) -> list[dict]:
    """Record `calibration` ({name: record}) in a built collection (default: the package's) without rebuilding
    its tables: its instances must be the suite's, and the records are checked as for a rebuild. Returns
    the catalog's entries."""
    out = Path(out) if out else COLLECTION
    if not (out / CATALOG).is_file():
        raise InputError(f"{out} holds no collection ({CATALOG}); build it first: stitchbench table build-collection")
    suite = load_suite(suite_ref)
    catalog = json.loads((out / CATALOG).read_text())
    names, wanted = [e["name"] for e in catalog["instances"]], list(collection_jobs(suite))
    if sorted(names) != sorted(wanted) or catalog.get("suite") != suite_ref:
        raise InputError(
            f"{out} holds {', '.join(sorted(names))} (suite {catalog.get('suite')!r}); the {suite_ref!r} suite has "
            f"{', '.join(sorted(wanted))}: rebuild it (drop --keep-tables)"
        )
    check_calibration(calibration, names, suite, suite_ref)
    for e in catalog["instances"]:
        e["calibration"] = calibration[e["name"]]
    write_catalog(out, catalog)
    return catalog["instances"]
