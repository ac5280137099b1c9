"""An instance's figures in the report: its fronts on test (with the exact front, claim 4's E and deciding
points, the baselines), its convergence and its runtime ECDF; drawn in a pool of processes for many instances."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stitchbench._processes import mapped
from stitchbench.moo._front import nondominated
from stitchbench.moo._instance import ProblemInstance

from ._anytime import N_TARGETS, ecdf_figure
from ._figures import safe, savefig
from ._indicators import attainment, long_front, objective_columns, reference_vectors

MARKERS = {"merged": "*", "fedavg": "P", "fedprox": "X", "ensemble": "D"}


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
    """Hypervolume of everything evaluated at fidelity 1 (val) against evaluations spent, per solver (mean, and
    1.96 SE over seeds: a normal 95% interval, where seaborn's bootstrap took most of a report's time)."""
    import seaborn as sns
    from matplotlib.figure import Figure

    sel = anytime[anytime.instance == rec.id]
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    sns.lineplot(sel, x="eval", y="hypervolume", hue="solver", palette=colours, errorbar=("se", 1.96), ax=ax)
    ax.set_xscale("log")
    ax.set_xlabel("evaluations (full-fidelity equivalents)")
    ax.set_ylabel("normalized hypervolume of all evaluated at fidelity 1 (val)")
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
    """`instance_figures` of every task: in a pool of processes from FIGURE_POOL_MIN tasks on (`mapped`)."""
    return mapped(instance_figures, tasks, FIGURE_POOL_MIN)
