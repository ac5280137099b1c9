"""Plugins of every kind: lazy entry-point loading, its rules, the example package end to end, its docs."""

import json
import re
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import stitchbench.registry
from stitchbench.cli import main
from stitchbench.data import SCENARIOS, get_scenario
from stitchbench.errors import InputError
from stitchbench.moo._api import Problem
from stitchbench.problems import PROBLEMS, create_problem
from stitchbench.registry import Registry
from stitchbench.solvers import SOLVERS
from stitchbench.zoo import ARCHITECTURES, build_zoo

ROOT = Path(__file__).parent.parent
PLUGIN = ROOT / "tests" / "plugin_example"
EXAMPLES = {
    "scenarios": ("example.stripes", "stitchbench_example_plugin.scenario:stripes"),
    "architectures": ("example.mlp", "stitchbench_example_plugin.architecture:mlp"),
    "problems": ("example.subset-ensemble", "stitchbench_example_plugin.problem:SubsetEnsemble"),
    "solvers": ("example.hillclimb", "stitchbench_example_plugin.solver:HillClimber"),
}


def fake_group(monkeypatch, *pairs: tuple[str, str]) -> list[str]:
    """Make the widget group hold these (name, target) entry points; returns the log of lookups."""
    looked_up = []

    def entry_points(group):
        looked_up.append(group)
        return [EntryPoint(name, value, group) for name, value in pairs]

    monkeypatch.setattr(stitchbench.registry, "entry_points", entry_points)
    return looked_up


def test_plugins_load_on_first_lookup_with_the_rules_for_every_kind(monkeypatch, caplog):
    looked_up = fake_group(
        monkeypatch,
        ("builtin", "math:sqrt"),
        ("broken", "no_such_module_for_stitchbench:thing"),
        ("mlp", "stitchbench_example_plugin.architecture:mlp"),
        ("mlp", "math:floor"),
    )
    widgets: Registry = Registry("widget")
    widgets.add("builtin", lambda size=1: size, "A built-in widget.")
    assert looked_up == []  # registering built-ins loads nothing
    assert widgets.names() == ["builtin", "mlp"]
    assert looked_up == ["stitchbench.widgets"]
    widgets.names()
    assert looked_up == ["stitchbench.widgets"]  # loaded once

    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 3
    assert "'builtin' (math:sqrt) is refused: its name is taken by the built-in widget" in warnings[0]
    assert "'broken' (no_such_module_for_stitchbench:thing) is skipped: it failed to load" in warnings[1]
    assert "ModuleNotFoundError" in warnings[1]
    assert "'mlp' (math:floor) is refused: its name is taken by the plugin stitchbench_example_plugin" in warnings[2]

    assert widgets.entry("builtin").factory() == 1
    entry = widgets.entry("mlp")
    assert entry.plugin == "stitchbench_example_plugin.architecture:mlp"
    assert entry.tags == {"task": "classification"}
    assert entry.about == "[plugin stitchbench_example_plugin.architecture:mlp] " + entry.description
    assert entry.description.startswith("Two hidden ReLU layers")
    with pytest.raises(InputError, match="unknown parameter 'width' for widget 'mlp'; valid parameters: grid, hidden"):
        widgets.create("mlp", 1, 4, width=8)
    with pytest.raises(InputError, match="unknown widget 'broken'; valid widgets: builtin, mlp"):
        widgets.entry("broken")


@pytest.mark.parametrize("kind", EXAMPLES)
def test_every_kind_lists_its_example_plugin_marked(kind, capsys):
    registry = {"scenarios": SCENARIOS, "architectures": ARCHITECTURES, "problems": PROBLEMS, "solvers": SOLVERS}[kind]
    for e in registry:
        assert e.description and "\n" not in e.description, e.name
    assert [e.name for e in registry if e.plugin] == [EXAMPLES[kind][0]]
    assert main(["list", kind]) == 0
    out = capsys.readouterr().out
    name, target = EXAMPLES[kind]
    assert re.search(rf"^{re.escape(name)}\n(  .*\n)*  about: \[plugin {re.escape(target)}\] \S", out, re.M), out


def test_plugin_parameters_are_checked_like_builtin_ones(capsys):
    with pytest.raises(
        InputError, match="unknown parameter 'k' for scenario 'example.stripes'; .*n, seed, size, split"
    ):
        get_scenario("example.stripes", k=4)
    assert main(["zoo", "build", "example.stripes", "-p", "n=10"]) == 2
    assert "n must be >= 40" in capsys.readouterr().err


def test_importing_stitchbench_has_no_side_effects():
    """No logging level, warning filter or matplotlib backend changes, no plugin loaded, by importing."""
    script = textwrap.dedent(
        """
        import importlib, logging, sys, warnings
        import matplotlib, numpy, optuna, pandas, pymoo, scipy.stats, sklearn, torch  # their own import effects
        filters = list(warnings.filters)
        names = ["", "optuna", "stitchbench", "matplotlib"]
        levels = [logging.getLogger(n).level for n in names]
        handlers = [list(logging.getLogger(n).handlers) for n in names]
        for m in ["stitchbench", "stitchbench.data", "stitchbench.zoo", "stitchbench.stitching",
                  "stitchbench.problems", "stitchbench.solvers", "stitchbench.benchmark._suite",
                  "stitchbench.benchmark._executors", "stitchbench.results", "stitchbench.benchmark._runner",
                  "stitchbench.cli"]:
            importlib.import_module(m)
        assert warnings.filters == filters, [f for f in warnings.filters if f not in filters]
        assert [logging.getLogger(n).level for n in names] == levels
        assert [list(logging.getLogger(n).handlers) for n in names] == handlers
        assert matplotlib.rcParams["backend"] == "svg", matplotlib.rcParams["backend"]
        assert not [m for m in sys.modules if m.startswith("stitchbench_example_plugin")]
        """
    )
    env = {**__import__("os").environ, "MPLBACKEND": "svg"}
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr


def test_the_example_plugin_suite_runs_every_kind_through_the_cli(cache_dir, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--quiet", "--cache", str(cache_dir), "run", str(PLUGIN / "example-suite.toml"), "--out", str(out)]
    assert main(argv) == 0
    assert "ran 2 jobs (0 failed)" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert {j["status"] for j in manifest["jobs"].values()} == {"done"}
    assert [j["evaluations"] for j in manifest["jobs"].values()] == [24, 24]

    scenario = get_scenario("example.stripes")
    zoo = build_zoo(scenario, ["example.mlp"], cache_dir=cache_dir)  # from the cache the run filled
    assert {r.arch for r in zoo.records} == {"example.mlp"} and len(zoo.records) == 5
    problem = create_problem("example.subset-ensemble", zoo, zoo_seed=0)
    xs = [f"x.{v.name}" for v in problem.variables]
    fs = [f"f.{o.name}" for o in problem.objectives]
    assert xs == ["x.use.local:wide", "x.use.local:fine", "x.use.merged", "x.use.fedavg", "x.use.fedprox"]

    fronts = pd.read_parquet(out / "fronts.parquet")
    assert set(fronts.solver) == {"example.hillclimb"} and set(fronts.split) == {"val", "test"}
    for split, rows in fronts.groupby("split"):
        np.testing.assert_allclose(rows[fs].to_numpy(), problem.evaluate(rows[xs].to_numpy(), split))
    exact = problem.exact_front("val")
    for f in fronts[fronts.split == "val"][fs].to_numpy():  # nothing found beats the enumerated front
        assert (exact >= f - 1e-12).all(1).any()
    baselines = pd.read_parquet(out / "baselines.parquet")
    assert {"local:wide", "local:fine", "merged", "ensemble"} <= set(baselines.baseline)


def test_the_docs_show_the_example_plugin_verbatim():
    """Every code block of docs/plugins.md headed `# FILE` is that file of tests/plugin_example, unchanged."""
    doc = (ROOT / "docs" / "plugins.md").read_text()
    blocks = re.findall(r"```(?:python|toml)\n# (\S+)\n(.*?)```", doc, re.S)
    shown = {name: body for name, body in blocks}
    expected = {
        "pyproject.toml",
        "example-suite.toml",
        *(f"src/stitchbench_example_plugin/{m}.py" for m in ("scenario", "architecture", "problem", "solver")),
    }
    assert set(shown) == expected
    for name, body in shown.items():
        assert body == (PLUGIN / name).read_text(), name


def test_verbose_shows_a_failed_jobs_traceback(cache_dir, tmp_path, monkeypatch, capsys, caplog):
    from stitchbench_example_plugin.solver import HillClimber

    climb = HillClimber.solve

    def fall(self, problem, evaluator, budget, seed):
        if seed == 0:
            raise RuntimeError("climbed off a cliff")
        climb(self, problem, evaluator, budget, seed)

    monkeypatch.setattr(HillClimber, "solve", fall)  # seed 0 fails, seed 1 runs
    suite = str(PLUGIN / "example-suite.toml")
    for verbose, out in ((False, tmp_path / "quiet"), (True, tmp_path / "verbose")):
        argv = ["--quiet", "--cache", str(cache_dir), "run", suite, "--out", str(out)]
        caplog.clear()
        assert main(["--verbose", *argv] if verbose else argv) == 1
        assert "ran 2 jobs (1 failed)" in capsys.readouterr().out
        err = caplog.text  # the records the CLI's logging setup prints on stderr
        assert ("Traceback (most recent call last)" in err) == verbose
    assert "job example.stripes/z0/example.subset-ensemble/example.hillclimb/s0 failed" in err
    assert 'in fall\n    raise RuntimeError("climbed off a cliff")' in err


def test_a_family_that_takes_the_zoo_seed_as_seed_is_refused_naming_zoo_seed():
    from stitchbench.problems._registry import check_family

    class Old(Problem):
        """A family written against the pre-release docs (0.1 was never released: no shim)."""

        variable_kinds = frozenset({"real"})

        def __init__(self, zoo, seed: int = 0, width: int = 3): ...

    with pytest.raises(TypeError, match="takes no \\['zoo_seed'\\]"):
        check_family(Old)


def test_a_family_whose_declarations_break_its_signature_is_refused():
    from stitchbench.problems._registry import check_family

    class Hosted(Problem):
        """Says it takes a host, but does not."""

        variable_kinds = frozenset({"real"})
        hosted = True

        def __init__(self, zoo, zoo_seed: int = 0): ...

    with pytest.raises(TypeError, match="host"):
        check_family(Hosted)
    Hosted.hosted = False
    assert check_family(Hosted).injected == {"zoo_seed": "zoo_seed"}


def test_the_example_family_implements_five_members():
    from stitchbench_example_plugin.problem import SubsetEnsemble

    own = {n for n in vars(SubsetEnsemble) if not n.startswith("__") or n == "__init__"} - {"_abc_impl"}
    assert own == {"variable_kinds", "__init__", "_evaluate", "baselines", "exact_front"}


def test_the_example_plugin_suite_runs_alike_with_the_study(cache_dir, tmp_path, capsys):
    """The study (`analyses = ["claims"]`) adds its files and changes no search, front or baseline."""
    studied = tmp_path / "studied.toml"
    studied.write_text('analyses = ["claims"]\n' + (PLUGIN / "example-suite.toml").read_text())
    runs = {}
    for name, suite in (("plain", PLUGIN / "example-suite.toml"), ("studied", studied)):
        runs[name] = tmp_path / name
        assert main(["--quiet", "--cache", str(cache_dir), "run", str(suite), "--out", str(runs[name])]) == 0
        assert "ran 2 jobs (0 failed)" in capsys.readouterr().out
    assert not (runs["plain"] / "claims.json").exists() and (runs["studied"] / "claims.json").exists()
    for table in ("fronts", "evaluations", "baselines", "exact_fronts"):
        plain, studied_table = (pd.read_parquet(runs[n] / f"{table}.parquet") for n in ("plain", "studied"))
        clock = [c for c in plain if "second" in c]  # wall time differs from run to run
        pd.testing.assert_frame_equal(plain.drop(columns=clock), studied_table.drop(columns=clock))


def test_a_family_written_against_the_tabular_flag_is_skipped_naming_what_to_implement(monkeypatch, tmp_path, caplog):
    from stitchbench.problems._registry import check_family

    (tmp_path / "old_tabular_family.py").write_text(
        textwrap.dedent(
            """
            from stitchbench.moo._api import Problem

            class OldTable(Problem):
                '''docs/plugins.md before 0.2: the tabular flag and a lookup on a Problem'''

                variable_kinds = frozenset({"real"})
                tabular = True

                def _lookup(self, matrix, split):
                    return matrix
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    fake_group(monkeypatch, ("old", "old_tabular_family:OldTable"))
    problems: Registry = Registry("problem", check=check_family)
    assert problems.names() == []
    assert "failed to load: TypeError" in caplog.text and "subclass stitchbench.moo.TabularProblem" in caplog.text


def test_a_family_with_part_of_claim_4s_hooks_is_refused_naming_the_rest():
    from stitchbench.problems._registry import check_family

    class HalfStitched(Problem):
        """Declares the hooks docs/plugins.md listed before 0.2, relying on defaults for the others."""

        variable_kinds = frozenset({"real"})

        def __init__(self, zoo, zoo_seed: int = 0): ...

        def stitch_alpha(self, matrix): ...

        def claim_pools(self): ...

        def candidate_pool(self, matrix): ...

    with pytest.raises(TypeError, match="missing: member_kinds, stitches_enumerated"):
        check_family(HalfStitched)
