"""stitchbench's tabular instances as an optunahub benchmark: a thin wrapper over
`stitchbench.tabular.load` and `stitchbench.tabular.optuna_problem.OptunaProblem` (no torch needed)."""

from __future__ import annotations

from pathlib import Path

from stitchbench.tabular.load import load
from stitchbench.tabular.optuna_problem import OptunaProblem


class Problem(OptunaProblem):
    """The tabular instance exported to `directory` (`stitchbench table export`), scored on `split`; its
    files are checked against their sha256s (and the manifest against `sha256`, where given) first."""

    def __init__(self, directory: str | Path, split: str = "val", sha256: str | None = None) -> None:
        super().__init__(load(directory, sha256), split)

    @property
    def reference_front(self):
        """The instance's exact front on this split (objective values, as `evaluate` returns them), or None."""
        problem = self.problem
        return problem.exact_front(self.split) if problem.front_kind() == "exact" else None
