"""The public/private boundary: the one deprecation helper."""

import inspect
import warnings

import pytest

from stitchbench._deprecation import deprecated


def test_the_deprecation_helper_names_the_replacement_and_both_versions():
    def old_name():
        deprecated("stitchbench.old_name()", "stitchbench.new_name()", since="0.2", removed_in="0.4")

    with pytest.warns(DeprecationWarning) as caught:
        line = inspect.currentframe().f_lineno + 1
        old_name()
    (warning,) = caught
    assert warning.category is DeprecationWarning
    assert str(warning.message) == (
        "stitchbench.old_name() is deprecated since stitchbench 0.2 and will be removed in stitchbench 0.4; "
        "use stitchbench.new_name()"
    )
    assert (warning.filename, warning.lineno) == (__file__, line)  # the deprecated name's caller, not the helper


def test_the_deprecation_helper_takes_both_versions_by_keyword_or_position():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        deprecated("a", "b", "0.2", "0.3")
    assert "since stitchbench 0.2" in str(caught[0].message) and "removed in stitchbench 0.3" in str(caught[0].message)
    with pytest.raises(TypeError):
        deprecated("a", "b")  # a deprecation always says when it began and when it ends
