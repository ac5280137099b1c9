"""Deprecated names keep working for one release, with a warning naming their replacement (CHANGELOG.md)."""

import warnings

REMOVED_IN = "0.3"


def deprecated(old: str, new: str) -> None:
    """Warn that `old` is deprecated in favour of `new` (attributed to the caller's caller)."""
    warnings.warn(
        f"{old} is deprecated and will be removed in stitchbench {REMOVED_IN}; use {new}",
        DeprecationWarning,
        stacklevel=3,
    )
