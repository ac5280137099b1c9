"""A leaderboard of solvers across problem instances (torch-free): which solver is better, over instances.

The primary measure is anytime (`anytime`, COCO's method on hypervolume): per instance, a solver's mean over
seeds of its runs' runtime-ECDF areas, runtimes to 51 hypervolume targets between random search's median at
the budget and the instance's reference hypervolume on val (where solvers search). The reference is that of
its exact front (or, labelled so, its approximate front or the best front any job reached, whichever is
larger). Solvers are ranked per instance by that mean (1 is best, ties share their mean rank); their average
ranks are compared by a Friedman test (chi-square and Iman-Davenport F) and by pairwise two-sided Wilcoxon
signed-rank tests over instances, Holm-corrected (Benavoli et al., 2016), the better of a pair having the
larger rank sum. An instance without targets (no random runs, or random's median already at the reference)
is left out of the ranking, with its reason. Where the instances are too few for a Holm-corrected p to reach
ALPHA whatever the data (2 / 2**N times the number of pairs), no p-value is given: "too few instances". The
critical-difference figure draws the average ranks with the Nemenyi critical difference and joins solvers no
Holm-Wilcoxon test separates. Secondary columns, on the leaderboard's split: the final *normalized
hypervolume* (a job's hypervolume over the instance's reference) and IGD+.
"""

from contextlib import nullcontext
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from stitchbench.errors import InputError
from stitchbench.moo._instance import ProblemInstance

from ._anytime import N_TARGETS, areas, runs, trace_column
from ._anytime import ecdf_figure as anytime_ecdf_figure
from ._figures import savefig, solver_colours
from ._indicators import hypervolume, long_front
from ._statistics import ALPHA, decided, holm
from ._store import LOCK, RUN_MANIFEST, RunDir


class Record(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, ser_json_inf_nan="constants")


class LeaderboardRow(Record):
    """A solver on one instance (a row of leaderboard.csv): its seeds, mean ECDF area (NaN where the instance
    has no targets) and its SE, its rank there by it (1 is best), its mean normalized hypervolume and SE, mean
    IGD+, and what the reference hypervolume is."""

    instance: str
    solver: str
    seeds: int
    area: float
    area_se: float
    rank: float
    nhv: float
    nhv_se: float
    igd_plus: float
    reference: str


class Friedman(Record):
    """The Friedman test over instances: chi-square (statistic, p) and Iman-Davenport's F (F, F_df, F_p) of
    `solvers` over `instances`, or the `reason` it was not run."""

    solvers: int
    instances: int
    statistic: float | None = None
    p: float | None = None
    F: float | None = None
    F_df: tuple[int, int] | None = None
    F_p: float | None = None
    reason: str | None = None


PER_INSTANCE = list(LeaderboardRow.model_fields)
EXACT_FRONT, APPROXIMATE_FRONT, KNOWN_FRONT = "exact front", "approximate front", "best-known front (collection)"


@dataclass
class Leaderboard:
    """`rows`: one per instance and solver; `board`: one row per solver, best average rank first; `pairs`: the
    Holm-Wilcoxon tests; `friedman`: the Friedman test; `runs`: each job's ECDF area and runtimes
    (`anytime.runs`); `unscored`: the instances left out of the ranking, and why; `split`: the split of nhv and
    IGD+."""

    rows: list[LeaderboardRow]
    board: pd.DataFrame
    pairs: pd.DataFrame
    friedman: Friedman
    runs: pd.DataFrame
    unscored: dict[str, str]
    split: str

    @property
    def per_instance(self) -> pd.DataFrame:
        """The rows as a table (leaderboard.csv)."""
        return pd.DataFrame([r.model_dump() for r in self.rows], columns=PER_INSTANCE)

    def ranked(self) -> list[str]:
        """The solvers ranked on every instance, best average rank first."""
        return self.board.dropna(subset=["average rank"]).solver.tolist()


def reference_hv(
    indicators: pd.DataFrame, exact: pd.DataFrame, instances: dict[str, ProblemInstance], split: str
) -> pd.DataFrame:
    """Per instance: the reference hypervolume on `split` and what it is (exact, approximate, best known)."""
    rows = []
    for iid, g in indicators.groupby("instance", sort=False):
        rec = instances[iid]
        front = long_front(exact, rec, split, rec.objectives)
        best = float(g.hypervolume.max())
        if front is not None and rec.front == "exact":
            rows.append({"instance": iid, "ref_hv": hypervolume(front, rec), "reference": EXACT_FRONT})
        elif front is not None:
            hv = hypervolume(front, rec)
            kind = front_label(exact, iid)
            kind = kind if hv >= best else f"best known (beats the {kind})"
            rows.append({"instance": iid, "ref_hv": max(hv, best), "reference": kind})
        else:
            rows.append({"instance": iid, "ref_hv": best, "reference": "best known"})
    return pd.DataFrame(rows, columns=["instance", "ref_hv", "reference"])


def front_source(kind: str, shipped: bool) -> str:
    """What an instance's reference front is (a run records it in exact_fronts.source): its exact front, its
    family's approximate one, or the shipped collection's best-known one."""
    if kind == "exact":
        return EXACT_FRONT
    return KNOWN_FRONT if shipped else APPROXIMATE_FRONT


def front_label(exact: pd.DataFrame, instance: str) -> str:
    """What a run recorded its approximate reference front of `instance` to be (`front_source`; runs from
    before that was recorded: APPROXIMATE_FRONT)."""
    source = exact.source[exact.instance == instance].dropna() if "source" in exact else ()
    return str(source.iloc[0]) if len(source) else APPROXIMATE_FRONT


def per_instance(indicators: pd.DataFrame, refs: pd.DataFrame, per_run: pd.DataFrame) -> pd.DataFrame:
    """Each solver's mean ECDF area per instance (NaN where the instance has no targets) and its rank there by
    it, and its mean normalized hypervolume and IGD+."""
    ind = indicators.merge(refs, on="instance")
    ind["nhv"] = np.where(ind.ref_hv > 0, ind.hypervolume / ind.ref_hv.where(ind.ref_hv > 0, 1), 0.0)
    if "igd_plus" not in ind:
        ind["igd_plus"] = np.nan
    g = ind.groupby(["instance", "solver"], sort=False)
    out = g.agg(seeds=("seed", "nunique"), nhv=("nhv", "mean"), igd_plus=("igd_plus", "mean"))
    out["nhv_se"] = g.nhv.std(ddof=1).fillna(0.0) / np.sqrt(out.seeds)
    a = per_run.groupby(["instance", "solver"]).area
    out = out.join(pd.DataFrame({"area": a.mean(), "area_se": a.std(ddof=1).fillna(0.0) / np.sqrt(a.count())}))
    out = out.reset_index().merge(refs[["instance", "reference"]], on="instance")
    out["rank"] = out.groupby("instance").area.rank(ascending=False, method="average")
    return out[PER_INSTANCE]


def friedman(wide: pd.DataFrame) -> Friedman:
    """Friedman's chi-square (statistic, p) and Iman and Davenport's F = (N-1) chi2 / (N(k-1) - chi2) on
    F_df = (k-1, (k-1)(N-1)) (F, F_p; Demsar 2006); F is inf and F_p 0 where chi2 = N(k-1), every instance
    ranking the solvers alike."""
    k, n = wide.shape[1], wide.shape[0]
    if k < 3 or n < 2:
        return Friedman(
            solvers=k, instances=n, reason=f"needs at least 3 solvers on at least 2 instances (has {k} on {n})"
        )
    from scipy.stats import f, friedmanchisquare

    if np.ptp(wide.to_numpy(), axis=1).max() == 0:
        chi2, p = 0.0, 1.0
    else:
        t = friedmanchisquare(*(wide[c].to_numpy() for c in wide.columns))
        chi2, p = float(t.statistic), float(t.pvalue)
    rest, df = n * (k - 1) - chi2, (k - 1, (k - 1) * (n - 1))
    F = (n - 1) * chi2 / rest if rest > 0 else np.inf
    return Friedman(solvers=k, instances=n, statistic=chi2, p=p, F=float(F), F_df=df, F_p=float(f.sf(F, *df)))


def friedman_words(f: Friedman) -> str:
    """The Friedman test in words: chi-square and Iman-Davenport F, each with its p."""
    return (
        f"Friedman chi² = {f.statistic:.3g}, p = {f.p:.3g}; "
        f"Iman-Davenport F({f.F_df[0]}, {f.F_df[1]}) = {f.F:.3g}, p = {f.F_p:.3g}"
    )


def pairwise(wide: pd.DataFrame) -> pd.DataFrame:
    """Two-sided Wilcoxon signed-rank tests of every pair of solvers over instances, Holm-corrected; the
    better is the one with the larger rank sum (R+: a's, R-: b's)."""
    columns = ["solver_a", "solver_b", "instances", "a_better", "b_better", "R+", "R-", "p", "p_holm", "verdict"]
    pairs = list(combinations(wide.columns, 2))
    if not pairs:
        return pd.DataFrame(columns=columns)
    from scipy.stats import rankdata, wilcoxon

    n = len(wide)
    diffs = [wide[a].to_numpy() - wide[b].to_numpy() for a, b in pairs]
    p = [1.0 if not np.any(d) else float(wilcoxon(d, zero_method="zsplit").pvalue) for d in diffs]
    adjusted = holm(np.array(p))
    decidable = len(pairs) * 2 / 2**n <= ALPHA
    rows = []
    for (a, b), d, pv, ph in zip(pairs, diffs, p, adjusted, strict=True):
        r = rankdata(np.abs(d))
        zeros = r[d == 0].sum() / 2  # zero differences split their ranks, as zero_method="zsplit" does
        r_plus, r_minus = float(r[d > 0].sum() + zeros), float(r[d < 0].sum() + zeros)
        if not decidable:
            word = "too few instances"
        elif ph > ALPHA:
            word = "no significant difference"
        else:
            word = "a better" if r_plus > r_minus else "b better"
        rows.append(
            {
                "solver_a": a,
                "solver_b": b,
                "instances": n,
                "a_better": int((d > 0).sum()),
                "b_better": int((d < 0).sum()),
                "R+": r_plus,
                "R-": r_minus,
                "p": pv if decidable else np.nan,
                "p_holm": float(ph) if decidable else np.nan,
                "verdict": word,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def board(table: pd.DataFrame, wide: pd.DataFrame) -> pd.DataFrame:
    """One row per solver: instances, mean ECDF area, mean normalized HV, mean IGD+, average rank by area
    (over the ranked instances every ranked solver ran; NaN for a solver that missed one), instances won."""
    ranks = wide.rank(axis=1, ascending=False, method="average").mean() if wide.shape[1] else pd.Series(dtype=float)
    wins = (wide.rank(axis=1, ascending=False, method="min") == 1).sum() if wide.shape[1] else pd.Series(dtype=int)
    g = table.groupby("solver")
    out = pd.DataFrame(
        {
            "instances": g.instance.nunique(),
            "mean ECDF area": g.area.mean(),
            "mean normalized HV": g.nhv.mean(),
            "mean IGD+": g.igd_plus.mean(),
            "average rank": ranks,
            "wins": wins,
        }
    )
    out = out.sort_values(["average rank", "mean ECDF area"], ascending=[True, False], na_position="last")
    return out.reset_index(names="solver")


def leaderboard(
    indicators: pd.DataFrame,
    exact: pd.DataFrame,
    evaluations: pd.DataFrame,
    instances: dict[str, ProblemInstance],
    split: str = "val",
) -> Leaderboard:
    """The leaderboard of finished jobs (those with `indicators`): ranked on the ECDF areas of their
    `evaluations` (val), with their indicators on `split` (val: search; test: generalization too) beside."""
    if len(evaluations):
        evaluations = evaluations[evaluations.job.isin(indicators.job if len(indicators) else [])]
    val = indicators[indicators.split == "val"] if len(indicators) else indicators
    val_refs = reference_hv(val, exact, instances, "val") if len(val) else pd.DataFrame(columns=["instance", "ref_hv"])
    per_run, unscored = runs(evaluations, instances, dict(zip(val_refs.instance, val_refs.ref_hv, strict=True)))
    ind = indicators[indicators.split == split] if len(indicators) else indicators
    refs = val_refs if split == "val" else reference_hv(ind, exact, instances, split)
    table = per_instance(ind, refs, per_run) if len(ind) else pd.DataFrame(columns=PER_INSTANCE)
    wide = areas(per_run) if len(per_run) else pd.DataFrame()
    rows = [LeaderboardRow.model_validate(r) for r in table.to_dict("records")]
    return Leaderboard(rows, board(table, wide), pairwise(wide), friedman(wide), per_run, unscored, split)


def cliques(order: list[str], pairs: pd.DataFrame) -> list[tuple[int, int]]:
    """Maximal runs [i, j] of solvers (in rank order) that no Holm-Wilcoxon test separates (j > i)."""
    separated = {frozenset(pair) for pair in map(decided, pairs.itertuples()) if pair}
    runs = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and all(frozenset((order[k], order[j + 1])) not in separated for k in range(i, j + 1)):
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in runs):
            runs.append((i, j))
    return runs


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference of average ranks for k solvers over n instances."""
    from scipy.stats import studentized_range

    return float(studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2) * np.sqrt(k * (k + 1) / (6 * n)))


def cd_figure(lb: Leaderboard, colours: dict[str, str], out: Path) -> Path | None:
    """Average ranks on a line, the Nemenyi CD as a bar, and a thick line under solvers no test separates."""
    order = lb.ranked()
    if len(order) < 2:
        return None
    from matplotlib.figure import Figure

    ranks = lb.board.set_index("solver")["average rank"]
    k, n = len(order), lb.friedman.instances
    fig = Figure(figsize=(7, 1.6 + 0.32 * k))
    ax = fig.subplots()
    ax.set_xlim(k + 0.1, 0.9)  # rank 1 (best) on the right, as in Demsar's diagrams
    ax.set_ylim(-k - 0.6, 1.6)
    ax.axis("off")
    ax.plot([1, k], [0, 0], color="black", lw=1)
    for r in range(1, k + 1):
        ax.plot([r, r], [0, 0.12], color="black", lw=1)
        ax.text(r, 0.2, str(r), ha="center", va="bottom", fontsize=8)
    for y, s in enumerate(order, 1):
        r, colour = float(ranks[s]), colours.get(s, "black")
        ax.plot([r, r, k + 0.1], [0, -y, -y], color=colour, lw=1.2)
        ax.text(k + 0.15, -y, f"{s} ({r:.2f})", va="center", ha="right", fontsize=8, color=colour, clip_on=False)
    tested = not (lb.pairs.verdict == "too few instances").any()
    for lane, (i, j) in enumerate(cliques(order, lb.pairs) if tested else []):
        y = -0.35 - 0.25 * lane
        ax.plot([float(ranks[order[i]]), float(ranks[order[j]])], [y, y], color="black", lw=3.5, solid_capstyle="round")
    if n >= 2:
        cd = critical_difference(k, n)
        ax.plot([1, 1 + cd], [0.9, 0.9], color="black", lw=1.5)
        ax.text(1 + cd / 2, 1.0, f"Nemenyi CD {cd:.2f}", ha="center", va="bottom", fontsize=8)
    f = lb.friedman
    test = f"Friedman p = {f.p:.3g}, Iman-Davenport p = {f.F_p:.3g}" if f.p is not None else f.reason
    bars = "bars: no Holm-Wilcoxon difference" if tested else "too few instances to test pairs: bars untested"
    ax.set_title(f"average rank of ECDF area over {n} instances (val); {test}\n{bars}", fontsize=9)
    return savefig(fig, out / "leaderboard_cd.png")


def ecdf_figure(lb: Leaderboard, colours: dict[str, str], out: Path) -> Path | None:
    """The runtime ECDF of every ranked instance's runs together (`anytime.ecdf_figure`)."""
    if not len(lb.runs):
        return None
    title = f"runtime ECDF over {lb.runs.instance.nunique()} instances (val; {N_TARGETS} hypervolume targets each)"
    return anytime_ecdf_figure(lb.runs, colours, out / "leaderboard_ecdf.png", title)


def board_view(lb: Leaderboard) -> pd.DataFrame:
    """The board as strings, for the report, the CLI and Markdown."""
    b = lb.board.copy()
    for c in ("mean ECDF area", "mean normalized HV", "mean IGD+"):
        b[c] = b[c].map(lambda x: "—" if pd.isna(x) else f"{x:.4f}")
    b["average rank"] = b["average rank"].map(lambda x: "not ranked (missed an instance)" if pd.isna(x) else f"{x:.2f}")
    b["wins"] = b["wins"].map(lambda x: "—" if pd.isna(x) else str(int(x)))
    return b


def pairs_view(lb: Leaderboard) -> pd.DataFrame:
    p = lb.pairs.copy()
    for c in ("p", "p_holm"):
        p[c] = p[c].map(lambda x: "—" if pd.isna(x) else f"{x:.3g}")
    for c in ("R+", "R-"):
        p[c] = p[c].map(lambda x: f"{x:g}")
    return p


def summary(lb: Leaderboard) -> str:
    """The leaderboard in one paragraph of plain words."""
    order = lb.ranked()
    f = lb.friedman
    left = "; ".join(f"{i} ({why})" for i, why in lb.unscored.items())
    left = f" Left out of the ranking, having no targets: {left}." if left else ""
    if len(order) < 2:
        return f"Fewer than two solvers have ECDF areas on every ranked instance; nothing to rank.{left}"
    head = f"Over {f.instances} instances, by runtime-ECDF area (val), {order[0]} has the best average rank"
    if f.p is None:
        pairs = "; ".join(f"{r.solver_a} vs {r.solver_b}: {r.verdict}" for r in lb.pairs.itertuples())
        return f"{head}; the Friedman test was not run ({f.reason}); Holm-Wilcoxon: {pairs or 'no pairs'}.{left}"
    if f.p > ALPHA:
        found = f"the Friedman test finds no significant difference between the {f.solvers} solvers"
        return f"{head}, but {found} ({friedman_words(f)}).{left}"
    beaten = [pair[1] for pair in map(decided, lb.pairs.itertuples()) if pair and pair[0] == order[0]]
    few = (lb.pairs.verdict == "too few instances").any()
    tail = (
        f"; it is significantly better (Holm-Wilcoxon) than {', '.join(beaten)}"
        if beaten
        else ("; too few instances for the pairwise tests to decide" if few else "; no pairwise test separates it")
    )
    return f"{head} ({friedman_words(f)}){tail}.{left}"


def of_runs(dirs: list[Path], split: str = "val") -> Leaderboard:
    """The leaderboard of several run directories together (each verified first, as `compare` does)."""
    from ._store import RunDir, instances_of

    parts: dict[str, list[pd.DataFrame]] = {"indicators": [], "exact_fronts": [], "evaluations": []}
    instances: dict[str, ProblemInstance] = {}
    for d in dirs:
        run = RunDir(d)
        manifest = run.require()
        run.verify(manifest, aggregates=True)
        instances |= instances_of(manifest)
        for name, frames in parts.items():
            frames.append(run.table(name, trace_column if name == "evaluations" else None))
    tables = {k: pd.concat([f for f in v if len(f)] or [pd.DataFrame()], ignore_index=True) for k, v in parts.items()}
    exact = tables["exact_fronts"]
    if "source" in exact:  # a run that recorded its fronts' source first: its rows are the ones kept
        exact = exact.sort_values("source", na_position="last", kind="stable")
    exact = exact.drop_duplicates(["instance", "split", "point", "objective", "value"]) if len(exact) else exact
    clash = exact[exact.duplicated(["instance", "split", "point", "objective"])].instance if len(exact) else []
    if len(clash):
        raise InputError(
            f"the runs' reference fronts of {', '.join(sorted(set(clash)))} differ (runs of other models, or of "
            "another collection's best-known fronts): rank those runs apart"
        )
    ev = tables["evaluations"]
    ev = ev[~ev.duplicated(["job", "eval"])] if len(ev) else ev  # a job in two of the runs counts once
    return leaderboard(tables["indicators"], exact, ev, instances, split)


def write_files(lb: Leaderboard, out: Path) -> list[Path]:
    """leaderboard.md, leaderboard.csv (one row per instance and solver) and the two figures in `out`; in a
    run's folder, holding the run's lock (refused while another process holds it)."""
    from stitchbench._files import atomic_write, check_folder

    check_folder(out, "--out")
    run = RunDir(out)
    with run.lock() if any(run.file(n).exists() for n in (RUN_MANIFEST, LOCK)) else nullcontext():
        out.mkdir(parents=True, exist_ok=True)
        colours = solver_colours(lb.per_instance.solver) if len(lb.per_instance) else {}
        atomic_write(out / "leaderboard.csv", lb.per_instance.to_csv(index=False).encode())
        atomic_write(out / "leaderboard.md", markdown(lb).encode())
        figures = [f for f in (cd_figure(lb, colours, out), ecdf_figure(lb, colours, out)) if f]
    return [out / "leaderboard.md", out / "leaderboard.csv", *figures]


def markdown(lb: Leaderboard) -> str:
    from ._markdown import md_table

    return (
        f"# Solver leaderboard (ranked by runtime-ECDF area on val; HV and IGD+ on {lb.split})\n\n{summary(lb)}\n\n"
        f"## Ranks\n\n{md_table(board_view(lb))}\n\n"
        f"## Pairwise (Wilcoxon signed-rank over instances, Holm)\n\n{md_table(pairs_view(lb))}\n"
    )
