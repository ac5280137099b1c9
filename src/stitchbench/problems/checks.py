"""Parameter values of the built-in families, checked before anything is built or trained (the registry
checks the names)."""

from typing import Any

from pydantic import ValidationError

from stitchbench.data import Scenario
from stitchbench.errors import InputError, describe, unknown
from stitchbench.stitching import METHODS, StitchRecipe
from stitchbench.zoo import expand_kinds


def check_arch(arch: str, zoo_archs: list[str]) -> None:
    if arch not in zoo_archs:
        raise unknown("architecture (of the suite's zoo)", arch, zoo_archs)


def check_ensemble_params(scenario: Scenario, zoo_archs: list[str], params: dict[str, Any]) -> None:
    expand_kinds(scenario, params.get("members", ("local",)))
    if params.get("arch") is not None:
        check_arch(params["arch"], zoo_archs)


def check_stitch_params(scenario: Scenario, zoo_archs: list[str], params: dict[str, Any]) -> None:
    method = params.get("method", "double-batched")
    if method not in METHODS:
        raise unknown("stitch training method", method, METHODS)
    parties = scenario.party_names
    for role in ("host", "partner"):
        if params.get(role) is not None and params[role] not in parties:
            raise unknown(f"{role} party", params[role], parties)
    for arch in params.get("archs") or []:
        check_arch(arch, zoo_archs)
    try:
        StitchRecipe(**(params.get("recipe") or {}))
    except (ValidationError, TypeError) as e:
        raise InputError(f"stitch recipe: {describe(e)}") from e
