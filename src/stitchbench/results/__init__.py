"""Results: the run directory, indicators (moocore), statistics, the anytime comparison, the leaderboard, the
calibration, analyses, reports and comparisons (torch-free)."""

from ._aggregate import rebuild, write_outputs, write_references
from ._analyses import Analysis
from ._calibration import (
    CALIBRATION_SEEDS,
    CONFIRMATION_SEEDS,
    CalibrationRecord,
    SolverCalibration,
    calibrate,
    calibration_of_run,
)
from ._compare import compare_runs, side_by_side
from ._indicators import anytime, attainment, hypervolume, igd_plus, job_indicators
from ._leaderboard import Friedman, Leaderboard, LeaderboardRow, leaderboard
from ._render import Block
from ._report import write_report
from ._statistics import pairwise_tests
from ._store import RESULTS_FORMAT, RunDir, RunManifest, instances_of

__all__ = [
    "CALIBRATION_SEEDS",
    "CONFIRMATION_SEEDS",
    "RESULTS_FORMAT",
    "Analysis",
    "Block",
    "CalibrationRecord",
    "Friedman",
    "Leaderboard",
    "LeaderboardRow",
    "RunDir",
    "RunManifest",
    "SolverCalibration",
    "anytime",
    "attainment",
    "calibrate",
    "calibration_of_run",
    "compare_runs",
    "hypervolume",
    "igd_plus",
    "instances_of",
    "job_indicators",
    "leaderboard",
    "pairwise_tests",
    "rebuild",
    "side_by_side",
    "write_outputs",
    "write_references",
    "write_report",
]
