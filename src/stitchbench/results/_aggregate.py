"""Aggregation: the run's tables (from the per-job files and the reference tables), indicators,
statistics, claims and report; and their rebuild from verified files."""

import pandas as pd

from stitchbench._hashing import file_sha256

from ._analyses import declared
from ._anytime import trace_column
from ._indicators import anytime, failed_jobs, job_indicators
from ._report import write_report
from ._statistics import pairwise_tests
from ._store import AGGREGATES, RunDir, instances_of, write_parquet


def write_references(run: RunDir, tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    """The tables a run knows before any job (baselines, exact fronts, weighted output ensemble fronts, and its
    analyses' reference tables); {file: sha256} for the manifest."""
    for name, df in tables.items():
        write_parquet(run.file(f"{name}.parquet"), df)
    return {f"{name}.parquet": file_sha256(run.file(f"{name}.parquet")) for name in tables}


def rebuild(run: RunDir):
    """Verify a run's recorded files (job files, references and aggregates), then rebuild its tables,
    claims and report from them, holding the run's lock; the manifest records the new aggregates' sha256."""
    run.require()  # a directory that holds no run is refused before anything, the lock too, is written
    run.check_folders()
    with run.lock():
        manifest = run.require()
        run.verify(manifest, aggregates=True)
        paths = write_outputs(run, manifest)
        run.save_manifest(manifest)
        return paths


def write_outputs(run: RunDir, manifest: dict):
    """Assemble the tables from the per-job files, then indicators (finished jobs only), statistics,
    claims and the report; `manifest["aggregates"]` gets every aggregate's sha256 (the caller saves it)."""
    # in the order the saved manifest keeps them (sorted): a rebuild reads the same
    instances, jobs = dict(sorted(instances_of(manifest).items())), dict(sorted(manifest["jobs"].items()))
    done = [j for j, s in jobs.items() if s["status"] == "done"]
    write_indicators(run, instances, jobs, done)
    extra = declared(manifest)
    for analysis in extra:
        analysis.aggregate(run, instances, done)
    outputs = [*AGGREGATES, *(name for a in extra for name in a.outputs)]
    manifest["aggregates"] = {name: file_sha256(run.file(name)) for name in outputs}
    return write_report(run)


def write_indicators(run: RunDir, instances: dict, jobs: dict, done: list[str]) -> None:
    """The run's evaluations and fronts, its indicators, statistics, failed jobs and anytime tables; the frames
    they are made of are freed on return, before the analyses and the report read their own (a large run's
    evaluations are GBs)."""
    run.write_job_tables(list(jobs), "evaluations", "evaluations.parquet")
    fronts = run.job_tables(list(jobs), "front")
    write_parquet(run.file("fronts.parquet"), fronts)
    fronts_done = fronts[fronts.job.isin(done)] if len(fronts) else fronts
    evals_done = run.table("evaluations", lambda c: trace_column(c) or c == "finite")  # not the decisions
    evals_done = evals_done[evals_done.job.isin(done)] if len(evals_done) else evals_done
    baselines = run.table("baselines")
    exact = run.table("exact_fronts")
    indicators = job_indicators(fronts_done, baselines, exact, instances)
    if len(indicators) and "finite" in evals_done:
        nonfinite = (~evals_done.finite.fillna(True).astype(bool)).groupby(evals_done.job).sum()  # no column: finite
        indicators["nonfinite_evaluations"] = indicators.job.map(nonfinite).fillna(0).astype(int)
    write_parquet(run.file("indicators.parquet"), indicators)
    write_parquet(run.file("statistics.parquet"), pairwise_tests(indicators))
    write_parquet(run.file("failed_jobs.parquet"), failed_jobs(jobs))
    write_parquet(run.file("anytime.parquet"), anytime(evals_done, instances))
