"""Exported tabular instances: Parquet + manifest, loaded without torch, scoring exactly as the instance."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stitchbench.benchmark._suite import expand, load_suite
from stitchbench.benchmark._workspace import Workspace
from stitchbench.cli import main
from stitchbench.errors import InputError
from stitchbench.moo._adapters import to_pymoo
from stitchbench.moo._api import TabularProblem
from stitchbench.tabular import TableIntegrityError, load
from stitchbench.tabular._export import export_problem
from stitchbench.tabular._files import dense, long_columns, value_columns

SUITE = """
name = "tabular-export"
seeds = [0]
budget = 10

[[scenarios]]
name = "digits-shift"

[zoo]
archs = ["cnn"]

[[problems]]
family = "ensemble-weights"

[[problems]]
family = "stitch-ensemble"
hosts = ["uci-digits"]
params = { method = "double-batched", alpha_grid = 5 }  # the table of conftest's se_table
cost = true

[[problems]]
family = "stitch-ensemble"
id = "live"
hosts = ["uci-digits"]

[[solvers]]
name = "random"
"""
WEIGHTS = "digits-shift/z0/ensemble-weights"
STITCH = "digits-shift/z0/stitch-ensemble@uci-digits+cost"


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("suite") / "tabular.toml"
    path.write_text(SUITE)
    return path


@pytest.fixture(scope="module")
def jobs(suite_file):
    return {j.instance: j for j in expand(load_suite(str(suite_file)))}


@pytest.fixture(scope="module")
def workspace(cache_dir, zoo, setup_db):
    """The in-process instances (the zoo and stitch fixtures trained what they use)."""
    return Workspace(cache_dir)


@pytest.fixture(scope="module")
def exported(suite_file, cache_dir, workspace, tmp_path_factory):
    """Both instances exported through the CLI."""
    base, out = tmp_path_factory.mktemp("exports"), {}
    for iid in (WEIGHTS, STITCH):
        out[iid] = base / iid.replace("/", "_")
        argv = ["--quiet", "--cache", str(cache_dir), "table", "export", iid, "--suite", str(suite_file)]
        assert main([*argv, "--out", str(out[iid])]) == 0
    return out


def candidates(problem, n: int = 400, seed: int = 0) -> np.ndarray:
    """Random rows in numeric encoding, with some all-zero weights and, where there is alpha, some alpha = 0."""
    rng = np.random.default_rng(seed)
    lo, hi = np.array([v.bounds for v in problem.variables], dtype=float).T
    X = rng.uniform(lo, hi, (n, len(lo)))
    for j, v in enumerate(problem.variables):
        if v.kind != "real":
            X[:, j] = np.round(X[:, j])
        elif v.name == "alpha":
            X[: n // 4, j] = 0.0
    weights = [j for j, v in enumerate(problem.variables) if v.name.startswith("w.")]
    X[-10:, weights] = 0.0
    return X


@pytest.mark.parametrize("iid", [WEIGHTS, STITCH])
def test_loaded_export_scores_as_its_instance(iid, exported, workspace, jobs):
    live, loaded = workspace.problem(jobs[iid]), load(exported[iid])
    assert isinstance(loaded, TabularProblem) and isinstance(live, TabularProblem)
    assert loaded.instance.model_dump(mode="json") == workspace.instance(jobs[iid]).model_dump(mode="json")
    assert [v.record() for v in loaded.variables] == [v.record() for v in live.variables]
    assert loaded.objectives == live.objectives
    assert (loaded.metric(), loaded.scenario_name(), loaded.parties()) == (
        live.metric(),
        "digits-shift",
        live.parties(),
    )
    assert loaded.front_kind() == live.front_kind() == "exact"
    assert loaded.max_cost() == live.max_cost()
    X = candidates(live)
    for split in ("val", "test"):
        assert np.array_equal(loaded.evaluate(X, split), live.evaluate(X, split))
        front = loaded.exact_front(split)
        assert np.array_equal(front, live.exact_front(split))
        # an exact front weakly dominates every candidate
        sign = np.where(loaded.maximize, 1.0, -1.0)
        assert all((front * sign >= f * sign).all(1).any() for f in loaded.evaluate(X, split))
        base, live_base = loaded.baselines(split), live.baselines(split)
        assert base.keys() == live_base.keys()
        assert all(np.array_equal(base[k], live_base[k]) for k in base)
    ours, theirs = loaded.output_ensembles(), live.output_ensembles()
    assert (ours is None) == (theirs is None)
    if ours is not None:
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))
    assert loaded.evaluate([loaded.decode(X[0])], "val").shape == (1, len(loaded.objectives))


def test_export_refuses_bad_requests(exported, suite_file, cache_dir, tmp_path, capsys):
    base = ["--quiet", "--cache", str(cache_dir), "table", "export"]
    suite = ["--suite", str(suite_file), "--out", str(tmp_path / "x")]
    assert main([*base, "digits-shift/z0/nope", *suite]) == 2
    err = capsys.readouterr().err
    assert "unknown instance 'digits-shift/z0/nope'" in err and WEIGHTS in err and STITCH in err
    assert main([*base, "digits-shift/z0/live@uci-digits", *suite]) == 2
    err = capsys.readouterr().err
    assert "not tabular" in err and "stitch-ensemble" in err and "alpha_grid" in err
    assert main([*base, WEIGHTS, "--suite", str(suite_file), "--out", str(exported[STITCH])]) == 2
    assert "not an empty directory" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_tampered_export_is_refused(exported, tmp_path, capsys):
    assert main(["table", "check", str(exported[STITCH])]) == 0
    assert "every sha256 matches" in capsys.readouterr().out
    copy = tmp_path / "tampered"
    shutil.copytree(exported[STITCH], copy)
    data = bytearray((copy / "intervals.parquet").read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / "intervals.parquet").write_bytes(bytes(data))
    with pytest.raises(TableIntegrityError, match=r"intervals\.parquet: sha256 [0-9a-f]{64}, expected [0-9a-f]{64}"):
        load(copy)
    assert issubclass(TableIntegrityError, InputError)
    assert main(["table", "check", str(copy)]) == 2
    err = capsys.readouterr().err
    assert "intervals.parquet" in err and "Traceback" not in err
    (copy / "intervals.parquet").unlink()
    with pytest.raises(TableIntegrityError, match="missing"):
        load(copy)
    manifest = json.loads((exported[WEIGHTS] / "manifest.json").read_text())
    with pytest.raises(TableIntegrityError, match="manifest.json"):
        load(exported[WEIGHTS], manifest_sha256="0" * 64)
    assert manifest["files"].keys() == {p.name for p in exported[WEIGHTS].iterdir()} - {"manifest.json"}
    assert main(["table", "check", str(tmp_path)]) == 2
    assert "holds no exported table" in capsys.readouterr().err
    malformed = tmp_path / "malformed"
    shutil.copytree(exported[WEIGHTS], malformed)
    (malformed / "manifest.json").write_text(json.dumps(manifest | {"shape": [3]}))
    with pytest.raises(InputError, match="does not cover the shape"):
        load(malformed)


def test_a_tampered_manifest_is_refused_where_its_sha256_is_pinned(exported, tmp_path, capsys):
    """Flipping an objective's direction in manifest.json passes the per-file hashes (they live in it), so
    `table check` prints the manifest's sha256 to publish, and `--sha256` refuses anything else."""
    assert main(["table", "check", str(exported[STITCH])]) == 0
    digest = capsys.readouterr().out.split("manifest sha256 ")[1].split()[0]
    assert main(["table", "check", str(exported[STITCH]), "--sha256", digest]) == 0
    copy = tmp_path / "flipped"
    shutil.copytree(exported[STITCH], copy)
    text = (copy / "manifest.json").read_text()
    assert '"direction": "max"' in text
    (copy / "manifest.json").write_text(text.replace('"direction": "max"', '"direction": "min"', 1))
    assert main(["table", "check", str(copy)]) == 0  # unpinned: the per-file hashes still match
    capsys.readouterr()
    assert main(["table", "check", str(copy), "--sha256", digest]) == 2
    assert "manifest.json" in capsys.readouterr().err
    levels = tmp_path / "levels"
    shutil.copytree(exported[STITCH], levels)
    manifest = json.loads((levels / "manifest.json").read_text())
    for v in manifest["variables"]:
        if v["name"] == "alpha":
            v["levels"] += 1
    (levels / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="alpha has 6 levels, alphas.parquet 5"):
        load(levels)


TORCH_FREE = """
import json, sys
if sys.argv[1] == "blocked":
    sys.modules["torch"] = None  # import torch fails
import numpy as np
import optuna
from stitchbench.moo._adapters import to_pymoo
from stitchbench.tabular import load

optuna.logging.set_verbosity(optuna.logging.WARNING)
p = load(sys.argv[2])
X = np.array([[0.0, 0.5, 0.3, 0.7], [1.0, 1.0, 1.0, 0.0]])
F = [p.evaluate(X, s).tolist() for s in ("val", "test")]
p.exact_front("val"), p.baselines("test"), p.output_ensembles()
out = {}
to_pymoo(p)._evaluate(X, out)
study = optuna.create_study(directions=p.optuna().directions, sampler=optuna.samplers.RandomSampler(seed=0))
study.optimize(p.optuna(), n_trials=3)
heavy = ("stitchbench.stitching", "stitchbench.zoo", "stitchbench.data", "stitchbench.problems")
loaded = [m for m, v in sys.modules.items() if v is not None and (m == "torch" or m.startswith(("torch.", *heavy)))]
print(json.dumps({"F": F, "modules": loaded, "torch": "torch" in sys.modules and sys.modules["torch"] is not None}))
"""


@pytest.mark.parametrize("mode", ["blocked", "absent"])
def test_load_runs_without_torch(mode, exported, workspace, jobs):
    r = subprocess.run(
        [sys.executable, "-c", TORCH_FREE, mode, str(exported[STITCH])], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.splitlines()[-1])
    assert got["modules"] == [] and not got["torch"]
    X = np.array([[0.0, 0.5, 0.3, 0.7], [1.0, 1.0, 1.0, 0.0]])
    live = workspace.problem(jobs[STITCH])
    assert got["F"] == [live.evaluate(X, s).tolist() for s in ("val", "test")]


def test_optuna_problem_runs_a_study(exported):
    import optuna

    loaded = load(exported[STITCH])
    bench = loaded.optuna()
    assert list(bench.search_space) == [v.name for v in loaded.variables]
    d = optuna.study.StudyDirection
    assert bench.directions == [d.MAXIMIZE, d.MAXIMIZE, d.MINIMIZE]
    try:
        from optunahub.benchmarks import BaseProblem
    except ImportError:
        pass
    else:
        assert isinstance(bench, BaseProblem)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=bench.directions, sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(bench, n_trials=20)
    assert len(study.trials) == 20
    for t in study.trials:
        assert t.values == bench.evaluate(t.params)
        assert t.values == loaded.evaluate([t.params], "val")[0].tolist()
    point = loaded.variables[0].choices[1]
    assert bench.evaluate({"point": point, "alpha": 0.5, "w.uci-digits": 1, "w.mnist": 0}) == pytest.approx(
        loaded.evaluate([[1, 0.5, 1, 0]], "val")[0].tolist()
    )


def test_pymoo_runs_on_a_loaded_problem(exported):
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.optimize import minimize

    loaded = load(exported[STITCH])
    pymoo_problem = to_pymoo(loaded)
    res = minimize(pymoo_problem, NSGA2(pop_size=12), ("n_gen", 4), seed=0)
    assert len(res.F) and np.isfinite(res.F).all()
    X = np.atleast_2d(res.X)
    F = pymoo_problem.sign * loaded.evaluate(pymoo_problem.rows(X), "val")  # minimized: scores negated
    assert np.array_equal(np.atleast_2d(res.F), F)


def test_the_optuna_problem_pickles_names_its_metrics_and_steps_the_alpha_grid(exported):
    import pickle

    import optuna

    loaded = load(exported[STITCH])
    bench = loaded.optuna()
    again = pickle.loads(pickle.dumps(bench))
    params = {"point": loaded.variables[0].choices[2], "alpha": 0.75, "w.uci-digits": 0.3, "w.mnist": 0.6}
    assert again.evaluate(params) == bench.evaluate(params)
    assert bench.metric_names == ["uci-digits", "mnist", "cost"]
    alpha = bench.search_space["alpha"]
    assert isinstance(alpha, optuna.distributions.FloatDistribution) and alpha.step == pytest.approx(0.25)
    assert bench.search_space["w.mnist"].step is None  # a continuous weight stays continuous


def test_pymoo_knows_the_exact_front_and_gets_categoricals_as_choices(exported):
    from stitchbench.solvers._pymoo_solvers import build

    for iid in (WEIGHTS, STITCH):
        loaded = load(exported[iid])
        pm = to_pymoo(loaded)
        exact = loaded.exact_front("val")
        if loaded.front_kind() == "exact":
            assert np.array_equal(np.unique(pm.pareto_front(), axis=0), np.unique(pm.sign * exact, axis=0))
        else:
            assert pm.pareto_front() is None
    loaded = load(exported[STITCH])
    algorithm = build("nsga2", loaded, 12)
    algorithm.setup(to_pymoo(loaded, mixed=True), termination=("n_eval", 24), seed=0, verbose=False)
    X = algorithm.ask().get("X")
    assert all(isinstance(x["point"], str) and x["point"] in loaded.variables[0].choices for x in X)
    assert all(0 <= x["alpha"] <= 1 for x in X)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # set_metric_names
def test_the_optunahub_package_loads_an_export(exported):
    """package/benchmarks/stitchbench is in optunahub's registry layout and loads with optunahub."""
    import optuna
    import optunahub

    root = Path(__file__).parents[1] / "package"
    assert {p.name for p in (root / "benchmarks" / "stitchbench").iterdir()} >= {"__init__.py", "README.md", "LICENSE"}
    module = optunahub.load_local_module("benchmarks/stitchbench", registry_root=str(root))
    assert "cross-arch.graph-6@mnist+cost" in module.available_instances()
    shipped = module.Problem("cross-arch.graph-6@mnist+cost")
    assert shipped.reference_front is not None and shipped.metric_names == ["uci-digits", "mnist", "cost"]
    problem = module.Problem(exported[WEIGHTS])
    loaded = load(exported[WEIGHTS])
    assert problem.metric_names == [o.name for o in loaded.objectives]
    np.testing.assert_array_equal(problem.reference_front, loaded.exact_front("val"))
    study = optuna.create_study(directions=problem.directions, sampler=optuna.samplers.RandomSampler(seed=0))
    study.set_metric_names(problem.metric_names)
    study.optimize(problem, n_trials=10)
    assert all(t.values == loaded.evaluate([t.params], "val")[0].tolist() for t in study.trials)


def test_the_optunahub_package_passes_the_registrys_checks():
    """The package as optunahub-registry's CI checks it: its ruff settings (line length 99, single-line
    imports, Python 3.10) and strict mypy; with requirements.txt and example.py beside it."""
    import subprocess
    import sys

    root = Path(__file__).parents[1] / "package"
    files = {p.name for p in (root / "benchmarks" / "stitchbench").iterdir()}
    assert {"requirements.txt", "example.py", "README.md", "LICENSE", "__init__.py"} <= files
    bin_dir = Path(sys.executable).parent
    for cmd in (
        [bin_dir / "ruff", "check", "--config", "ruff.toml", "benchmarks"],
        [bin_dir / "ruff", "format", "--check", "--config", "ruff.toml", "benchmarks"],
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "benchmarks/stitchbench"],
    ):
        done = subprocess.run([str(c) for c in cmd], cwd=root, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr


def test_stitch_graph_subset_round_trips(zoo, cache_dir, tmp_path):
    from stitchbench.moo import make_instance
    from stitchbench.problems import create_problem
    from stitchbench.tabular._graph import raw_rows

    params = {"host": "uci-digits", "max_points": 2, "cost": True}
    graph = create_problem("stitch-graph", zoo, cache_dir=cache_dir, **params)
    instance = make_instance(graph, "stitch-graph@uci-digits+cost", "stitch-graph", params, "digits-shift", {}, 0)
    export_problem(graph, instance, tmp_path / "graph")
    loaded = load(tmp_path / "graph")
    X = raw_rows(graph.live.n_points)
    for split in ("val", "test"):
        assert np.array_equal(loaded.evaluate(X, split), graph.evaluate(X, split))
        assert np.array_equal(loaded.exact_front(split), graph.exact_front(split))
    assert loaded.front_kind() == "exact" and loaded.max_cost() == graph.max_cost()
    with pytest.raises(InputError, match="not an empty directory"):
        export_problem(graph, instance, tmp_path / "graph")
    live = graph.live  # the live problem it tabulates: not tabular, refused before anything is written
    with pytest.raises(InputError, match="not tabular"):
        export_problem(live, instance, tmp_path / "n")
    assert not (tmp_path / "n").exists()


def test_long_format_round_trips_any_sample_shape():
    """Per-sample values of any shape (segmentation: classes x pixels) are flattened into columns and back."""
    import pyarrow as pa

    a = np.random.default_rng(0).random((2, 3, 4, 2, 3), dtype=np.float32)
    t = pa.table(long_columns(a, ["point", "member", "sample"], "p."))
    assert value_columns(t, "p.") == [f"p.{i}" for i in range(6)]
    back = dense(
        t.take(np.random.default_rng(1).permutation(len(t))),
        ["point", "member", "sample"],
        (2, 3, 4),
        value_columns(t, "p."),
    )
    assert np.array_equal(back.reshape(a.shape), a)
    with pytest.raises(InputError, match="exactly once"):
        dense(t.slice(1), ["point", "member", "sample"], (2, 3, 4), value_columns(t, "p."))
