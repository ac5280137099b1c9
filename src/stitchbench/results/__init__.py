"""Results: the run directory, indicators (moocore), statistics, the claims check, reports and comparisons."""


from stitchbench.problems import ProblemInstance

from .claims import check_claims
from .indicators import anytime, attainment, failed_jobs, hypervolume, job_indicators
from .report import write_report
from .statistics import pairwise_tests
from .store import RunDir, write_json, write_parquet


def write_references(run: RunDir, refs) -> None:
    """The tables a run knows before any job: baselines, exact fronts, weighted output ensemble fronts."""
    write_parquet(run.file("baselines.parquet"), refs.baselines)
    write_parquet(run.file("exact_fronts.parquet"), refs.exact_fronts)
    write_parquet(run.file("ensemble_fronts.parquet"), refs.ensemble_fronts)


def instances_of(manifest: dict) -> dict[str, ProblemInstance]:
    return {k: ProblemInstance(**v) for k, v in manifest["instances"].items()}


def write_outputs(run: RunDir, manifest: dict):
    """Assemble the tables from the per-job files, then indicators (finished jobs only), statistics,
    claims and the report."""
    instances = instances_of(manifest)
    jobs = manifest["jobs"]
    evaluations = run.job_tables(list(jobs), "evaluations")
    fronts = run.job_tables(list(jobs), "front")
    write_parquet(run.file("evaluations.parquet"), evaluations)
    write_parquet(run.file("fronts.parquet"), fronts)
    done = [j for j, s in jobs.items() if s["status"] == "done"]
    fronts_done = fronts[fronts.job.isin(done)] if len(fronts) else fronts
    evals_done = evaluations[evaluations.job.isin(done)] if len(evaluations) else evaluations
    baselines = run.table("baselines")
    exact = run.table("exact_fronts")
    indicators = job_indicators(fronts_done, baselines, exact, instances)
    if len(indicators) and "finite" in evals_done:
        nonfinite = (~evals_done.finite.astype(bool)).groupby(evals_done.job).sum()
        indicators["nonfinite_evaluations"] = indicators.job.map(nonfinite).fillna(0).astype(int)
    write_parquet(run.file("indicators.parquet"), indicators)
    write_parquet(run.file("statistics.parquet"), pairwise_tests(indicators))
    write_parquet(run.file("failed_jobs.parquet"), failed_jobs(jobs))
    write_parquet(run.file("anytime.parquet"), anytime(evals_done, instances))
    claims = check_claims(baselines, fronts_done, run.table("ensemble_fronts"), instances)
    write_json(run.file("claims.json"), claims)
    return write_report(run)


__all__ = [
    "RunDir",
    "anytime",
    "attainment",
    "check_claims",
    "hypervolume",
    "instances_of",
    "job_indicators",
    "pairwise_tests",
    "write_outputs",
    "write_references",
    "write_report",
]
