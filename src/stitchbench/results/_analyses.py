"""Analyses: research questions a suite layers over its run (`analyses = ["claims"]`), as COCO keeps its
post-processing apart from its experiments. The library runs, reports and ranks solvers without any; an
analysis registers through the entry point group `stitchbench.analyses` (the paper's study, `stitchbench.study`,
is one) and is found by name, so nothing in the library imports it.

An analysis adds to a run at four places, each optional: reference tables per instance, computed where the
instance is built (`references`, declared with their columns in `reference_tables`); tables per job
(`job_tables`); files of its own once the jobs are done (`aggregate`, naming them in `outputs`, which the
manifest pins like the other aggregates); and the report's sections and marks on front figures (`blocks`,
`marks`).
"""

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from stitchbench.moo._instance import ProblemInstance
from stitchbench.registry import Registry

from ._store import RunDir


class Analysis:
    """The base of an analysis; every hook does nothing by default."""

    reference_tables: ClassVar[dict[str, list[str]]] = {}  # table name -> its columns (with `instance`)
    outputs: ClassVar[tuple[str, ...]] = ()  # files `aggregate` writes in the run folder
    reads_models: ClassVar[bool] = False  # needs problems built from models: a suite of tables only is refused

    def references(self, rec: ProblemInstance, problem: Any) -> dict[str, pd.DataFrame]:
        """Reference tables of one instance (keyed by `reference_tables`' names), from its built problem."""
        return {}

    def job_tables(self, problem: Any, X: np.ndarray, F: np.ndarray, base: dict) -> dict[str, pd.DataFrame]:
        """Tables of one finished search (its evaluated decisions X and objective vectors F on val)."""
        return {}

    def aggregate(self, run: RunDir, instances: dict[str, ProblemInstance], done: list[str]) -> None:
        """Write `outputs` from the run's tables and its finished jobs' tables."""

    def blocks(self, run: RunDir, instances: dict[str, ProblemInstance], baselines: pd.DataFrame) -> list:
        """The report's sections (`stitchbench.results._render.Block`s), placed before the solvers'."""
        return []

    def marks(self, run: RunDir) -> dict[str, list[tuple[str, np.ndarray]]]:
        """Points to mark on each instance's front figure: {instance id: [(label, objective vector)]}."""
        return {}


ANALYSES: Registry[Analysis] = Registry("analysis", "stitchbench.analyses")


def analyses(names: list[str]) -> list[Analysis]:
    """The named analyses, built (an unknown name: an InputError naming the registered ones)."""
    return [ANALYSES.create(name) for name in names]


def declared(manifest: dict[str, Any]) -> list[Analysis]:
    """The analyses a run's suite declares."""
    return analyses(manifest["suite"].get("analyses", []))
