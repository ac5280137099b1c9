"""The generic sections of a run's report, from what it reads of the run (`RunTables`): the introduction, the
solvers (parameters, the best per instance, the leaderboard, the runtime ECDF, the calibration), one section per
instance (its figures and tables) and the failed jobs. Analyses add theirs (`Analysis.blocks`)."""

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from stitchbench.moo._instance import ProblemInstance

from . import _leaderboard as lbm
from ._anytime import N_TARGETS, instance_tests, trace_column
from ._calibration import BASELINE, SOLVED_SHARE, calibrate, calibration_table
from ._calibration import summary as calibration_summary
from ._figures import solver_colours
from ._indicators import by_instance
from ._instance_figures import drawn, front_refs
from ._leaderboard import Leaderboard
from ._render import Block, block_of
from ._statistics import ALPHA, best_solvers
from ._store import RunDir, instances_of
from ._tables import area_table, baseline_table, fmt, solver_table

TABLES = (
    *("fronts", "baselines", "indicators", "anytime", "evaluations", "statistics", "failed_jobs"),
    *("exact_fronts", "ensemble_fronts"),
)


READ_IN_PART = {"evaluations": trace_column, "fronts": lambda c: not c.startswith("x.")}  # the decisions: unread


@dataclass(frozen=True)
class RunTables:
    """What a report reads of a finished run: its manifest, instances, tables (`fronts` of finished jobs only;
    `fronts` and `evaluations` without their decisions: `READ_IN_PART`) and figures folder."""

    manifest: dict
    instances: dict[str, ProblemInstance]
    figdir: Path
    fronts: pd.DataFrame
    baselines: pd.DataFrame
    indicators: pd.DataFrame
    anytime: pd.DataFrame
    evaluations: pd.DataFrame
    statistics: pd.DataFrame
    failed_jobs: pd.DataFrame
    exact_fronts: pd.DataFrame
    ensemble_fronts: pd.DataFrame

    @classmethod
    def read(cls, run: RunDir) -> "RunTables":
        manifest = run.require()
        tables = {t: run.table(t, READ_IN_PART.get(t)) for t in TABLES}
        done = [j for j, s in manifest["jobs"].items() if s["status"] == "done"]
        fronts = tables["fronts"]
        tables["fronts"] = fronts[fronts.job.isin(done)] if len(fronts) else fronts
        return cls(manifest, instances_of(manifest), run.file("figures"), **tables)

    @property
    def colours(self) -> dict[str, str]:
        return solver_colours(s.get("id") or s["name"] for s in self.manifest["suite"]["solvers"])

    @property
    def failed(self) -> dict[str, dict]:
        return {j: s for j, s in self.manifest["jobs"].items() if s["status"] != "done"}

    def leaderboard(self) -> Leaderboard:
        """The run's leaderboard on val (evaluations of finished jobs only)."""
        return lbm.leaderboard(self.indicators, self.exact_fronts, self.evaluations, self.instances, "val")


def intro_blocks(run: RunTables) -> list[Block]:
    """What the run is and how it is compared; a note on evaluations that gave non-finite objectives."""
    suite = run.manifest["suite"]
    intro = (
        f"Suite `{suite['name']}`, {len(run.manifest['jobs'])} jobs "
        f"({len(run.failed)} failed), solver seeds {suite['seeds']}, budget {suite['budget']}. "
        "Solvers searched on the validation splits; fronts, tables and figures show the **test** splits. "
        "Hypervolume is on normalized objectives (scores as they are, cost divided by the instance's costliest "
        "candidate) against a fixed reference point (score 0, cost 1). Solvers are compared by pairwise "
        f"two-sided Mann-Whitney U tests over seeds, Holm-corrected per instance (* p ≤ {ALPHA}), with the "
        "Vargha-Delaney A12 effect size; failed jobs are left out of every statistic, figure and claim."
    )
    note = nonfinite_note(run.indicators)
    return [Block("para", intro)] + ([Block("para", note, note=True)] if note else [])


def nonfinite_note(indicators: pd.DataFrame) -> str:
    if "nonfinite_evaluations" not in indicators:
        return ""
    per_job = indicators.drop_duplicates("job").set_index("job").nonfinite_evaluations
    per_job = per_job[per_job > 0]
    if not len(per_job):
        return ""
    jobs = ", ".join(f"{j} ({n})" for j, n in per_job.items())
    return (
        f"{int(per_job.sum())} evaluations gave NaN or infinite objectives: {jobs}. They are kept in "
        "evaluations.parquet (finite = false) and excluded from fronts and indicators."
    )


def solver_blocks(run: RunTables, lb: Leaderboard) -> list[Block]:
    """The solvers: their parameters, which are significantly best per instance (val: what they optimize),
    and the leaderboard `lb` (over two or more instances: ranks by ECDF area, Friedman, Holm-Wilcoxon, CD
    figure) with the run's runtime ECDF over every instance with targets, and the calibration."""
    params = pd.DataFrame(
        [
            {"solver": s.get("id") or s["name"], "name": s["name"], "parameters": json.dumps(s.get("params", {}))}
            for s in run.manifest["suite"]["solvers"]
        ]
    )
    best = best_solvers(run.indicators, run.statistics, "val")
    if len(best):
        best["top mean HV"] = best["top mean HV"].map(fmt)
    blocks = [
        Block("heading", "Solvers"),
        Block("table", table=params),
        Block(
            "para",
            "Per instance, the solvers no other solver is significantly better than on val (the split they "
            f"search), by pairwise Mann-Whitney tests over seeds (Holm, p ≤ {ALPHA}); each instance's own table "
            "below is on test:",
        ),
        Block("table", table=best),
    ]
    if len(lb.ranked()) >= 2 and lb.friedman.instances >= 2:
        blocks += [
            Block("heading", "Solver leaderboard (runtime-ECDF area, val)", level=3),
            Block("para", lbm.summary(lb)),
            Block("table", table=lbm.board_view(lb)),
            Block("table", table=lbm.pairs_view(lb)),
        ]
        cd = lbm.cd_figure(lb, run.colours, run.figdir)
        blocks += [Block("figure", path=cd)] if cd else []
    ecdf = lbm.ecdf_figure(lb, run.colours, run.figdir)
    if ecdf:
        blocks += [
            Block("heading", "Runtime ECDF (val)", level=3),
            Block(
                "para",
                f"Per instance, {N_TARGETS} hypervolume targets from random search's median at the budget up to "
                "the front's, log-spaced in the gap; the fraction of (instance, seed, target) triples each solver "
                "reached against its evaluations (full-fidelity equivalents). Each instance's own ECDF and areas are "
                "in its section.",
            ),
            Block("figure", path=ecdf),
        ]
    return blocks + calibration_blocks(run, lb)


def calibration_blocks(run: RunTables, lb: Leaderboard) -> list[Block]:
    """The collection's calibration rule on the run's seeds, where random search and another solver ran (on
    the runs' ECDF areas of the run's leaderboard `lb`, on val)."""
    ind = run.indicators
    if not (len(ind) and BASELINE in set(ind.solver) and ind.solver.nunique() >= 2):
        return []
    records = calibrate(ind, run.exact_fronts, run.evaluations, run.instances, lb.runs)
    return [
        Block("heading", "Calibration (val)", level=3),
        Block(
            "para",
            f"{calibration_summary(records)}: the collection's rule (docs/collection.md) on this run's seeds. "
            "An instance is calibrated where no solver reaches the front on more than "
            f"{SOLVED_SHARE:.0%} of its seeds and its runs' ECDF areas separate two solvers other than {BASELINE} "
            "search and the weakest "
            "(Mann-Whitney, Holm); per solver, its mean area and (in brackets) the seeds that reach the front.",
        ),
        Block("table", table=calibration_table(records)),
    ]


def instance_blocks(run: RunTables, lb: Leaderboard, marks: dict[str, list]) -> list[Block]:
    """Per instance: a heading, what it is, its figures (drawn in a pool for many), its solvers' table, its
    runtime-ECDF areas (or why it has none) and its baselines. `marks`: the analyses' points on front figures."""
    fronts, anytime, per_run = (by_instance(t) for t in (run.fronts, run.anytime, lb.runs))
    tasks = [
        (
            rec,
            mine := fronts.get(rec.id, run.fronts.iloc[:0]),
            front_refs(rec, run.exact_fronts, run.ensemble_fronts, run.baselines, marks) if len(mine) else None,
            anytime.get(rec.id, run.anytime.iloc[:0]),
            per_run.get(rec.id, lb.runs.iloc[:0]),
            run.colours,
            run.figdir,
        )
        for rec in run.instances.values()
    ]
    tests = instance_tests(lb.runs)
    blocks = []
    for rec, figures in zip(run.instances.values(), drawn(tasks), strict=True):
        items: list = [f"{rec.family}, host {rec.host or '—'}, {rec.metric}; front for IGD+: {rec.front}", *figures]
        items.append(solver_table(rec, run.indicators, run.statistics))
        if rec.id in per_run:
            items.append(
                "Runtime-ECDF areas (val; 1: every target at the first evaluation, 0: none within the budget), "
                f"with two-sided Mann-Whitney U tests over runs, Holm-corrected within the instance (* p ≤ {ALPHA}):"
            )
            items.append(area_table(per_run[rec.id], tests[tests.instance == rec.id]))
        elif rec.id in lb.unscored:
            items.append(f"No runtime ECDF: {lb.unscored[rec.id]}.")
        items.append(baseline_table(rec, run.baselines))
        blocks += [Block("heading", rec.id), *map(block_of, items)]
    return blocks


def failed_blocks(run: RunTables) -> list[Block]:
    if not run.failed:
        return []
    return [
        Block("heading", "Failed jobs"),
        Block("para", "Left out of every statistic, figure and claim; tracebacks in the log files."),
        Block("table", table=run.failed_jobs),
    ]
