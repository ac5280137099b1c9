"""The commands that need no torch run in the torch-free core (this folder also runs in a venv without torch):
listings of solvers and suites, and the shipped tables' list, show and check; a building command says it needs
the torch extra where torch is missing."""

import pytest

from stitchbench.cli import main
from stitchbench.suites import shipped_suites
from stitchbench.tabular._catalog import catalog_view

from .no_torch import without_torch

NAME = catalog_view().name.iloc[0]

CLI = f"""
import pkgutil
import stitchbench.cli
from stitchbench.cli import main

for m in pkgutil.iter_modules(stitchbench.cli.__path__):  # every command group imports without torch
    if m.name != "__main__":
        __import__(f"stitchbench.cli.{{m.name}}")
argvs = [["list", "solvers"], ["table", "list", "--format", "csv"], ["table", "check", "{NAME}"], ["list", "scenarios"]]
print([main(argv) for argv in argvs], "torch" in sys.modules)
main(["--help"])  # argparse exits 0 after the help
"""


def test_the_cli_runs_without_torch():
    out = without_torch(CLI)
    assert out.returncode == 0, out.stderr
    assert "pymoo.nsga2" in out.stdout and "\nname,family," in out.stdout and "pinned by the catalog" in out.stdout
    assert "[0, 0, 0, 2] False" in out.stdout and "usage: stitchbench" in out.stdout
    assert "stitchbench[torch]" in out.stderr  # what `list scenarios` says


def test_solvers_and_suites_are_listed(capsys):
    assert main(["list", "solvers"]) == 0
    assert "pymoo.nsga2" in capsys.readouterr().out
    assert main(["list", "suites"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in shipped_suites()) and "budget: 500" in out


@pytest.mark.parametrize("argv", [["list", "solvers"], ["list", "suites"], ["table", "list"], ["table", "show", NAME]])
def test_every_torch_free_listing_takes_a_format(argv, capsys):
    assert main([*argv, "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("name,")
    assert main([*argv, "--format", "md"]) == 0
    assert capsys.readouterr().out.startswith("| name |")
    assert main([*argv, "--format", "xml"]) == 2
    assert "invalid choice: 'xml' (choose from" in capsys.readouterr().err
