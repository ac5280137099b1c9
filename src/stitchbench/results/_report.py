"""A run's report: the generic sections (`sections`) with each declared analysis's before the solvers', as a
markdown and a self-contained HTML page (`render`), its figures in figures/."""

from pathlib import Path

from ._analyses import declared
from ._render import to_html, to_markdown
from ._sections import RunTables, failed_blocks, instance_blocks, intro_blocks, solver_blocks
from ._store import RunDir, atomic_write


def write_report(run: RunDir) -> tuple[Path, Path]:
    """Write figures/*.png, report.md and a self-contained report.html for a finished run."""
    tables = RunTables.read(run)
    analyses = declared(tables.manifest)
    lb = tables.leaderboard()
    marks = {k: v for a in analyses for k, v in a.marks(run).items()}
    blocks = intro_blocks(tables)
    for analysis in analyses:
        blocks += analysis.blocks(run, tables.instances, tables.baselines)
    blocks += solver_blocks(tables, lb) + instance_blocks(tables, lb, marks) + failed_blocks(tables)
    title = f"stitchbench report: {tables.manifest['suite']['name']}"
    atomic_write(run.file("report.md"), to_markdown(title, blocks).encode())
    atomic_write(run.file("report.html"), to_html(title, blocks).encode())
    return run.file("report.html"), run.file("report.md")
