"""Results: the run directory, indicators (moocore), statistics, analyses, reports and comparisons."""

from .aggregate import rebuild, write_outputs, write_references
from .indicators import anytime, attainment, hypervolume, igd_plus, job_indicators
from .report import write_report
from .statistics import pairwise_tests
from .store import RunDir, instances_of

__all__ = [
    "RunDir",
    "anytime",
    "attainment",
    "hypervolume",
    "igd_plus",
    "instances_of",
    "job_indicators",
    "pairwise_tests",
    "rebuild",
    "write_outputs",
    "write_references",
    "write_report",
]
