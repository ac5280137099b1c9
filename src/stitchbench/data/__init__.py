"""Scenarios and parties: sources, partitioners, stratified splits."""

from ._brain import voxel_mask
from ._partition import PARTITIONERS, partition
from ._scenario import Party, Scenario, Split
from ._scenarios import SCENARIOS, get_scenario
from ._sources import SOURCES, load_source
from ._splits import SPLITS, stratified_split

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
    "voxel_mask",
]
