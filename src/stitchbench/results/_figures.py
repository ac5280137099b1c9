"""What every figure of a report shares: one colour per solver across all of them, file names, the PNG writer."""

import io
import re
from pathlib import Path

from stitchbench._files import atomic_write

# matplotlib's tab10, then tab20's light shades: distinct on screen and in print
PALETTE = (
    *("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"),
    *("#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"),
)


def solver_colours(solvers) -> dict[str, str]:
    """One colour per solver, by sorted name: every figure of a run (and of a leaderboard) uses this map."""
    return {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(sorted(set(solvers)))}


def safe(name: str) -> str:
    """A name (an instance id) as a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def savefig(fig, path: Path) -> Path:
    """The figure as PNG, written whole through a temporary name unique to this writer."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    atomic_write(path, buffer.getvalue())
    return path
