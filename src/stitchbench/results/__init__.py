"""Results: the run directory, indicators (moocore), the claims check, reports and comparisons."""

import pandas as pd

from .claims import check_claims
from .indicators import anytime, attainment, hypervolume, job_indicators
from .report import write_report
from .store import RunDir, write_json, write_parquet


def write_outputs(run: RunDir, job_ids: list[str], problems: dict, baselines: pd.DataFrame, exact: pd.DataFrame):
    """Assemble the tables from the per-job files, then indicators, claims and the report."""
    evaluations = run.job_tables(job_ids, "evaluations")
    fronts = run.job_tables(job_ids, "front")
    write_parquet(run.file("evaluations.parquet"), evaluations)
    write_parquet(run.file("fronts.parquet"), fronts)
    indicators = job_indicators(fronts, baselines, exact, problems) if len(fronts) else pd.DataFrame()
    if len(indicators) and "finite" in evaluations:
        nonfinite = (~evaluations.finite.astype(bool)).groupby(evaluations.job).sum()
        indicators["nonfinite_evaluations"] = indicators.job.map(nonfinite).fillna(0).astype(int)
    write_parquet(run.file("indicators.parquet"), indicators)
    write_parquet(run.file("anytime.parquet"), anytime(evaluations, problems) if len(evaluations) else pd.DataFrame())
    write_json(run.file("claims.json"), check_claims(baselines, fronts, problems))
    # the report reads the problems from the manifest: make sure it is there before writing it
    manifest = run.require()
    manifest["problems"] = problems
    run.save_manifest(manifest)
    return write_report(run)


__all__ = [
    "RunDir",
    "anytime",
    "attainment",
    "check_claims",
    "hypervolume",
    "job_indicators",
    "write_outputs",
    "write_report",
]
