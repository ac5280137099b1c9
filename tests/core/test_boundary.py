"""The public/private boundary (docs/api.md): every package declares `__all__` and every name in it resolves;
no object has two public import paths; the docs import only public names; a module is private (`_name.py`)
unless the lists below say it is public; the one deprecation helper names both versions."""

import ast
import importlib
import importlib.util
import inspect
import re
import warnings
from pathlib import Path

import pytest

import stitchbench
from stitchbench._deprecation import deprecated

ROOT = Path(__file__).resolve().parents[2]
SRC = Path(stitchbench.__file__).resolve().parent

# Every public import path. A package is public; a module inside one is private unless listed here.
PUBLIC_PACKAGES = {
    "stitchbench",
    "stitchbench.benchmark",
    "stitchbench.cli",
    "stitchbench.data",
    "stitchbench.moo",
    "stitchbench.problems",
    "stitchbench.results",
    "stitchbench.solvers",
    "stitchbench.stitching",
    "stitchbench.study",
    "stitchbench.suites",
    "stitchbench.tabular",
    "stitchbench.zoo",
}
PUBLIC_MODULES = {
    "stitchbench.errors",  # what plugins import: InputError
    "stitchbench.registry",  # tagged
    "stitchbench.study.claim4_size",  # python -m stitchbench.study.claim4_size: claims 4 and 5's size, measured
}
BUILDERS = {
    "stitchbench.benchmark",
    "stitchbench.data",
    "stitchbench.problems",
    "stitchbench.stitching",
    "stitchbench.zoo",
}


def modules() -> dict[str, Path]:
    """Every module and package of the source tree, by dotted name (a package by its `__init__.py`)."""
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def is_private(name: str) -> bool:
    return any(part.startswith("_") for part in name.split("."))


def static_all(path: Path) -> list[str] | None:
    """The `__all__` a module assigns (a literal list of strings), read without importing it."""
    for node in ast.parse(path.read_text()).body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return list(ast.literal_eval(node.value))
    return None


def importable(name: str):
    if name in BUILDERS:
        pytest.importorskip("torch")
    return importlib.import_module(name)


def test_every_module_is_private_unless_listed_public_and_every_listed_one_exists():
    found = modules()
    public = {name for name in found if not is_private(name)}
    undecided = public - PUBLIC_PACKAGES - PUBLIC_MODULES
    assert not undecided, (
        f"public modules nobody decided on: {sorted(undecided)}; name them _name.py, or list them in "
        "tests/core/test_boundary.py and docs/api.md"
    )
    assert not (PUBLIC_PACKAGES | PUBLIC_MODULES) - set(found), "listed but gone"
    packages = {name for name, path in found.items() if path.name == "__init__.py"}
    assert packages - {n for n in packages if is_private(n)} == PUBLIC_PACKAGES
    assert not PUBLIC_MODULES & packages


@pytest.mark.parametrize("name", sorted(PUBLIC_PACKAGES | PUBLIC_MODULES))
def test_every_public_path_declares_all(name):
    names = static_all(modules()[name])
    assert names is not None, f"{name} has no __all__"
    assert all(isinstance(n, str) for n in names) and len(set(names)) == len(names), names


@pytest.mark.parametrize("name", sorted(PUBLIC_PACKAGES | PUBLIC_MODULES))
def test_every_name_in_all_resolves(name):
    module = importable(name)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not have: {missing}"


def test_no_object_has_two_public_import_paths():
    paths: dict[int, list[str]] = {}
    keep = []  # hold every object, so that no id is reused while the table is built
    for name in sorted(PUBLIC_PACKAGES | PUBLIC_MODULES):
        if name in BUILDERS and importlib.util.find_spec("torch") is None:
            continue
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if isinstance(obj, (str, int, float, bool, type(None))):
                continue  # constants: equal values are not one object
            keep.append(obj)
            paths.setdefault(id(obj), []).append(f"{name}.{attr}")
    assert not [p for p in paths.values() if len(p) > 1]


DOC_IMPORT = re.compile(r"^\s*from (stitchbench[\w.]*) import ([\w, ]+)$", re.M)


def test_the_docs_import_only_public_names():
    found = modules()
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    imports = [(doc.name, m[1], m[2]) for doc in docs for m in DOC_IMPORT.finditer(doc.read_text())]
    assert len(imports) >= 10  # the README's and docs/plugins.md's examples, at least
    for doc, module, names in imports:
        assert module in PUBLIC_PACKAGES | PUBLIC_MODULES, f"{doc} imports from {module}, not a public path"
        declared = static_all(found[module]) or []
        assert {n.strip() for n in names.split(",")} <= set(declared), f"{doc}: {module} import {names}"


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
