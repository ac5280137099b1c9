"""The shipped collection, without torch: every instance loads by name with its manifest pinned by the
catalog, the collection is graded (2 to 5 objectives; real, categorical, gridded and binary variables;
small to large spaces), fits its size budget and carries each instance's calibration (the second rule's),
and a name not in it is refused naming the valid ones."""

import json
import tomllib
from importlib.resources import files

import numpy as np
import pytest

from stitchbench._hashing import file_sha256
from stitchbench.errors import InputError
from stitchbench.tabular import catalog, load
from stitchbench.tabular._catalog import COLLECTION, read_catalog, resolve

MAX_BYTES = 100_000_000  # the collection's budget (issue 35)


def test_the_collection_is_graded_and_small():
    cat = catalog()
    assert len(cat) >= 30  # issue 35
    assert {len(o) for o in cat.objectives} >= {2, 3, 4, 5}
    kinds = {v.split(": ")[1] for vs in cat.variables for v in vs}
    assert kinds == {"real", "categorical", "binary"}
    gridded = [e for e in read_catalog().values() if any(v == "alpha: real" for v in e["variables"])]
    assert gridded and all(e["provenance"]["params"]["alpha_grid"] >= 2 for e in gridded)
    assert (cat.continuous == 0).any() and (cat.continuous > 0).any()  # purely discrete spaces and mixed ones
    assert cat.discrete.min() < 1_000 and cat.discrete.max() >= 10_000  # and continuous ones: infinite
    assert set(cat.front) <= {"exact", "approximate"} and (cat.front == "exact").sum() >= 2
    on_disk = sum(f.stat().st_size for f in COLLECTION.rglob("*") if f.is_file())
    assert on_disk <= MAX_BYTES and cat["bytes"].sum() <= on_disk


def test_the_shipped_calibration_is_the_second_rules_confirmed():
    """Every shipped instance is calibrated by the second rule (`stitchbench.results.calibrate`) on the
    calibration seeds and confirmed on the confirmation seeds, by the solvers suite's solvers at its budget;
    `table list` says so, as docs/collection.md does."""
    from pathlib import Path

    from stitchbench.results import CALIBRATION_SEEDS, CONFIRMATION_SEEDS, CalibrationRecord
    from stitchbench.tabular._catalog import catalog_view, collection_name

    doc = (Path(__file__).parents[2] / "docs" / "collection.md").read_text()
    assert "calibrated on seeds 1000-1019 and confirmed on seeds 2000-2019" in doc
    suite = tomllib.loads(files("stitchbench.suites").joinpath("solvers.toml").read_text())
    solvers = {s.get("id") or s["name"] for s in suite["solvers"]}
    for name, entry in read_catalog().items():
        c = CalibrationRecord.model_validate_json(json.dumps(entry["calibration"]))
        assert c.verdict == "calibrated" and c.confirmation.verdict == "calibrated", name
        assert (c.seeds, c.confirmation.seeds) == (CALIBRATION_SEEDS, CONFIRMATION_SEEDS), name
        assert c.budget == suite["budget"] and set(c.solver_params) == set(c.solvers) == solvers, name
        assert collection_name(c.instance) == name == collection_name(entry["instance"])
    assert set(catalog_view().calibrated) == {"calibrated"}


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
    with pytest.raises(InputError, match=r"shipped instances: .*cross-arch\.graph-6@mnist\+cost"):
        resolve("digits-shift.nope")


def test_a_manifest_other_than_the_catalogs_is_refused(monkeypatch):
    import importlib

    from stitchbench.tabular import TableIntegrityError

    cat = importlib.import_module("stitchbench.tabular._catalog")  # the module; the package's `catalog` is a function

    entries = {n: dict(e) for n, e in read_catalog().items()}
    name = min(entries)
    entries[name]["manifest_sha256"] = "0" * 64
    monkeypatch.setattr(cat, "read_catalog", lambda folder=COLLECTION: entries)
    with pytest.raises(TableIntegrityError, match=r"manifest\.json: sha256 [0-9a-f]{64}, expected 0{64}"):
        load(name)


def test_the_readmes_collection_snippet_runs_raw_pymoo_and_optuna():
    """The README's code for the shipped collection, run as written (torch-free here): raw pymoo NSGA-II and
    raw Optuna on a shipped instance, scored as the table scores them, never beyond its exact front."""
    import re
    from pathlib import Path

    import optuna

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("### The shipped collection") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    problem, pm, result, exact, study = (scope[k] for k in ("problem", "pm", "result", "exact", "study"))
    from stitchbench.results import hypervolume

    found, hv, gap = scope["found"], scope["hv"], scope["gap"]
    assert len(found) == 1000 and hv == hypervolume(found, problem.instance) and gap >= 0
    assert hv >= hypervolume(pm.sign * np.atleast_2d(result.F), problem.instance)  # the last population only
    assert problem.name == problem.instance.id == "cross-arch/z0/graph-6@mnist+cost"
    X = np.atleast_2d(result.X)
    F = pm.sign * problem.evaluate(pm.rows(X), "val")
    assert np.array_equal(np.atleast_2d(result.F), F) and len(result.pop) == 50
    assert np.array_equal(np.unique(exact, axis=0), np.unique(pm.sign * problem.exact_front("val"), axis=0))
    assert ((exact[None] <= np.atleast_2d(result.F)[:, None]).all(2).any(1)).all()  # nothing beats the exact front
    assert len(study.trials) == 300 and study.metric_names == [o.name for o in problem.objectives]
    for t in study.trials[:20]:
        assert t.values == problem.evaluate([t.params], "val")[0].tolist()


def test_the_docs_list_of_instances_is_generated_from_the_catalog(capsys):
    """docs/collection-instances.md is `stitchbench table list --format md` below its heading (regenerate it
    with that command after a rebuild)."""
    from pathlib import Path

    from stitchbench.cli import main

    assert main(["table", "list", "--format", "md"]) == 0
    listing = capsys.readouterr().out.strip()
    doc = (Path(__file__).parents[2] / "docs" / "collection-instances.md").read_text()
    head, table = doc.split("\n| name |", 1)
    assert "table list --format md" in head and f"| name |{table}".strip() == listing
    assert len(listing.splitlines()) == len(catalog()) + 2  # the header, the rule, a row per instance


def test_the_readme_shows_the_collection_by_family_and_objectives(capsys):
    """The README shows `stitchbench table list --summary --format md`: a row per family and objective count
    whose instances add up to the catalog's (regenerate it with that command after a rebuild)."""
    from pathlib import Path

    from stitchbench.cli import main
    from stitchbench.tabular._catalog import catalog_summary

    summary = catalog_summary()
    assert summary.instances.sum() == len(catalog()) and not summary.duplicated(["family", "objectives"]).any()
    assert main(["table", "list", "--summary", "--format", "md"]) == 0
    listing = capsys.readouterr().out.strip()
    assert len(listing.splitlines()) == len(summary) + 2
    assert f"\n{listing}\n" in (Path(__file__).parents[2] / "README.md").read_text()


def test_the_readme_stays_a_newcomers_page():
    """At most 150 lines (issue 34): the pitch, the two commands, install, an example per user kind, the
    collection and its leaderboard, links; the manual lives in docs/."""
    from pathlib import Path

    lines = (Path(__file__).parents[2] / "README.md").read_text().splitlines()
    assert len(lines) <= 150, len(lines)
