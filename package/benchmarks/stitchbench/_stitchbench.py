"""stitchbench's tabular instances as an optunahub benchmark: a thin wrapper over
`stitchbench.tabular.load` and `stitchbench.tabular.OptunaProblem` (no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stitchbench.tabular import catalog
from stitchbench.tabular import load
from stitchbench.tabular import OptunaProblem


def available_instances() -> list[str]:
    """The names of the instances shipped with stitchbench (each loads by name, sha256-pinned)."""
    return [str(name) for name in catalog()["name"]]


class Problem(OptunaProblem):
    """A tabular instance, scored on `split` at `fidelity` (the fraction of val samples scored, a
    prefix of a fixed order; `fidelity_space`, `cost(fidelity)`, `evaluate(params, fidelity)`): a
    shipped one by name (`available_instances()`), or one exported to a folder (`stitchbench table
    export`); every file is checked against its sha256 first (and, for a folder, the manifest
    against `sha256` where given)."""

    def __init__(
        self,
        instance: str | Path,
        split: str = "val",
        sha256: str | None = None,
        fidelity: float = 1.0,
    ) -> None:
        super().__init__(load(instance, sha256), split, fidelity)

    @property
    def reference_front(self) -> np.ndarray | None:
        """The instance's exact front on this split (objective values, as `evaluate` returns
        them), or None where only a best-known front is recorded."""
        problem = self.problem
        if problem.front_kind() != "exact":
            return None
        front: np.ndarray | None = problem.exact_front(self.split)
        return front
