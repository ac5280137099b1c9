"""Reports: figures (seaborn/matplotlib), a markdown and a self-contained HTML page, from a run directory."""

import base64
import html
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from stitchbench._processes import worker_pool
from stitchbench.moo._front import nondominated
from stitchbench.moo._instance import ProblemInstance

from . import leaderboard as lbm
from .analyses import declared
from .anytime import N_TARGETS, ecdf_figure, instance_tests
from .calibration import BASELINE, calibrate, calibration_table
from .calibration import summary as calibration_summary
from .figures import savefig, solver_colours
from .indicators import attainment, long_front, objective_columns, reference_vectors
from .markdown import md_table
from .statistics import ALPHA, best_solvers, decided
from .store import RunDir, atomic_write, instances_of

MARKERS = {"merged": "*", "fedavg": "P", "fedprox": "X", "ensemble": "D"}


def safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


ZOOMED_BASELINES = ("merged", "fedavg", "fedprox", "ensemble")  # the references a zoomed panel keeps in view
EXACT_STYLE = {"color": "black", "ls": "--", "lw": 1.3}
ENSEMBLE_STYLE = {"color": "#777777", "ls": "-.", "lw": 1.3}


def draw_baselines(ax, base: dict[str, np.ndarray], i: int, j: int) -> None:
    for name, v in base.items():
        ax.scatter(
            v[i], v[j], marker=MARKERS.get(name, "o"), s=90, color="#333333", edgecolor="white", zorder=5, label=name
        )
        ax.annotate(name, (v[i], v[j]), textcoords="offset points", xytext=(5, 4), fontsize=7)


@dataclass
class FrontRefs:
    """What a front figure draws besides the solvers, on test: the exact (or approximate) front, the
    val-chosen weighted output ensembles E of claim 4, claim 4's deciding points, the baselines."""

    front: np.ndarray | None  # (n, objectives)
    front_kind: str
    ensembles: np.ndarray | None  # (n, objectives)
    deciding: list[tuple[str, np.ndarray]]  # (label, objective vector over the parties' columns)
    baselines: dict[str, np.ndarray]


def front_refs(rec: ProblemInstance, exact: pd.DataFrame, ensembles: pd.DataFrame, baselines, marks) -> FrontRefs:
    deciding = marks.get(rec.id, [])
    E = long_front(ensembles, rec, "test", rec.parties) if len(ensembles) else None  # E scores parties only
    if E is not None:
        E = np.column_stack(
            [E[:, rec.parties.index(o)] if o in rec.parties else np.full(len(E), np.nan) for o in rec.objectives]
        )
    return FrontRefs(
        long_front(exact, rec, "test", rec.objectives) if len(exact) else None,
        rec.front,
        E,
        deciding,
        reference_vectors(baselines, rec, "test"),
    )


def projected_front(F: np.ndarray, i: int, j: int, maximize: list[bool]) -> np.ndarray:
    """The non-dominated points of F's projection onto objectives i and j, sorted by i."""
    return nondominated(F[:, [i, j]], np.array([maximize[i], maximize[j]]))


def zoom_limits(key: list[np.ndarray], everything: list[np.ndarray]) -> tuple[tuple[float, float], ...]:
    """(x, y) limits around the `key` points (the federated and ensemble references, claim 4's points; the
    fronts where there are none), widened by half their spread (at least 0.01) below and up to the best
    value of `everything` above: the region where fronts and references compete."""

    def stack(arrays):
        P = np.vstack([a for a in arrays if len(a)])
        return P[np.isfinite(P).all(1)]

    K, A = stack(key or everything), stack(everything + key)
    lo, hi = K.min(0), np.maximum(K.max(0), A.max(0))
    margin = np.maximum((K.max(0) - K.min(0)) * 0.5, 0.01)
    return (lo[0] - margin[0], hi[0] + margin[0] / 4), (lo[1] - margin[1], hi[1] + margin[1] / 4)


def draw_fronts(rec: ProblemInstance, fronts: pd.DataFrame, refs: FrontRefs, colours: dict[str, str]):
    """The front figure: per pair of parties, each solver's median attainment surface on test (two
    objectives; otherwise every front point), the exact front and E as reference lines, claim 4's deciding
    point, the baselines; zoomed to the fronts and the federated and ensemble references, with the full view
    as a second panel (two parties). Staircases are drawn `where="pre"`: both axes are maximized scores
    sorted by x, so the line is the attained boundary. Returns the matplotlib Figure."""
    from matplotlib.figure import Figure  # figures without pyplot: no global backend; imported when drawing

    idx = rec.party_columns()
    pairs = [(a, b) for x, a in enumerate(idx) for b in idx[x + 1 :]]
    panels = [(i, j, True) for i, j in pairs] + ([(*pairs[0], False)] if len(pairs) == 1 else [])
    test = fronts[(fronts.instance == rec.id) & (fronts.split == "test")]
    fig = Figure(figsize=(max(7.0, 5.2 * len(panels)), 5.2))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    cols = objective_columns(rec)
    for ax, (i, j, zoomed) in zip(axes, panels, strict=True):
        shown = []
        for solver, g in test.groupby("solver", sort=True):
            colour = colours[solver]
            runs = [s[[cols[i], cols[j]]].to_numpy(dtype=float) for _, s in g.groupby("seed")]
            shown += runs
            if len(idx) == 2 and len(rec.objectives) == 2:
                surfaces = attainment(runs, [rec.maximize[i], rec.maximize[j]], (25, 50, 75))
                for pct, style, width in ((25, ":", 1.0), (50, "-", 1.8), (75, ":", 1.0)):
                    pts = surfaces[pct][np.argsort(surfaces[pct][:, 0])]
                    label = f"{solver} (median; quartiles dotted)" if pct == 50 else None
                    ax.step(pts[:, 0], pts[:, 1], where="pre", color=colour, lw=width, ls=style, label=label)
                ax.scatter(surfaces[50][:, 0], surfaces[50][:, 1], color=colour, s=12)
            else:
                pts = np.vstack(runs)
                ax.scatter(pts[:, 0], pts[:, 1], color=colour, s=10, alpha=0.6, label=solver)
        for F, style, label in (
            (refs.front, EXACT_STYLE, f"{refs.front_kind} front"),
            (refs.ensembles, ENSEMBLE_STYLE, "E: weighted output ensembles (val-chosen)"),
        ):
            if F is not None and len(F):
                P = projected_front(F, i, j, rec.maximize)
                ax.step(P[:, 0], P[:, 1], where="pre", zorder=4, label=label, **style)
                shown.append(P)
        for label, v in refs.deciding:
            ax.scatter(v[i], v[j], marker="*", s=260, color="gold", edgecolor="black", zorder=6, label=label)
            shown.append(v[[i, j]][None])
        draw_baselines(ax, refs.baselines, i, j)
        key = [v[[i, j]][None] for k, v in refs.baselines.items() if k in ZOOMED_BASELINES]
        key += [v[[i, j]][None] for _, v in refs.deciding]
        if zoomed and shown:
            xlim, ylim = zoom_limits(key, shown)
            ax.set_xlim(*xlim)
            ax.set_ylim(*ylim)
        ax.set_title("zoomed to the fronts" if zoomed and len(panels) > 1 else ("full view" if not zoomed else ""))
        ax.set_xlabel(f"{rec.objectives[i]} ({rec.metric}, test)")
        ax.set_ylabel(f"{rec.objectives[j]} ({rec.metric}, test)")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    keep = dict(zip(labels, handles, strict=True))
    fig.legend(
        keep.values(), keep.keys(), loc="upper center", ncol=min(4, len(keep)), fontsize=8, bbox_to_anchor=(0.5, 1.1)
    )
    fig.suptitle(f"{rec.id}: fronts on test", y=1.16)
    return fig


def front_figure(rec: ProblemInstance, fronts: pd.DataFrame, refs: FrontRefs, colours, out: Path) -> Path:
    return savefig(draw_fronts(rec, fronts, refs, colours), out / f"front_{safe(rec.id)}.png")


def draw_hv(rec: ProblemInstance, anytime: pd.DataFrame, colours: dict[str, str]):
    """Hypervolume of everything evaluated (val) against evaluations, per solver (mean, and 1.96 SE over seeds:
    a normal 95% interval, where seaborn's bootstrap took most of a report's time)."""
    import seaborn as sns
    from matplotlib.figure import Figure

    sel = anytime[anytime.instance == rec.id]
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    sns.lineplot(sel, x="eval", y="hypervolume", hue="solver", palette=colours, errorbar=("se", 1.96), ax=ax)
    ax.set_xscale("log")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("normalized hypervolume of all evaluated (val)")
    ax.set_title(f"{rec.id}: convergence (mean ± 1.96 SE over seeds)")
    ax.grid(alpha=0.3)
    return fig


def hv_figure(rec: ProblemInstance, anytime: pd.DataFrame, colours: dict[str, str], out: Path) -> Path | None:
    if not (anytime.instance == rec.id).any():
        return None
    return savefig(draw_hv(rec, anytime, colours), out / f"hv_{safe(rec.id)}.png")


def instance_figures(
    rec: ProblemInstance, fronts, refs: FrontRefs | None, anytime, per_run, colours, out: Path
) -> list[Path]:
    """An instance's front figure (where it has fronts: `refs`), convergence figure (where it has anytime
    rows) and runtime ECDF (where it has targets: `per_run` rows)."""
    figures = [front_figure(rec, fronts, refs, colours, out)] if refs is not None else []
    hv = hv_figure(rec, anytime, colours, out) if len(anytime) else None
    title = f"{rec.id}: runtime ECDF (val; {N_TARGETS} hypervolume targets)"
    ecdf = ecdf_figure(per_run, colours, out / f"ecdf_{safe(rec.id)}.png", title) if len(per_run) else None
    return figures + [f for f in (hv, ecdf) if f]


FIGURE_POOL_MIN = 8  # instances from which a report draws in a pool of processes


def drawn(tasks: list[tuple]) -> list[list[Path]]:
    """`instance_figures` of every task: in a pool of one process per core (up to 4) where there are at least
    FIGURE_POOL_MIN, as matplotlib draws on one core."""
    workers = min(os.cpu_count() or 1, 4, len(tasks))
    if workers < 2 or len(tasks) < FIGURE_POOL_MIN:
        return [instance_figures(*t) for t in tasks]
    with worker_pool(workers) as pool:
        return list(pool.map(instance_figures, *zip(*tasks, strict=True)))


def versus_best(best: str, solver: str, stats: pd.DataFrame) -> tuple[str, str]:
    """(Holm-corrected p, A12 of the solver against the best) from statistics.parquet's pair row."""
    row = stats[
        ((stats.solver_a == solver) & (stats.solver_b == best))
        | ((stats.solver_a == best) & (stats.solver_b == solver))
    ]
    if not len(row):
        return "—", "—"
    r = row.iloc[0]
    effect = r.A12 if r.solver_a == solver else 1 - r.A12
    p = "too few seeds" if r.verdict == "too few seeds" else f"{r.p_holm:.3g}" + (" *" if r.p_holm <= ALPHA else "")
    return p, f"{effect:.2f}"


def ranked_rows(values: pd.DataFrame, column: str, label: str, count: str, stats: pd.DataFrame) -> list[dict]:
    """Per solver, the best mean of `column` first: its `count` of rows, mean ± sd, rank, and the Holm p and
    A12 against the best from the pair tests `stats`."""
    summary = values.groupby("solver")[column].agg(["mean", "std", "count"]).sort_values("mean", ascending=False)
    best = summary.index[0]
    rows = []
    for rank, (solver, r) in enumerate(summary.iterrows(), 1):
        p, effect = ("—", "—") if solver == best else versus_best(best, solver, stats)
        rows.append(
            {
                "solver": solver,
                count: int(r["count"]),
                f"{label} mean ± sd": f"{r['mean']:.4f} ± {0 if np.isnan(r['std']) else r['std']:.4f}",
                "rank": rank,
                "p vs best (MWU, Holm)": p,
                "A12 vs best": effect,
            }
        )
    return rows


def solver_table(rec: ProblemInstance, indicators: pd.DataFrame, stats: pd.DataFrame) -> pd.DataFrame:
    sel = indicators[(indicators.instance == rec.id) & (indicators.split == "test")] if len(indicators) else indicators
    if not len(sel):
        return pd.DataFrame()
    stats = stats[(stats.instance == rec.id) & (stats.get("split", "test") == "test")] if len(stats) else stats
    rows = ranked_rows(sel, "hypervolume", "HV", "seeds", stats)
    for row in rows:
        mine = sel[sel.solver == row["solver"]]
        doms = mine.dominates.str.split(",").explode()
        doms = doms[doms != ""].value_counts()
        if "igd_plus" in sel and sel.igd_plus.notna().any():
            row[f"IGD+ mean ({rec.front} front)"] = f"{mine.igd_plus.mean():.4f}"
        row["strictly dominates (seeds)"] = ", ".join(f"{k} {v}/{row['seeds']}" for k, v in doms.items()) or "—"
    return pd.DataFrame(rows)


def area_table(per_run: pd.DataFrame, tests: pd.DataFrame) -> pd.DataFrame:
    """An instance's runtime-ECDF areas (val) per solver, and the solvers each is significantly better than
    (two-sided Mann-Whitney U over runs, Holm-corrected within the instance: `anytime.instance_tests`)."""
    rows = ranked_rows(per_run, "area", "ECDF area", "runs", tests)
    beats = [pair for pair in map(decided, tests.itertuples()) if pair]
    for row in rows:
        row["significantly better than"] = ", ".join(b for a, b in beats if a == row["solver"]) or "—"
    return pd.DataFrame(rows)


def fmt(x: float) -> str:
    return f"{x:.3f}"


@dataclass
class Block:
    """One piece of the report, rendered to markdown and (through the template) to HTML."""

    kind: str  # heading | para | claims | figure | table
    text: str = ""
    level: int = 2
    note: bool = False
    items: list = field(default_factory=list)
    path: Path | None = None
    table: pd.DataFrame | None = None


def inline(text: str) -> Markup:
    """The report's inline markup (**bold**, `code`) as escaped HTML."""
    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return Markup(re.sub(r"`(.+?)`", r"<code>\1</code>", out))


def to_markdown(title: str, blocks: list[Block]) -> str:
    md = [f"# {title}", ""]
    for b in blocks:
        if b.kind == "heading":
            md.append("#" * b.level + " " + b.text)
        elif b.kind == "para":
            md.append(f"**Note:** {b.text}" if b.note else b.text)
        elif b.kind == "claims":
            for c in b.items:
                md.append(f"- **Claim {c['id']}: {c['name']}: {c['verdict']}**")
                md += [f"  - {line}" for line in c["checks"]]
        elif b.kind == "figure":
            md.append(f"![{b.path.stem}](figures/{b.path.name})")
        else:
            md.append(md_table(b.table))
        md.append("")
    return "\n".join(md)


def to_html(title: str, blocks: list[Block]) -> str:
    env = Environment(loader=PackageLoader("stitchbench.results"), autoescape=select_autoescape(["j2", "html"]))
    env.filters["inline"] = inline
    rendered = []
    for b in blocks:
        view = {"kind": b.kind, "text": b.text, "level": b.level, "note": b.note, "entries": b.items}
        if b.kind == "figure":
            view |= {"name": b.path.stem, "data": base64.b64encode(b.path.read_bytes()).decode()}
        elif b.kind == "table":
            view["html"] = Markup(
                b.table.to_html(index=False, border=0, classes="t") if len(b.table) else "<p>(no results)</p>"
            )
        rendered.append(view)
    return env.get_template("report.html.j2").render(title=title, blocks=rendered)


def write_report(run: RunDir) -> tuple[Path, Path]:
    """Write figures/*.png, report.md and a self-contained report.html for a finished run."""
    manifest = run.require()
    instances = instances_of(manifest)
    fronts, baselines, indicators, anytime, evaluations, stats, failed_table = (
        run.table(t)
        for t in ("fronts", "baselines", "indicators", "anytime", "evaluations", "statistics", "failed_jobs")
    )
    done = [j for j, s in manifest["jobs"].items() if s["status"] == "done"]
    fronts = fronts[fronts.job.isin(done)] if len(fronts) else fronts
    extra = declared(manifest)
    marks = {k: v for a in extra for k, v in a.marks(run).items()}
    exact, ensembles = run.table("exact_fronts"), run.table("ensemble_fronts")
    lb = lbm.leaderboard(indicators, exact, evaluations, instances, "val")  # evaluations of finished jobs only
    area_tests = instance_tests(lb.runs)
    figdir = run.file("figures")
    colours = solver_colours(s.get("id") or s["name"] for s in manifest["suite"]["solvers"])
    tasks = [
        (
            rec,
            mine := fronts[fronts.instance == rec.id] if len(fronts) else fronts,
            front_refs(rec, exact, ensembles, baselines, marks) if len(mine) else None,
            anytime[anytime.instance == rec.id] if len(anytime) else anytime,
            lb.runs[lb.runs.instance == rec.id],
            colours,
            figdir,
        )
        for rec in instances.values()
    ]
    sections: list[tuple[str, list]] = []
    for rec, figures in zip(instances.values(), drawn(tasks), strict=True):
        items: list = [f"{rec.family}, host {rec.host or '—'}, {rec.metric}; front for IGD+: {rec.front}"]
        items += figures
        items.append(solver_table(rec, indicators, stats))
        if (lb.runs.instance == rec.id).any():
            items.append(
                "Runtime-ECDF areas (val; 1: every target at the first evaluation, 0: none within the budget), "
                f"with two-sided Mann-Whitney U tests over runs, Holm-corrected within the instance (* p ≤ {ALPHA}):"
            )
            items.append(area_table(lb.runs[lb.runs.instance == rec.id], area_tests[area_tests.instance == rec.id]))
        elif rec.id in lb.unscored:
            items.append(f"No runtime ECDF: {lb.unscored[rec.id]}.")
        base = reference_vectors(baselines, rec, "test")
        items.append(
            pd.DataFrame(
                [{"baseline": k, **{o: fmt(v[i]) for i, o in enumerate(rec.objectives)}} for k, v in base.items()]
            )
        )
        sections.append((rec.id, items))
    failed = {j: s for j, s in manifest["jobs"].items() if s["status"] != "done"}
    nonfinite = nonfinite_note(indicators)
    title = f"stitchbench report: {manifest['suite']['name']}"
    intro = (
        f"Suite `{manifest['suite']['name']}`, {len(manifest['jobs'])} jobs "
        f"({len(failed)} failed), solver seeds {manifest['suite']['seeds']}, budget {manifest['suite']['budget']}. "
        "Solvers searched on the validation splits; fronts, tables and figures show the **test** splits. "
        "Hypervolume is on normalized objectives (scores as they are, cost divided by the instance's costliest "
        "candidate) against a fixed reference point (score 0, cost 1). Solvers are compared by pairwise "
        f"two-sided Mann-Whitney U tests over seeds, Holm-corrected per instance (* p ≤ {ALPHA}), with the "
        "Vargha-Delaney A12 effect size; failed jobs are left out of every statistic, figure and claim."
    )
    blocks = [Block("para", intro)]
    if nonfinite:
        blocks.append(Block("para", nonfinite, note=True))
    for analysis in extra:
        blocks += analysis.blocks(run, instances, baselines)
    blocks += solver_blocks(manifest, instances, indicators, stats, exact, evaluations, lb, colours, figdir)
    for pid, items in sections:
        blocks.append(Block("heading", pid))
        for it in items:
            if isinstance(it, str):
                blocks.append(Block("para", it))
            elif isinstance(it, Path):
                blocks.append(Block("figure", path=it))
            else:
                blocks.append(Block("table", table=it))
    if failed:
        blocks += [
            Block("heading", "Failed jobs"),
            Block("para", "Left out of every statistic, figure and claim; tracebacks in the log files."),
            Block("table", table=failed_table),
        ]
    atomic_write(run.file("report.md"), to_markdown(title, blocks).encode())
    atomic_write(run.file("report.html"), to_html(title, blocks).encode())
    return run.file("report.html"), run.file("report.md")


def solver_blocks(manifest, instances, indicators, stats, exact, evaluations, lb, colours, figdir) -> list[Block]:
    """The solvers: their parameters, which are significantly best per instance (val: what they optimize),
    and the leaderboard `lb` (over two or more instances: ranks by ECDF area, Friedman, Holm-Wilcoxon, CD
    figure) with the run's runtime ECDF over every instance with targets."""
    params = pd.DataFrame(
        [
            {"solver": s.get("id") or s["name"], "name": s["name"], "parameters": json.dumps(s.get("params", {}))}
            for s in manifest["suite"]["solvers"]
        ]
    )
    best = best_solvers(indicators, stats, "val")
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
    if len(lb.ranked()) >= 2 and lb.friedman["instances"] >= 2:
        blocks += [
            Block("heading", "Solver leaderboard (runtime-ECDF area, val)", level=3),
            Block("para", lbm.summary(lb)),
            Block("table", table=lbm.board_view(lb)),
            Block("table", table=lbm.pairs_view(lb)),
        ]
        cd = lbm.cd_figure(lb, colours, figdir)
        blocks += [Block("figure", path=cd)] if cd else []
    ecdf = lbm.ecdf_figure(lb, colours, figdir)
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
    if len(indicators) and BASELINE in set(indicators.solver) and indicators.solver.nunique() >= 2:
        records = calibrate(indicators, exact, evaluations, instances)
        blocks += [
            Block("heading", "Calibration (val)", level=3),
            Block(
                "para",
                f"{calibration_summary(records)}: the collection's rule (docs/collection.md) on this run's seeds. "
                "An instance is calibrated where no solver reaches the front on more than half of its seeds and "
                f"its runs' ECDF areas separate two solvers other than {BASELINE} search and the weakest "
                "(Mann-Whitney, Holm); per solver, its mean area and (in brackets) the seeds that reach the front.",
            ),
            Block("table", table=calibration_table(records)),
        ]
    return blocks


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
