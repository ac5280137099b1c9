"""Scenarios and parties: sources, partitioners, stratified splits."""

from .partition import PARTITIONERS, partition
from .scenario import Party, Scenario, Split
from .scenarios import SCENARIOS, get_scenario
from .sources import SOURCES, load_source
from .splits import SPLITS, stratified_split

__all__ = [
    "PARTITIONERS",
    "SCENARIOS",
    "SOURCES",
    "SPLITS",
    "Party",
    "Scenario",
    "Split",
    "get_scenario",
    "load_source",
    "partition",
    "stratified_split",
]
