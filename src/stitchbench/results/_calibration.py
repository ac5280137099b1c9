"""Whether an instance belongs in a collection (torch-free), from runs of the collection's suite (its solvers,
at its budget, on val) on the CALIBRATION_SEEDS, confirmed on the CONFIRMATION_SEEDS; neither seed set is
ever reported (the tables in the README, the docs and the reports come from the suites' own seeds, 0-19).
An instance is *calibrated* where

(a) it is not solved: no solver reaches the reference hypervolume (its exact front's, else the best-known
    front's; within TOL) on more than SOLVED_SHARE (half) of its seeds, and
(b) it discriminates: its runs' runtime-ECDF areas (`anytime`) separate at least one pair of solvers
    (two-sided Mann-Whitney U, Holm-corrected over every pair of the instance's solvers, p <= ALPHA) of
    which neither is random search nor the *weakest* solver (the lowest mean area but random's): no single
    weak solver carries the verdict. Adding a solver weaker than the others cannot make an instance pass
    unless the one it displaces as the weakest is itself separated from another (more pairs only raise the
    Holm-corrected p-values).

With too few seeds for any Holm-corrected test to reach ALPHA it is "undecided"."""

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from stitchbench.errors import InputError

from ._anytime import BASELINE, instance_tests, runs, trace_column
from ._leaderboard import reference_hv
from ._statistics import ALPHA, decided, seeds_to_decide, smallest_p
from ._store import RunDir, instances_of

CALIBRATION_SEEDS = list(range(1000, 1020))
CONFIRMATION_SEEDS = list(range(2000, 2020))
TOL = 1e-9  # a run's hypervolume this close to the reference's reaches the front
SOLVED_SHARE = 0.5  # an instance is solved where a solver reaches the front on more than this share of its seeds


class Record(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, ser_json_inf_nan="constants")


class SolverCalibration(Record):
    """A solver on one instance: its mean final hypervolume, seeds at the front, mean ECDF area (NaN: none)."""

    hv: float
    at_front: int
    area: float


class CalibrationRecord(Record):
    """One instance's calibration: the reference hypervolume on val (exact or best known), the seeds, each
    solver's numbers, the weakest solver, the pairs separated (winner, loser) without random and the weakest,
    and the verdict; of a run (`calibration_of_run`), its budget and solvers; confirmed, the confirmation's."""

    instance: str
    front: str
    front_hv: float
    seeds: list[int]
    solvers: dict[str, SolverCalibration]
    weakest: str | None
    separated: list[list[str]]
    verdict: str
    confirmation: "CalibrationRecord | None" = None
    budget: int | None = None
    solver_params: dict[str, dict[str, Any]] | None = None
    solver_budgets: dict[str, int] | None = None


def weakest_solver(area: dict[str, float]) -> str | None:
    """The solver with the lowest mean ECDF area, random search aside (rule (b) leaves it out)."""
    return min((s for s in area if s != BASELINE), key=area.get, default=None)


def verdict(hv: dict[str, np.ndarray], ref_hv: float, area: dict[str, float], tests: pd.DataFrame) -> tuple:
    """(verdict, weakest, separated pairs) of one instance: `hv` and `area` per solver (final hypervolumes,
    mean ECDF area), `tests` its `anytime.instance_tests` rows."""
    reached = {s: int((v >= ref_hv - TOL).sum()) for s, v in hv.items()}
    top = max(reached, key=reached.get)
    if reached[top] > len(hv[top]) * SOLVED_SHARE:
        return f"solved: {top} reaches the front on {reached[top]} of {len(hv[top])} seeds", None, []
    if not area:
        return "not discriminating: no runtime-ECDF areas (no targets, or no evaluation logs)", None, []
    n, pairs = min(len(v) for v in hv.values()), len(tests)
    if pairs * smallest_p(n, n) > ALPHA:
        return f"undecided: too few seeds ({n}; {seeds_to_decide(pairs)} would decide)", None, []
    weakest = weakest_solver(area)
    left_out = {BASELINE, weakest}
    separated = [p for p in map(decided, tests.itertuples()) if p and not left_out & set(p)]
    if not separated:
        return f"not discriminating: no two solvers but {BASELINE} and {weakest} are separated", weakest, []
    return "calibrated", weakest, separated


def null_rate(
    areas: np.ndarray,
    solvers: int = 8,
    seeds: int = 20,
    replicates: int = 1000,
    seed: int = 0,
    apart: dict[str, np.ndarray] | None = None,
) -> tuple[float, float]:
    """The size of rule (b) and its standard error: the share of `replicates` null instances it calls
    calibrated, where no run reaches the front and `solvers` solvers draw their `seeds` runs' ECDF areas
    (with replacement) alike from `areas`, so that no pair of them truly differs. `apart` ({solver: run
    areas}) draws those from pools of their own: a partial null, as on a real instance where random search
    and the weakest solver truly differ from the rest (the first pooled solver is random search unless
    `apart` holds it). The rule is meant to keep the rate at ALPHA or below either way."""
    rng = np.random.default_rng(seed)
    pools = {s: np.asarray(a, dtype=float) for s, a in (apart or {}).items()}
    alike = [f"solver-{i}" for i in range(solvers - len(pools))]
    if BASELINE not in pools:
        alike[0] = BASELINE
    pools |= dict.fromkeys(alike, np.asarray(areas, dtype=float))
    names = list(pools)
    hv = dict.fromkeys(names, np.zeros(seeds))
    passed = 0
    for _ in range(replicates):
        draws = {s: rng.choice(pool, seeds) for s, pool in pools.items()}
        per_run = pd.DataFrame(
            {"instance": "null", "solver": np.repeat(names, seeds), "area": np.concatenate(list(draws.values()))}
        )
        word, _, _ = verdict(hv, 1.0, {s: float(v.mean()) for s, v in draws.items()}, instance_tests(per_run))
        passed += word == "calibrated"
    rate = passed / replicates
    return rate, float(np.sqrt(rate * (1 - rate) / replicates))


def rule_size(per_run: pd.DataFrame, replicates: int = 100) -> pd.DataFrame:
    """Rule (b)'s size on null instances built from a run's real area pools (`anytime.runs`): per instance
    and per solver but random search and the weakest, that solver's run areas as the pool of every solver
    (complete null) and as the pool of all but random search and the weakest, drawn from their own (partial
    null); each with its standard error."""
    rows = []
    for iid, g in per_run.groupby("instance", sort=True):
        by = {s: h.area.to_numpy(dtype=float) for s, h in g.groupby("solver", sort=True)}
        if BASELINE not in by or len(by) < 3:
            continue
        weakest = weakest_solver({s: v.mean() for s, v in by.items()})
        apart = {BASELINE: by[BASELINE], weakest: by[weakest]}
        n, seeds = len(by), min(len(v) for v in by.values())
        for solver in (s for s in by if s not in apart):
            complete = null_rate(by[solver], n, seeds, replicates)
            partial = null_rate(by[solver], n, seeds, replicates, apart=apart)
            rows.append(
                {"instance": iid, "pool": solver, "complete": complete[0], "complete_se": complete[1]}
                | {"partial": partial[0], "partial_se": partial[1]}
            )
    return pd.DataFrame(rows, columns=["instance", "pool", "complete", "complete_se", "partial", "partial_se"])


def run_areas(
    indicators: pd.DataFrame,
    exact: pd.DataFrame,
    evaluations: pd.DataFrame,
    instances: dict,
    per_run: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A run's val indicators, each instance's reference hypervolume (`reference_hv`) and its runs' ECDF
    areas (`anytime.runs`; `per_run`: those a leaderboard of the run on val computed already)."""
    val = indicators[indicators.split == "val"] if len(indicators) else indicators
    if not len(val):
        raise InputError("no finished jobs to calibrate")
    if BASELINE not in set(val.solver):
        solvers = ", ".join(sorted(set(val.solver)))
        raise InputError(f"no finished {BASELINE!r} jobs to calibrate against; solvers: {solvers}")
    refs = reference_hv(val, exact, instances, "val")
    if per_run is None:
        ref_hv = dict(zip(refs.instance, refs.ref_hv, strict=True))
        per_run, _ = runs(evaluations[evaluations.job.isin(val.job)], instances, ref_hv)
    return val, refs, per_run


def calibrate(
    indicators: pd.DataFrame,
    exact: pd.DataFrame,
    evaluations: pd.DataFrame,
    instances: dict,
    per_run: pd.DataFrame | None = None,
) -> list[CalibrationRecord]:
    """One record per instance (`CalibrationRecord`; `per_run`: as `run_areas` takes it)."""
    val, refs, per_run = run_areas(indicators, exact, evaluations, instances, per_run)
    ref = dict(zip(refs.instance, refs.ref_hv, strict=True))
    tests = instance_tests(per_run)
    out = []
    for iid, g in val.groupby("instance", sort=True):
        hv = {s: h.hypervolume.to_numpy(dtype=float) for s, h in g.groupby("solver", sort=True)}
        area = per_run[per_run.instance == iid].groupby("solver").area.mean().to_dict()
        if BASELINE not in hv or len(hv) < 2:
            missing = f"no finished {BASELINE!r} jobs" if BASELINE not in hv else f"no solver but {BASELINE!r} finished"
            word, weakest, separated = f"undecided: {missing}", None, []
        else:
            word, weakest, separated = verdict(hv, ref[iid], area, tests[tests.instance == iid])
        solvers = {
            s: SolverCalibration(
                hv=float(v.mean()), at_front=int((v >= ref[iid] - TOL).sum()), area=float(area.get(s, np.nan))
            )
            for s, v in hv.items()
        }
        out.append(
            CalibrationRecord(
                instance=iid,
                front=refs.set_index("instance").reference[iid],
                front_hv=float(ref[iid]),
                seeds=sorted({int(x) for x in g.seed}),
                solvers=solvers,
                weakest=weakest,
                separated=[list(p) for p in separated],
                verdict=word,
            )
        )
    return out


def confirm(calibration: list[CalibrationRecord], confirmation: list[CalibrationRecord]) -> list[CalibrationRecord]:
    """Each instance's calibration record with its record on a disjoint seed set (`confirmation`) beside; it
    stays calibrated only where the confirmation is too ("not confirmed: ..." otherwise). Only calibrated
    instances need a confirmation (one that is not stays out whatever a second seed set says), so a
    confirmation run may hold just those; one it has of another instance is kept beside it all the same."""
    second = {r.instance: r for r in confirmation}
    missing = [r.instance for r in calibration if r.verdict == "calibrated" and r.instance not in second]
    if missing:
        raise InputError(f"the confirmation has no results for {', '.join(missing)} (calibrated on the first seeds)")
    out = []
    for r in calibration:
        c = second.get(r.instance)
        if c is None:
            out.append(r)
            continue
        if set(r.seeds) & set(c.seeds):
            raise InputError(f"{r.instance}: the confirmation's seeds must be disjoint from the calibration's")
        word = r.verdict
        if word == "calibrated" and c.verdict != "calibrated":
            word = f"not confirmed: {c.verdict}"
        out.append(r.model_copy(update={"verdict": word, "confirmation": c}))
    return out


def run_tables(run_dir: Path) -> tuple[dict, tuple]:
    """A finished run's manifest and what `calibrate` takes of it, its files verified."""
    run = RunDir(run_dir)
    manifest = run.require()
    run.verify(manifest, aggregates=True)
    tables = (run.table("indicators"), run.table("exact_fronts"), run.table("evaluations", trace_column))
    return manifest, (*tables, instances_of(manifest))


def size_of_run(run_dir: Path, replicates: int = 100) -> pd.DataFrame:
    """`rule_size` on a finished run's area pools."""
    _, tables = run_tables(run_dir)
    size = rule_size(run_areas(*tables)[2], replicates)
    if not len(size):
        raise InputError(f"{run_dir}: no instance with {BASELINE} and at least two other solvers to draw nulls from")
    return size


def calibration_of_run(run_dir: Path, confirmation_dir: Path | None = None) -> list[CalibrationRecord]:
    """The calibration of a finished run, with its suite's budget, solver parameters and budgets; confirmed on a
    second run of the same suite on other seeds where `confirmation_dir` is given, whose instances of the
    same names must be the same instances (the same records: models trained on another CPU are others)."""
    manifest, tables = run_tables(run_dir)
    if confirmation_dir is not None:
        check_same_instances(manifest, RunDir(confirmation_dir).require(), run_dir, confirmation_dir)
    records = calibrate(*tables)
    suite = manifest["suite"]
    measured = {
        "budget": suite["budget"],
        "solver_params": {s.get("id") or s["name"]: s.get("params", {}) for s in suite["solvers"]},
        "solver_budgets": {s.get("id") or s["name"]: s.get("budget") or suite["budget"] for s in suite["solvers"]},
    }
    if confirmation_dir is not None:
        second = calibration_of_run(confirmation_dir)
        if any(c.model_dump(include=set(measured)) != measured for c in second):
            raise InputError(f"{confirmation_dir} ran another budget or other solvers than {run_dir}")
        records = confirm(records, second)
    return [CalibrationRecord.model_validate(r.model_dump() | measured) for r in records]


def check_same_instances(first: dict, second: dict, first_dir: Path, second_dir: Path) -> None:
    """Refuse (an InputError naming them) two runs' instances of one name with different records."""
    ours, theirs = instances_of(first), instances_of(second)
    differ = [i for i, rec in ours.items() if i in theirs and theirs[i] != rec]
    if differ:
        raise InputError(
            f"{second_dir} ran other instances than {first_dir} under the same names (other models or "
            f"parameters): {', '.join(differ)}; confirm on a run of the same instances (the shipped tables' "
            "suite, or the same machine's models)"
        )


def calibration_table(records: list[CalibrationRecord]) -> pd.DataFrame:
    """The calibration as a table: per instance the reference HV, the seeds, each solver's mean ECDF area and
    seeds at the front, the weakest solver, the pairs separated without it and random, and the verdict."""
    rows = []
    for r in records:
        seeds = r.seeds
        row = {
            "instance": r.instance,
            "front HV": f"{r.front_hv:.4f} ({r.front})",
            "seeds": f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else len(seeds),
        }
        for s, v in r.solvers.items():
            row[s] = f"{v.area:.3f} ({v.at_front})"
        row["weakest"] = r.weakest or "—"
        row["separated"] = "; ".join(f"{a} > {b}" for a, b in r.separated) or "—"
        row["verdict"] = r.verdict
        rows.append(row)
    return pd.DataFrame(rows)


def summary(records: list[CalibrationRecord]) -> str:
    """How many instances are calibrated, and the ones that are not."""
    off = [r.instance for r in records if r.verdict != "calibrated"]
    line = f"{len(records) - len(off)} of {len(records)} instances calibrated at the run's budget"
    return line + (f"; not: {', '.join(off)}" if off else "")
