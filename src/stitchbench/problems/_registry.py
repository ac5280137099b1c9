"""The problem registry: families built from a zoo and parameters, and each family's contract with the
framework (`FamilyContract`): whether it takes a host, which parameters the framework injects. A plugin
family's declarations are checked when it loads; one that breaks them is skipped with a warning naming why."""

import inspect
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from stitchbench.moo._api import INJECTABLE, Problem
from stitchbench.moo._instance import Members
from stitchbench.moo._pools import Stitching
from stitchbench.registry import Registry
from stitchbench.zoo import Zoo

from ._distill import DistillProblem
from ._ensemble_weights import EnsembleWeights
from ._finetune import FinetuneProblem
from ._merge import MergeProblem
from ._stitch_ensemble import StitchEnsembleProblem
from ._stitch_graph import StitchGraphProblem


def protocol_members(protocol: type) -> set[str]:
    """The methods a Protocol (and the protocols it extends) declares."""
    return {n for c in protocol.__mro__ if Protocol in c.__bases__ for n in vars(c) if not n.startswith("_")}


CLAIM_HOOKS = protocol_members(Stitching) - protocol_members(Members)  # what only a stitching family has


@dataclass(frozen=True)
class FamilyContract:
    """What the framework passes a family and how suites expand it."""

    hosted: bool  # one instance per host party; the suite's `hosts` apply
    injected: dict[str, str]  # INJECTABLE name -> the factory's parameter that takes it

    def parameters(self, signature: dict[str, Any]) -> dict[str, Any]:
        """The factory's parameters (with defaults) less what the framework injects."""
        taken = {"zoo", *self.injected.values()}
        return {k: v for k, v in signature.items() if k not in taken}


def check_family(factory: Any) -> FamilyContract:
    """The contract a problem factory declares (a `Problem` subclass's `hosted` and `injected`), checked
    against its signature."""
    declared_by_problem = isinstance(factory, type) and issubclass(factory, Problem)
    if declared_by_problem and not hasattr(factory, "variable_kinds"):
        raise TypeError(f"problem family {factory.__name__} declares no 'variable_kinds'")
    missing_hooks = protocol_members(Stitching) - set(dir(factory))
    if declared_by_problem and CLAIM_HOOKS - missing_hooks and missing_hooks:
        raise TypeError(
            f"problem family {factory.__name__} implements part of claim 4's hooks; a stitching family implements "
            f"every member of stitchbench.moo.Stitching, missing: {', '.join(sorted(missing_hooks))}"
        )
    injected = set(getattr(factory, "injected", {"zoo", "zoo_seed"}))
    hosted = bool(getattr(factory, "hosted", False))
    unknown = injected - set(INJECTABLE)
    if unknown:
        raise TypeError(f"{factory!r}: injected {sorted(unknown)} are not injectable; valid: {', '.join(INJECTABLE)}")
    signature = inspect.signature(factory).parameters
    names = {k: k for k in injected - {"zoo"}}
    missing = [p for p in names.values() if p not in signature]
    if hosted and "host" not in signature:
        missing.append("host")
    if missing:
        raise TypeError(f"{factory!r} declares {sorted(injected)} (hosted={hosted}) but takes no {missing}")
    return FamilyContract(hosted, names)


PROBLEMS: Registry[Problem] = Registry("problem", check=check_family)
PROBLEMS.add("ensemble-weights", EnsembleWeights, EnsembleWeights.summary)
PROBLEMS.add("stitch-ensemble", StitchEnsembleProblem, StitchEnsembleProblem.summary)
PROBLEMS.add("stitch-graph", StitchGraphProblem, StitchGraphProblem.summary)
for one_shot in (DistillProblem, MergeProblem, FinetuneProblem):
    PROBLEMS.add(one_shot.family, one_shot, one_shot.summary)


def variable_kinds(family: str, params: dict[str, Any]) -> frozenset[str]:
    """The variable kinds of `family` with these parameters (what a suite's solvers must support)."""
    factory = PROBLEMS.entry(family).factory
    kinds_with = getattr(factory, "kinds_with", None)
    return frozenset(kinds_with(params) if kinds_with else factory.variable_kinds)


@cache
def contract(family: str) -> FamilyContract:
    return check_family(PROBLEMS.entry(family).factory)


def suite_parameters(family: str) -> dict[str, Any]:
    """The parameters (with defaults) a suite may set for `family`."""
    return contract(family).parameters(PROBLEMS.entry(family).parameters())


def injected_params(family: str, zoo_seed: int, cache_dir: Path | None) -> dict[str, Any]:
    """What the framework passes `family` besides the zoo, under the names its factory takes them."""
    values = {"zoo_seed": zoo_seed, "cache_dir": cache_dir}
    return {param: values[name] for name, param in contract(family).injected.items()}


def create_problem(name: str, zoo: Zoo, **params) -> Problem:
    """Build family `name` with `params` (checked first), through its classmethod `create` where it has one (a
    family with a live and a tabular form chooses between them there)."""
    entry = PROBLEMS.entry(name)
    entry.check(params)
    return getattr(entry.factory, "create", entry.factory)(zoo, **params)
