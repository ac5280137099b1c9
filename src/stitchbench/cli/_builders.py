"""The CLI's one way to the builders: the commands that build, train or run need the `torch` extra, and import
it (with `stitchbench.benchmark`) only when one of them runs."""

from types import ModuleType

from stitchbench.errors import InputError


def builders() -> ModuleType:
    """`stitchbench.benchmark._commands`, or an InputError naming the torch extra where torch is missing."""
    try:
        import torch  # noqa: F401
    except ImportError as e:
        raise InputError(
            "this command builds zoos, stitches or runs suites and needs torch, which is not installed; "
            "install the extra: pip install 'stitchbench[torch]' (report, compare, leaderboard, calibrate, table list, "
            "show and check, list solvers and list suites work without it)"
        ) from e
    from stitchbench.benchmark import _commands as commands

    return commands
