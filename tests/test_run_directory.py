"""A run directory keeps every byte of data: collision-free job files, no writes on bad input, one run at a
time, nothing of the user's touched, and job files verified before anything is built on them."""

import json

import pandas as pd
import pytest
from filelock import FileLock

from stitchbench.cli import main
from stitchbench.registry import Entry
from stitchbench.solvers import SOLVERS
from stitchbench.solvers._api import Solver

CHEAP = """
name = "cheap"
seeds = [0, 1]
budget = 10
{extra}

[[scenarios]]
name = "digits-shift"
{scenario}

[[problems]]
family = "ensemble-weights"
{problem}

[[solvers]]
name = "{solver}"
"""


def suite_file(tmp_path, name="cheap.toml", extra="", scenario="", problem="", solver="random"):
    path = tmp_path / name
    path.write_text(CHEAP.format(extra=extra, scenario=scenario, problem=problem, solver=solver))
    return path


def run(cache_dir, suite, out, capsys=None):
    code = main(["--quiet", "--cache", str(cache_dir), "run", str(suite), "--out", str(out)])
    return code, (capsys.readouterr().err if capsys else "")


@pytest.fixture(scope="module")
def finished(tmp_path_factory, zoo, cache_dir):
    root = tmp_path_factory.mktemp("finished")
    suite = suite_file(root)
    assert run(cache_dir, suite, root / "run")[0] == 0
    return suite, root / "run"


def test_problem_ids_that_collided_as_file_names_keep_both_jobs(tmp_path, zoo, cache_dir):
    problems = (
        '[[problems]]\nfamily = "ensemble-weights"\nid = "p q"\n[[problems]]\nfamily = "ensemble-weights"\nid = "p~q"'
    )
    path = tmp_path / "ids.toml"
    path.write_text(
        CHEAP.format(extra="", scenario="", problem="", solver="random").replace(
            '[[problems]]\nfamily = "ensemble-weights"\n', problems + "\n"
        )
    )
    assert run(cache_dir, path, tmp_path / "run")[0] == 0
    ev = pd.read_parquet(tmp_path / "run" / "evaluations.parquet")
    assert ev.groupby("problem").job.nunique().to_dict() == {"p q": 2, "p~q": 2}
    assert len(ev) == 4 * 10 and not ev.duplicated(["job", "eval"]).any()
    assert len(list((tmp_path / "run" / "jobs").glob("*.evaluations.parquet"))) == 4


def test_a_non_empty_directory_that_is_no_run_is_refused_untouched(tmp_path, cache_dir, capsys):
    out = tmp_path / "mine"
    (out / "deep").mkdir(parents=True)
    precious = [out / ".notes.tmp", out / "deep" / ".draft.tmp.txt", out / "data.csv"]
    for p in precious:
        p.write_text("mine")
    code, err = run(cache_dir, suite_file(tmp_path), out, capsys)
    assert code == 2 and "not empty and holds no stitchbench run" in err
    assert all(p.read_text() == "mine" for p in precious) and sorted(out.rglob("*")) == sorted(
        [out / "deep", *precious]
    )


@pytest.mark.parametrize(
    "problem,needle",
    [
        ('params = { members = ["nope"] }', "unknown model kind 'nope'"),
        ("params = { bogus = 1 }", "unknown parameter 'bogus'"),
        ('params = { arch = "resnet" }', "'resnet'; valid architectures (of the suite's zoo): cnn"),
    ],
)
def test_bad_problem_parameters_exit_2_before_any_training_or_write(problem, needle, tmp_path, capsys):
    cold = tmp_path / "cold-cache"
    code, err = run(cold, suite_file(tmp_path, problem=problem), tmp_path / "out", capsys)
    assert code == 2 and needle in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists() and not cold.exists()  # nothing trained, nothing written


def test_bad_stitch_method_exits_2_before_any_training(tmp_path, capsys):
    suite = (
        suite_file(tmp_path).read_text() + '\n[[problems]]\nfamily = "stitch-ensemble"\nparams = { method = "nope" }\n'
    )
    (tmp_path / "s.toml").write_text(suite)
    code, err = run(tmp_path / "cold", tmp_path / "s.toml", tmp_path / "out", capsys)
    assert code == 2 and "unknown stitch training method 'nope'" in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cold").exists()


@pytest.mark.parametrize(
    "extra,scenario,needle",
    [
        ("", 'params = { partitioner = "nope" }', "unknown partitioner 'nope'"),
        ("", "params = { alpha = -1 }", "'alpha' = -1 is invalid: Input should be greater than 0"),
        ("", 'params = { seed = "abc" }', "'seed' = 'abc' is invalid"),
        ("", "params = { split = 0.5 }", "got 0.5"),
    ],
)
def test_bad_scenario_parameters_exit_2(extra, scenario, needle, tmp_path, capsys):
    code, err = run(tmp_path / "cold", suite_file(tmp_path, extra=extra, scenario=scenario), tmp_path / "o", capsys)
    assert code == 2 and needle in err and not (tmp_path / "o").exists() and not (tmp_path / "cold").exists()


def test_negative_seeds_are_bad_input(tmp_path, capsys):
    text = suite_file(tmp_path).read_text().replace("seeds = [0, 1]", "seeds = [-1]")
    (tmp_path / "neg.toml").write_text(text)
    code, err = run(tmp_path / "cold", tmp_path / "neg.toml", tmp_path / "o", capsys)
    assert code == 2 and "seeds" in err and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["zoo", "build", "digits-shift", "-p", "k=abc"], "'k' = 'abc' is invalid"),
        (["zoo", "build", "digits-shift", "-p", "seed=abc"], "'seed' = 'abc' is invalid"),
        (
            ["zoo", "build", "digits-shift", "--seeds", "-1"],
            "argument --seeds: seed -1 is not a whole number in 0..4294967295",
        ),
        (["stitch", "points", "digits-shift", "-p", "split=0.5"], "got 0.5"),
        (["stitch", "points", "digits-shift", "-p", "split=(0.9,0.9,0.1)"], "got '(0.9,0.9,0.1)'"),
        (["stitch", "points", "digits-shift", "-p", "alpha=-1"], "'alpha' = -1 is invalid"),
        (["stitch", "points", "digits-shift", "-p", "partitioner=nope"], "unknown partitioner 'nope'"),
    ],
)
def test_cli_scenario_parameters_exit_2(argv, needle, tmp_path, capsys):
    assert main(["--quiet", "--cache", str(tmp_path / "cold"), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and not (tmp_path / "cold").exists()


def hostile_manifest(zoo, tmp_path, **config):
    record = zoo.get("local:mnist")
    weights = record.artifact.path / "weights.safetensors"
    manifest = json.loads(json.dumps(record.manifest))
    manifest["config"] |= config
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest))
    return ["zoo", "import", str(weights), "--manifest", str(path)]


@pytest.mark.parametrize(
    "config,needle",
    [
        ({"kind": "../../etc/x"}, "model kind '../../etc/x'"),
        ({"scenario": {"name": "../../etc/x", "params": {}}}, "unknown scenario '../../etc/x'"),
        ({"arch_params": {"width": "x"}}, "cannot be built from"),
    ],
)
def test_zoo_import_validates_names_and_parameters(config, needle, zoo, tmp_path, capsys):
    cache = tmp_path / "inbox-cache"
    assert main(["--quiet", "--cache", str(cache), *hostile_manifest(zoo, tmp_path, **config)]) == 2
    assert needle in capsys.readouterr().err and not (cache / "models").exists()


def test_a_second_run_on_a_locked_directory_is_refused_and_writes_nothing(tmp_path, zoo, cache_dir, capsys):
    out = tmp_path / "run"
    out.mkdir()
    with FileLock(out / ".stitchbench.lock"):
        code, err = run(cache_dir, suite_file(tmp_path), out, capsys)
    assert code == 2 and "in use by another stitchbench process" in err
    assert [p.name for p in out.iterdir()] == [".stitchbench.lock"]


def test_damaged_job_files_are_found_and_recomputed(finished, tmp_path, cache_dir, capsys):
    suite, out = finished
    manifest = json.loads((out / "manifest.json").read_text())
    assert all(len(s["files"]) == 2 for s in manifest["jobs"].values())
    job = next(iter(manifest["jobs"].values()))
    damaged = out / next(iter(job["files"]))
    original = pd.read_parquet(damaged)
    damaged.write_bytes(damaged.read_bytes()[:100])
    assert main(["report", str(out)]) == 2
    assert f"first: {damaged.relative_to(out)}" in capsys.readouterr().err
    assert main(["compare", str(out)]) == 2
    capsys.readouterr()
    # a rerun recomputes exactly that job, with the same values
    assert run(cache_dir, suite, out)[0] == 0
    again = pd.read_parquet(damaged)
    pd.testing.assert_frame_equal(original.drop(columns="seconds"), again.drop(columns="seconds"))
    assert main(["report", str(out)]) == 0


def test_a_changed_aggregate_is_refused_by_readers_and_rebuilt_by_run(finished, tmp_path, cache_dir, capsys):
    """Halved hypervolumes (still valid Parquet) and a truncated evaluations table: compare and report refuse
    them naming the file (exit 2); run rebuilds them to the original values."""
    suite, out = finished
    before = pd.read_parquet(out / "indicators.parquet")
    halved = before.assign(hypervolume=before.hypervolume / 2)
    halved.to_parquet(out / "indicators.parquet", index=False)
    assert main(["compare", str(out)]) == 2
    assert "first: indicators.parquet" in capsys.readouterr().err
    assert main(["report", str(out)]) == 2
    assert "indicators.parquet" in capsys.readouterr().err
    evaluations = pd.read_parquet(out / "evaluations.parquet")
    evaluations.head(3).to_parquet(out / "evaluations.parquet", index=False)
    assert run(cache_dir, suite, out)[0] == 0
    assert "rebuilt evaluations.parquet, indicators.parquet" in capsys.readouterr().out
    pd.testing.assert_frame_equal(before, pd.read_parquet(out / "indicators.parquet"))
    assert len(pd.read_parquet(out / "evaluations.parquet")) == len(evaluations) == 2 * 10
    assert main(["compare", str(out)]) == 0 and "random" in capsys.readouterr().out


class Broken(Solver):
    """Always fails."""

    name = "broken"
    supports = frozenset({"real", "integer", "categorical", "binary"})

    def solve(self, problem, evaluator, budget, seed):
        evaluator([[0.5] * len(problem.variables)])
        raise RuntimeError("broken on purpose")


def test_a_run_whose_jobs_all_failed_is_reported(tmp_path, zoo, cache_dir, monkeypatch, capsys):
    monkeypatch.setitem(SOLVERS._entries, "broken", Entry("broken", Broken, "fails"))
    out = tmp_path / "run"
    assert run(cache_dir, suite_file(tmp_path, solver="broken"), out)[0] == 1
    assert main(["report", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "## Failed jobs" in md and "broken on purpose" in md
    assert len(pd.read_parquet(out / "failed_jobs.parquet")) == 2
    assert not len(pd.read_parquet(out / "indicators.parquet"))
    capsys.readouterr()
    assert main(["calibrate", str(out)]) == 2
    assert "no finished jobs to calibrate" in capsys.readouterr().err


def test_resuming_removes_only_our_temporary_files(tmp_path, cache_dir):
    """A killed writer's temporary files carry our marker and go on resume; a user's `.notes.tmp` stays."""
    from stitchbench._files import TEMP_MARKER

    out = tmp_path / "run"
    suite = suite_file(tmp_path)
    assert run(cache_dir, suite, out)[0] == 0
    mine = [out / ".notes.tmp", out / "jobs" / ".draft.tmp", out / "figures" / ".plot.png.tmp.png"]
    ours = [out / f".manifest.json{TEMP_MARKER}k1ll3d00.tmp", out / "jobs" / f".x.parquet{TEMP_MARKER}abcdefgh.tmp"]
    for p in mine + ours:
        p.write_text("x")
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps(manifest | {"status": "running"}))  # as a killed run leaves it
    assert run(cache_dir, suite, out)[0] == 0
    assert all(p.read_text() == "x" for p in mine) and not any(p.exists() for p in ours)


@pytest.mark.parametrize(
    "line,needle",
    [
        ('name = "../../escaped"', "name"),
        ('name = "/abs/where"', "name"),
        ('name = ""', "name"),
        (f'name = "{"x" * 5000}"', "name"),
        ('name = "cheap"\ntime_limit = inf', "time_limit"),
        ('name = "cheap"\ntime_limit = 1e308', "time_limit"),
    ],
)
def test_unsafe_names_and_endless_time_limits_exit_2_and_write_nothing(line, needle, tmp_path, capsys):
    path = suite_file(tmp_path)
    path.write_text(path.read_text().replace('name = "cheap"', line, 1))
    code, err = run(tmp_path / "cache", path, tmp_path / "out", capsys)
    assert code == 2 and needle in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()
    assert not (tmp_path.parent.parent / "escaped").exists()
