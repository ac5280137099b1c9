"""The shipped collection of tabular instances (torch-free): `catalog()` lists them with their metadata,
`stitchbench.tabular.load(NAME)` loads one by name, its manifest's sha256 checked against the catalog.

The tables live in this package's `collection/` folder, one export per instance (see
`stitchbench.tabular._load` for the format) and `catalog.json`; `stitchbench table build-collection` rebuilds
them from the `collection` suite, reproducibly (every table file's sha256 is in its manifest and the catalog).
"""

import json
import math
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stitchbench._files import parse, read_regular
from stitchbench.errors import InputError, shorten

if TYPE_CHECKING:
    import pandas as pd

COLLECTION = Path(__file__).parent / "collection"
CATALOG = "catalog.json"
SUITE = "collection"  # the suite the collection is built from (the `solvers` suite runs its tables)


def frame(rows: list[dict[str, Any]]) -> "pd.DataFrame":
    """A table of rows (pandas is imported here: loading an instance does not pay for it)."""
    import pandas as pd

    return pd.DataFrame(rows)


def collection_name(instance_id: str) -> str:
    """An instance's name in the collection: its id without the zoo seed, '.' for '/' (a folder name)."""
    scenario, zoo, problem = instance_id.split("/")
    return f"{scenario}.{problem}" if zoo == "z0" else f"{scenario}.{zoo}.{problem}"


def space_size(variables: list[dict[str, Any]]) -> dict[str, Any]:
    """The decision space: its discrete combinations, its continuous dimensions, and both in words."""
    discrete, continuous = 1, 0
    for v in variables:
        if v["kind"] == "categorical":
            discrete *= len(v["choices"])
        elif v["kind"] == "binary":
            discrete *= 2
        elif v["kind"] == "integer":
            discrete *= int(v["high"] - v["low"] + 1)
        elif v.get("levels"):
            discrete *= int(v["levels"])
        else:
            continuous += 1
    words = f"{discrete:,} discrete" + (f" x {continuous} continuous" if continuous else "")
    return {"discrete": discrete, "continuous": continuous, "space": words}


def variable_kinds(entry: dict[str, Any]) -> set[str]:
    """The variable kinds of a catalog entry's instance (what a solver must support to run on it)."""
    return {v.rsplit(": ", 1)[1] for v in entry["variables"]}


def entry(name: str, manifest: dict[str, Any], manifest_sha256: str, size: int) -> dict[str, Any]:
    """A catalog entry from an export's manifest."""
    rec = manifest["instance"]
    return {
        "name": name,
        "instance": rec["id"],
        "family": manifest["family"],
        "objectives": rec["objectives"],
        "variables": [f"{v['name']}: {v['kind']}" for v in manifest["variables"]],
        **space_size(manifest["variables"]),
        "front": manifest["front_kind"],
        "front_source": manifest.get("front_source", f"{manifest['front_kind']} (the family's enumeration)"),
        "provenance": {
            "scenario": rec["scenario_name"],
            "scenario_params": rec["scenario_params"],
            "zoo_seed": rec["zoo_seed"],
            "host": rec["host"],
            "members": rec["members"],
            "params": rec["params"],
            "trained_by_host": manifest.get("train_parties", []),
        },
        "manifest_sha256": manifest_sha256,
        "bytes": size,
    }


def catalog_file(folder: Path) -> dict[str, Any]:
    """`folder`'s catalog.json as it is now ({} where there is none)."""
    path = folder / CATALOG
    return parse(json.loads, read_regular(path), str(path)) if path.is_file() else {}


@cache
def read_catalog(folder: Path = COLLECTION) -> dict[str, dict[str, Any]]:
    """The installed collection's entries by name (read once)."""
    return {e["name"]: e for e in catalog_file(folder).get("instances", [])}


def catalog() -> "pd.DataFrame":
    """The shipped instances, one row each: name, instance id, family, objectives, variables, space size
    (discrete combinations, continuous dimensions), front kind, provenance, manifest sha256, bytes, and their
    calibration at the `solvers` suite's budget where it was measured."""
    return frame(list(read_catalog().values()))


def resolve(name: str) -> tuple[Path, str]:
    """The folder and manifest sha256 of a shipped instance; an InputError naming the valid names, or where
    its entry pins no sha256 (every shipped instance loads pinned)."""
    entries = read_catalog()
    if name not in entries:
        valid = ", ".join(entries) or "(none: the collection is not installed)"
        raise InputError(f"{name!r} is neither a folder nor a shipped tabular instance; shipped instances: {valid}")
    pin = entries[name].get("manifest_sha256")
    if not (isinstance(pin, str) and re.fullmatch("[0-9a-f]{64}", pin)):
        raise InputError(
            f"the catalog's entry {name!r} pins no manifest sha256 (got {shorten(pin)}); the collection is "
            "damaged: reinstall stitchbench, or rebuild it with 'stitchbench table build-collection'"
        )
    return COLLECTION / name, pin


def human_bytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{math.ceil(n / 1e3)} kB"


def catalog_view() -> "pd.DataFrame":
    """The catalog as a table of short strings (the CLI's `table list`)."""
    rows = []
    for e in read_catalog().values():
        c = e.get("calibration", {})
        rows.append(
            {
                "name": e["name"],
                "family": e["family"],
                "objectives": len(e["objectives"]),
                "kinds": ", ".join(sorted({v.split(": ")[1] for v in e["variables"]})),
                "space": e["space"],
                "front": e["front"],
                "size": human_bytes(e["bytes"]),
                "calibrated": c.get("verdict", "—") + ("" if "confirmation" in c or not c else " (first rule)"),
            }
        )
    return frame(rows)


def span(values) -> str:
    """'a-b' of whole numbers (one number where they are all equal), with thousands separators."""
    lo, hi = min(values), max(values)
    return f"{lo:,}" if lo == hi else f"{lo:,}-{hi:,}"


def catalog_summary() -> "pd.DataFrame":
    """The catalog in a row per family and objective count (the CLI's `table list --summary`): instances,
    decision space (discrete combinations, continuous dimensions), front kinds, size."""
    rows, cat = [], catalog()
    if cat.empty:
        return frame(rows)
    for (family, objectives), group in cat.groupby(["family", cat.objectives.map(len)], sort=True):
        space = f"{span(group.discrete)} discrete"
        if group.continuous.max():
            space += f" x {span(group.continuous)} continuous"
        rows.append(
            {
                "family": family,
                "objectives": objectives,
                "instances": len(group),
                "space": space,
                "front": ", ".join(sorted(set(group.front))),
                "size": human_bytes(int(group["bytes"].sum())),
            }
        )
    return frame(rows)


def entry_view(name: str) -> "pd.DataFrame":
    """One instance's entry as `name` + `field: value` lines (the CLI's `table show`)."""
    resolve(name)
    e = dict(read_catalog()[name])
    e["size"] = human_bytes(e.pop("bytes"))
    return frame([{k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in e.items()}])
