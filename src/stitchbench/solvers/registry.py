"""The solver registry: built-ins plus third-party solvers from the `stitchbench.solvers` entry point group."""

import logging
from importlib.metadata import entry_points

from stitchbench.errors import InputError
from stitchbench.problems import Problem
from stitchbench.registry import Registry

from .api import Solver
from .builtin import Exhaustive, RandomSearch
from .optuna_solvers import OPTUNA
from .pymoo_solvers import PYMOO

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "stitchbench.solvers"


def _doc(cls) -> str:
    return (cls.__doc__ or cls.__name__).strip().splitlines()[0]


def load_solvers() -> Registry[Solver]:
    registry: Registry[Solver] = Registry("solver")
    for name, cls in {**PYMOO, **OPTUNA, "random": RandomSearch, "exhaustive": Exhaustive}.items():
        registry.add(name, cls, _doc(cls))
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as e:  # a broken plugin must not break the built-ins
            log.warning("solver plugin %r could not be loaded: %s", ep.name, e)
            continue
        if ep.name in registry:
            log.warning("solver plugin %r shadows a built-in solver and is ignored", ep.name)
            continue
        registry.add(ep.name, cls, f"[plugin {ep.value}] {_doc(cls)}")
    return registry


SOLVERS = load_solvers()


def create_solver(name: str, **params) -> Solver:
    return SOLVERS.create(name, **params)


def check_supports(name: str, problem_kinds: set[str]) -> None:
    """Reject a solver that cannot handle a problem's variable kinds."""
    supports = set(SOLVERS.entry(name).factory.supports)
    missing = problem_kinds - supports
    if missing:
        raise InputError(
            f"solver {name!r} does not support {', '.join(sorted(missing))} variables "
            f"(it supports: {', '.join(sorted(supports))})"
        )


def supports(name: str, problem: Problem) -> bool:
    return problem.kinds <= set(SOLVERS.entry(name).factory.supports)
