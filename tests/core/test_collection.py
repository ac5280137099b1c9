"""The shipped collection, without torch: every instance loads by name with its manifest pinned by the
catalog, the collection is graded (2 to 5 objectives; real, categorical, gridded and binary variables;
small to large spaces) and fits its size budget, and a name not in it is refused naming the valid ones."""

import numpy as np
import pytest

from stitchbench.errors import InputError
from stitchbench.hashing import file_sha256
from stitchbench.tabular import catalog, load
from stitchbench.tabular.catalog import COLLECTION, read_catalog, resolve

MAX_BYTES = 50_000_000


def test_the_collection_is_graded_and_small():
    cat = catalog()
    assert len(cat) >= 12
    assert {len(o) for o in cat.objectives} >= {2, 3, 4, 5}
    kinds = {v.split(": ")[1] for vs in cat.variables for v in vs}
    assert kinds == {"real", "categorical", "binary"}
    assert (cat.continuous == 0).any() and (cat.continuous > 0).any()  # purely discrete spaces and mixed ones
    assert cat.discrete.min() < 1_000 and cat.discrete.max() >= 40_000  # and continuous ones: infinite
    assert set(cat.front) <= {"exact", "approximate"} and (cat.front == "exact").sum() >= 6
    on_disk = sum(f.stat().st_size for f in COLLECTION.rglob("*") if f.is_file())
    assert on_disk <= MAX_BYTES and cat["bytes"].sum() <= on_disk


@pytest.mark.parametrize("name", sorted(read_catalog()))
def test_every_instance_loads_by_name_pinned_by_the_catalog(name):
    problem = load(name)
    folder, sha = resolve(name)
    assert file_sha256(folder / "manifest.json") == sha
    entry = read_catalog()[name]
    assert problem.instance.id == entry["instance"] and [o.name for o in problem.objectives] == entry["objectives"]
    front = problem.exact_front("val")
    assert front is not None and len(front) >= 1 and problem.front_kind() == entry["front"]
    rng = np.random.default_rng(0)
    X = [
        [
            rng.choice(v.choices)
            if v.kind == "categorical"
            else rng.integers(0, 2)
            if v.kind == "binary"
            else rng.random()
            for v in problem.variables
        ]
        for _ in range(50)
    ]
    F = problem.evaluate(X, "val")
    sign = np.where(problem.maximize, 1, -1)
    if problem.front_kind() == "exact":  # nothing beats an exact front
        assert ((front * sign)[None] >= (F * sign)[:, None]).all(2).any(1).all()


def test_an_unknown_name_is_refused_with_the_valid_ones():
    with pytest.raises(InputError, match=r"'digits-shift\.nope' is neither a folder nor a shipped tabular instance"):
        load("digits-shift.nope")
    with pytest.raises(InputError, match=r"shipped instances: .*digits-shift\.weights"):
        resolve("digits-shift.nope")


def test_a_manifest_other_than_the_catalogs_is_refused(monkeypatch):
    import importlib

    from stitchbench.tabular import TableIntegrityError

    cat = importlib.import_module("stitchbench.tabular.catalog")  # the module; the package's `catalog` is a function

    entries = {n: dict(e) for n, e in read_catalog().items()}
    entries["digits-shift.weights"]["manifest_sha256"] = "0" * 64
    monkeypatch.setattr(cat, "read_catalog", lambda folder=COLLECTION: entries)
    with pytest.raises(TableIntegrityError, match=r"manifest\.json: sha256 [0-9a-f]{64}, expected 0{64}"):
        load("digits-shift.weights")
