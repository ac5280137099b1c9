"""The one deprecation helper. 0.1 was never released, so its pre-release names were removed without a shim;
from 0.1 on, a name that users or plugins rely on is deprecated (it keeps working, with this warning) for at
least one release before it is removed, and the warning names both versions (CHANGELOG.md)."""

import warnings


def deprecated(old: str, new: str, since: str, removed_in: str, stacklevel: int = 3) -> None:
    """Warn that `old` is deprecated since stitchbench `since` and goes away in `removed_in`, in favour of `new`.

    Args:
        old: the deprecated name as a user writes it, e.g. "Solver.prepare()".
        new: what to use instead.
        since: the release that deprecated it, e.g. "0.2".
        removed_in: the release that removes it, e.g. "0.3".
        stacklevel: whom the warning is attributed to; the default, 3, is the caller of the deprecated name
            when the deprecated function calls this helper directly.
    """
    warnings.warn(
        f"{old} is deprecated since stitchbench {since} and will be removed in stitchbench {removed_in}; use {new}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
