"""The commands that need no torch run in the torch-free core (this folder also runs in a venv without torch):
listings of solvers and suites, and the shipped tables' list and check; a building command says it needs the
torch extra where torch is missing."""

import importlib.util

import pytest

from stitchbench.cli import main
from stitchbench.suites import shipped_suites
from stitchbench.tabular.catalog import catalog_view


def test_solvers_and_suites_are_listed(capsys):
    assert main(["list", "solvers"]) == 0
    assert "pymoo.nsga2" in capsys.readouterr().out
    assert main(["list", "suites"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in shipped_suites()) and "budget: 500" in out


def test_a_shipped_instance_is_checked_by_name_and_listed_in_every_format(capsys):
    name = catalog_view().name.iloc[0]
    assert main(["table", "check", name]) == 0
    assert "pinned by the catalog" in capsys.readouterr().out
    assert main(["table", "list", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("name,family,")
    assert main(["table", "list", "--format", "md"]) == 0
    assert capsys.readouterr().out.startswith("| name | family |")
    assert main(["table", "list", "--format", "xml"]) == 2


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed here")
def test_a_building_command_names_the_torch_extra(capsys):
    assert main(["list", "scenarios"]) == 2
    assert "stitchbench[torch]" in capsys.readouterr().err
