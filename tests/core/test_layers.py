"""The torch-free core: its packages import without torch (and without pymoo or optuna until a function needs
them), and the import contract that keeps arrows going down fails on a planted reverse import."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .no_torch import without_torch

ROOT = Path(__file__).resolve().parents[2]
CORE = ("stitchbench.moo", "stitchbench.tabular", "stitchbench.solvers", "stitchbench.results")

IMPORT = """
import json
for name in NAMES:
    __import__(name)
heavy = sorted(m for m in ("torch", "pymoo", "optuna") if m in sys.modules)
print(json.dumps({"heavy": heavy, "imported": [n for n in NAMES if n in sys.modules]}))
"""


def test_core_packages_import_without_torch_pymoo_or_optuna():
    out = without_torch(IMPORT.replace("NAMES", repr(list(CORE))))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [], result
    assert result["imported"] == list(CORE)


LOAD = """
import json
from stitchbench.tabular import load
for name in NAMES:
    load(name).evaluate
print(json.dumps(sorted(m for m in ("torch", "pandas", "numba", "pymoo", "optuna") if m in sys.modules)))
"""


def test_loading_an_instance_of_each_family_imports_neither_pandas_nor_numba():
    """What a load needs is Arrow and numpy: pandas (a third of a fresh load's time: pyarrow imports it from
    a chunked array's `to_numpy` or a table's `to_pylist`) and numba (the first scoring imports it) stay out."""
    names = ["digits-shift.weights-5", "digits-shift-4.stitch@uci-digits-1", "digits-shift.graph-7@uci-digits+cost"]
    out = without_torch(LOAD.replace("NAMES", repr(names)))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_core_refuses_torch_when_blocked():
    """The blocker itself works: a builder package needs torch and fails to import under it."""
    out = without_torch(IMPORT.replace("NAMES", repr(["stitchbench.zoo"])))
    assert out.returncode != 0 and "torch is not installed" in out.stderr


def lint_imports(package_root: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "lint-imports"
    if not exe.is_file():
        pytest.skip("import-linter is not installed")
    env = {"PYTHONPATH": str(package_root), "PATH": str(exe.parent), "HOME": str(package_root)}
    return subprocess.run(
        [str(exe), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=package_root,
        env=env,
    )


def test_import_contract_holds_and_fails_on_a_planted_reverse_import(tmp_path):
    tree = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "stitchbench", tree / "stitchbench", ignore=shutil.ignore_patterns("__pycache__"))
    assert lint_imports(tree).returncode == 0
    front = tree / "stitchbench" / "moo" / "_front.py"
    front.write_text(front.read_text() + "\nfrom stitchbench.zoo import Zoo  # planted: the core reaching up\n")
    broken = lint_imports(tree)
    assert broken.returncode != 0
    assert "stitchbench.moo._front -> stitchbench.zoo" in broken.stdout and "BROKEN" in broken.stdout
    front.write_text(front.read_text().replace("from stitchbench.zoo import Zoo", "import stitchbench.study"))
    broken = lint_imports(tree)  # the library reaching up into the paper's study
    assert broken.returncode != 0 and "stitchbench.moo._front -> stitchbench.study" in broken.stdout
    front.write_text(front.read_text().replace("import stitchbench.study", ""))
    splits = tree / "stitchbench" / "moo" / "_splits.py"
    splits.write_text(splits.read_text() + "\nfrom . import _front  # planted: a cycle _front -> _splits -> _front\n")
    (tree / "stitchbench" / "moo" / "_front.py").write_text(front.read_text() + "\nfrom ._splits import EVAL_SPLITS\n")
    broken = lint_imports(tree)
    assert broken.returncode != 0 and "No cycles are allowed in stitchbench.moo" in broken.stdout
