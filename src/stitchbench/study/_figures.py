"""The headline figure of a scenario: per host, each method's val-chosen point as its gap to merged data per
party on test (points), with its 95% bootstrap interval (`gaps`)."""

from pathlib import Path

import pandas as pd

from stitchbench.results._figures import safe, savefig


def gaps_figure(scenario: str, rows: pd.DataFrame, out: Path) -> Path:
    """One panel per host; methods down, gap across, one marker per party (0: as good as merged data)."""
    from matplotlib.figure import Figure

    hosts = list(dict.fromkeys(rows.host))
    methods = list(dict.fromkeys(rows.method))
    parties = list(dict.fromkeys(rows.party))
    fig = Figure(figsize=(4.2 * len(hosts), 0.45 * len(methods) + 1.6))
    axes = fig.subplots(1, len(hosts), sharey=True, squeeze=False)[0]
    offsets = {p: (k - (len(parties) - 1) / 2) * 0.8 / max(len(parties), 1) for k, p in enumerate(parties)}
    for ax, host in zip(axes, hosts, strict=True):
        for p in parties:
            mine = rows[(rows.host == host) & (rows.party == p)]
            y = [methods.index(m) + offsets[p] for m in mine.method]
            err = [mine.gap - mine.lo, mine.hi - mine.gap]
            ax.errorbar(mine.gap, y, xerr=err, fmt="o", ms=4, capsize=2, label=f"on {p}")
        ax.axvline(0, color="black", lw=1, ls="--")
        ax.set_yticks(range(len(methods)), methods)
        ax.set_xlabel("gap to merged data on test (points)")
        ax.set_title(f"host {host}")
        ax.grid(axis="x", alpha=0.3)
    axes[0].invert_yaxis()  # the axes share y: once for all
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle(f"{scenario}: each method's val-chosen point against merged data (95% bootstrap intervals)")
    fig.tight_layout()
    return savefig(fig, out / f"headline_{safe(scenario)}.png")
