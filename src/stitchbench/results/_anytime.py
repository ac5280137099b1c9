"""Anytime, target-based comparison of solvers (COCO's runtime ECDFs, on hypervolume; torch-free).

Per instance, N_TARGETS hypervolume targets lie between random search's median hypervolume at the budget and
the front's, log-spaced in the gap that remains: the front's hypervolume less gap * 10**-k for k evenly
from 0 to DEPTH. A run's runtime to a target is the evaluations it spent (in full-fidelity equivalents) until
the hypervolume of everything it evaluated at fidelity 1 reached the target; censored (inf) where the budget
ran out first. A solver's ECDF is the fraction of (instance, seed, target) triples reached against log
evaluations; its area, over log evaluations from 1 to the budget, is normalized to [0, 1]: 1 reaches every
target at the first evaluation, 0 none within the budget. Across instances, solvers are compared on their
mean area per instance (Friedman, Holm-corrected Wilcoxon: `leaderboard.friedman`, `leaderboard.pairwise`);
per instance, on their runs' areas (two-sided Mann-Whitney U, Holm-corrected, with A12). The leaderboard
ranks by this area. An instance without targets (no random-search runs, or random's median already at the
front) is left out, with its reason (`runs`)."""

from pathlib import Path

import numpy as np
import pandas as pd

from stitchbench.errors import InputError
from stitchbench.moo._instance import ProblemInstance

from ._figures import savefig
from ._indicators import evaluated, final_hypervolume, first_reaching, traced
from ._statistics import mann_whitney_pairs

N_TARGETS = 51
DEPTH = 5  # the last target: the front's hypervolume less 10**-DEPTH of the gap
TEST_COLUMNS = [
    *("instance", "solver_a", "solver_b", "n_a", "n_b", "area_a", "area_b"),
    *("U", "p", "p_holm", "A12", "verdict"),
]
BASELINE = "random"  # the solver whose median hypervolume at the budget sets the first target


def targets(baseline_hv: float, front_hv: float, n: int = N_TARGETS) -> np.ndarray:
    """n targets, ascending, log-spaced in the gap from `baseline_hv` up to `front_hv`."""
    gap = front_hv - baseline_hv
    if not gap > 0:
        raise InputError(f"no gap to set targets in: baseline hypervolume {baseline_hv} >= front's {front_hv}")
    return front_hv - gap * np.logspace(0, -DEPTH, n)


def runtimes(first: np.ndarray, spent: np.ndarray) -> np.ndarray:
    """Per target, the evaluations spent (cumulative, `spent`) by the row that first reached it
    (`Trace.reaching`); inf where none did (-1)."""
    return np.where(first >= 0, spent[np.maximum(first, 0)], np.inf)


def area(rt: np.ndarray, budget: float) -> float:
    """The normalized area under a run's ECDF over log evaluations from 1 to `budget`: the mean over targets
    of (log budget - log runtime) / log budget (0 for a target not reached)."""
    span = np.log(budget)
    return float(np.mean(np.where(rt <= budget, (span - np.log(np.maximum(rt, 1))) / span, 0.0)))


TRACE_COLUMNS = frozenset({"job", "instance", "solver", "seed", "eval", "fidelity", "cost"})


def trace_column(name: str) -> bool:
    """The columns of evaluations.parquet that `runs` reads (`RunDir.table(..., select=trace_column)`): not
    the decisions."""
    return name in TRACE_COLUMNS or name.startswith("f.")


def runs(
    evaluations: pd.DataFrame, instances: dict[str, ProblemInstance], front_hv: dict[str, float]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """One row per job: instance, solver, seed, budget, area and its `runtimes` (an array per target), with
    each instance's targets from its BASELINE runs' median hypervolume at the budget up to `front_hv`; and,
    per instance left out for want of targets, why (no BASELINE runs, or their median already at the front)."""
    columns = ["job", "instance", "solver", "seed", "budget", "area", "runtimes"]
    by_instance: dict[str, list] = {}
    for keys, F, spent, rec in evaluated(evaluations, instances):
        by_instance.setdefault(keys["instance"], []).append((keys, F, spent, rec))
    baseline = [(F, rec) for mine in by_instance.values() for keys, F, _, rec in mine if keys["solver"] == BASELINE]
    finals = iter(traced(final_hypervolume, baseline))
    targeted, unscored = {}, {}  # per instance with targets: they and its budget
    for instance, mine in by_instance.items():
        base = [next(finals) for keys, *_ in mine if keys["solver"] == BASELINE]
        if not base:
            unscored[instance] = f"no {BASELINE!r} runs to set its targets from"
            continue
        median, top = float(np.median(base)), front_hv[instance]
        if not median < top:
            unscored[instance] = f"{BASELINE}'s median hypervolume {median:.6g} reaches the front's {top:.6g}"
            continue
        targeted[instance] = targets(median, top), max(round(spent[-1]) for _, _, spent, _ in mine)
    scored = [(job, targeted[i]) for i, mine in by_instance.items() if i in targeted for job in mine]
    reached = traced(first_reaching, [(F, rec, g) for (_, F, _, rec), (g, _) in scored])
    rows = []
    for ((keys, _, spent, _), (_, budget)), first in zip(scored, reached, strict=True):
        rt = runtimes(first, spent)
        rows.append(keys | {"seed": int(keys["seed"]), "budget": budget, "area": area(rt, budget), "runtimes": rt})
    return pd.DataFrame(rows, columns=columns), unscored


def areas(per_run: pd.DataFrame) -> pd.DataFrame:
    """instances x solvers of mean ECDF area (the solvers that ran on every instance), best mean rank first."""
    wide = per_run.pivot_table(index="instance", columns="solver", values="area", aggfunc="mean").dropna(axis=1)
    return wide[wide.rank(axis=1, ascending=False).mean().sort_values(kind="stable").index]


def instance_tests(per_run: pd.DataFrame) -> pd.DataFrame:
    """Per instance, every pair of solvers' run areas (`statistics.mann_whitney_pairs`: two-sided Mann-Whitney
    U, Holm-corrected within the instance, with A12, the probability a run of a has the larger area)."""
    rows = []
    for instance, g in per_run.groupby("instance", sort=False):
        by = {s: r.area.to_numpy(dtype=float) for s, r in g.groupby("solver", sort=True)}
        for r in mann_whitney_pairs(by):
            r["area_a"], r["area_b"] = r.pop("mean_a"), r.pop("mean_b")
            rows.append({"instance": instance} | r)
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


def ecdf(per_run: pd.DataFrame) -> pd.DataFrame:
    """Per solver: the fraction of its (instance, seed, target) triples reached at each runtime (a step)."""
    rows = []
    for solver, g in per_run.groupby("solver", sort=True):
        rt = np.concatenate(g.runtimes.to_list())
        reached = np.sort(rt[np.isfinite(rt)])
        rows += [{"solver": solver, "eval": float(e), "fraction": (i + 1) / len(rt)} for i, e in enumerate(reached)]
    return pd.DataFrame(rows, columns=["solver", "eval", "fraction"])


def ecdf_figure(per_run: pd.DataFrame, colours: dict[str, str], out: Path, title: str) -> Path:
    """The runtime ECDF of each solver (COCO's), evaluations on a log axis up to the budget."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    budget = float(per_run.budget.max())
    for solver, g in ecdf(per_run).groupby("solver", sort=True):
        x, y = [1.0, *g["eval"], budget], [0.0, *g.fraction, g.fraction.iloc[-1]]
        ax.step(x, y, where="post", color=colours.get(solver), label=solver, lw=1.6)
    ax.set(xscale="log", xlim=(1, budget), ylim=(0, 1.02), xlabel="evaluations (full-fidelity equivalents)")
    ax.set_ylabel("fraction of (instance, seed, target) reached")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return savefig(fig, out)
