"""Parameter values of the built-in families, checked before anything is built or trained (the registry
checks the names)."""

from typing import Any

import numpy as np
from pydantic import ValidationError

from stitchbench.data import Scenario
from stitchbench.errors import InputError, explain, unknown
from stitchbench.stitching import METHODS, StitchRecipe
from stitchbench.zoo import expand_kinds


def check_arch(arch: str, zoo_archs: list[str]) -> None:
    if not isinstance(arch, str) or arch not in zoo_archs:
        raise unknown("architecture (of the suite's zoo)", arch, zoo_archs)


def check_ensemble_params(scenario: Scenario, zoo_archs: list[str], params: dict[str, Any]) -> None:
    members = params.get("members", ["local"])
    if not isinstance(members, list | tuple) or not all(isinstance(m, str) for m in members):
        raise InputError(f'members must be a list of model kinds (e.g. ["local", "merged"]), got {members!r}')
    if len(expand_kinds(scenario, members)) < 2:
        raise InputError(f"members {members!r} name fewer than 2 models; an ensemble needs at least 2")
    if params.get("arch") is not None:
        check_arch(params["arch"], zoo_archs)
    archs = params.get("archs") or []
    if not isinstance(archs, list) or len(set(archs)) != len(archs):
        raise InputError(f"archs must be a list of distinct architectures (each member kind in each), got {archs!r}")
    if archs and params.get("arch") is not None:
        raise InputError(f"give arch ({params['arch']!r}) or archs ({archs!r}), not both")
    for arch in archs:
        check_arch(arch, zoo_archs)


def check_stitch_params(scenario: Scenario, zoo_archs: list[str], params: dict[str, Any], members: int) -> None:
    """A stitching family's parameters; `members`: how many models it stitches (one architecture each)."""
    method = params.get("method", "double-batched")
    if method not in METHODS:
        raise unknown("stitch training method", method, METHODS)
    parties = scenario.party_names
    for role in ("host", "partner"):
        if params.get(role) is not None and params[role] not in parties:
            raise unknown(f"{role} party", params[role], parties)
    if params.get("partner") is not None and params.get("partner") == params.get("host"):
        raise InputError(f"partner {params['partner']!r} is the host; give another party: {', '.join(parties)}")
    archs = params.get("archs") or []
    if not isinstance(archs, list):
        raise InputError(f"archs must be a list with one architecture per member, got {archs!r}")
    for arch in archs:
        check_arch(arch, zoo_archs)
    if archs and len(archs) != members:
        raise InputError(f"archs {archs!r} names {len(archs)} architectures; give one per member ({members})")
    try:
        StitchRecipe(**(params.get("recipe") or {}))
    except (ValidationError, TypeError) as e:
        raise InputError(f"stitch recipe: {explain(e)}") from e


def check_graph_params(
    scenario: Scenario, zoo_archs: list[str], params: dict[str, Any], limits: tuple[int, int]
) -> None:
    """A stitch graph's parameters; a point subset (`points` or `max_points`, not both) of at most
    `limits[1]` points where the members' (untrained) architectures are chains at those points, else
    `limits[0]`, each a point matched between them."""
    check_stitch_params(scenario, zoo_archs, params, 2)
    check_point_subset(params.get("points"), params.get("max_points"), max(limits))
    if params.get("points") or params.get("max_points"):
        names, chain = matched_points(scenario, params.get("archs") or [zoo_archs[0]] * 2)
        check_points(params.get("points") or [], names)
        check_max_points(params.get("max_points"), names)
        selected = params.get("points") or [names[i] for i in spread(len(names), params["max_points"])]
        check_subset_size(selected, set(selected) <= chain, scenario.metric, limits)


def check_subset_size(selected: list[str], chain: bool, metric: str, limits: tuple[int, int]) -> None:
    """At most `limits[1]` points where the networks are chains at all of them and scored by accuracy (a
    chain's table over more points stores per-sample scores as bits), else `limits[0]`."""
    limit = limits[1] if chain and metric == "accuracy" else limits[0]
    if len(selected) > limit:
        if not chain:
            why = f": a skip connection crosses one of the points (networks that are chains there: {limits[1]})"
        elif metric != "accuracy":
            why = f": the metric {metric!r} is not accuracy (a chain's table over {limits[0]} points stores bits)"
        else:
            why = ""
        raise InputError(
            f"a tabular stitch graph of k={len(selected)} points has 3 * 4^{len(selected)} raw decisions; the "
            f"limit is k <= {limit}{why}"
        )


def spread(n: int, k: int) -> list[int]:
    """k of n indices evenly spread, first and last included (k = n: all)."""
    return list(range(n)) if k >= n else [int(i) for i in np.floor(np.linspace(0, n - 1, k) + 0.5)]


def check_points(points: list[str], names: list[str]) -> None:
    for p in points:
        if p not in names:
            raise unknown("point", p, names)


def check_max_points(max_points: int | None, names: list[str]) -> None:
    """At most the matched points: more would be the same instance as all of them."""
    if max_points is not None and max_points > len(names):
        raise InputError(
            f"max_points={max_points} is more than the {len(names)} points matched between the two networks "
            f"({', '.join(names)}); valid: 1..{len(names)}"
        )


_MATCHED: dict[tuple, tuple[list[str], set[str]]] = {}  # traced once per architectures and input shape


def matched_points(scenario: Scenario, archs: list[str]) -> tuple[list[str], set[str]]:
    """The names of the points matched between untrained models of `archs` (tracing needs no weights), and
    those where both are chains (`chain_points`)."""
    from stitchbench.stitching import Members
    from stitchbench.zoo import create

    example = scenario.example()
    key = (tuple(archs), scenario.in_channels, scenario.num_classes, tuple(example.shape))
    if key not in _MATCHED:
        members = Members([create(a, scenario.in_channels, scenario.num_classes) for a in archs], example)
        _MATCHED[key] = members.point_names, chain_points(members)
    names, chain = _MATCHED[key]
    return list(names), set(chain)


def chain_points(members) -> set[str]:
    """The matched points where every member's only live value is the point's own (no skip crosses it)."""
    return {
        p.name
        for p in members.points
        if all(net.live(node) == [node] for net, node in zip(members.nets, p.nodes, strict=True))
    }


def check_point_subset(points: Any, max_points: Any, limit: int) -> None:
    if points is not None and max_points is not None:
        raise InputError(f"give points or max_points, not both (got points={points!r}, max_points={max_points!r})")
    if points is not None:
        if not isinstance(points, list | tuple) or not points or not all(isinstance(p, str) for p in points):
            raise InputError(f"points must be a non-empty list of matched point names, got {points!r}")
        if len(set(points)) != len(points):
            raise InputError(f"points {points!r} name a point twice")
        if len(points) > limit:
            raise InputError(f"points names {len(points)} points; a tabular stitch graph takes at most {limit}")


def with_switches(kinds: frozenset[str], params: dict[str, Any]) -> frozenset[str]:
    """An ensemble family's variable kinds: binary too where `switches` adds use.<member> variables."""
    return kinds | ({"binary"} if params.get("switches") else set())
