"""Reliability, round 3: workers die with their driver, every writer holds the lock, bad paths and foreign
files exit 2, `zoo import` never silently does nothing, clear messages, resumable early kills, user file
modes, time limits before the first batch, and scorers that agree on inputs no problem passes."""

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from filelock import FileLock

from stitchbench.cli import main
from stitchbench.errors import InputError
from stitchbench.moo._scoring import StepAccuracy, WeightedScores

from .test_run_directory import CHEAP, suite_file


def cli(capsys, *argv):
    code = main(["--quiet", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def done(tmp_path_factory, zoo, cache_dir):
    root = tmp_path_factory.mktemp("done")
    suite = suite_file(root)
    assert main(["--quiet", "--cache", str(cache_dir), "run", str(suite), "--out", str(root / "run")]) == 0
    return suite, root / "run"


# ---------------------------------------------------------------- 2: no orphans

POOL = textwrap.dedent(
    """
    import os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context
    from pathlib import Path
    from stitchbench._processes import worker_pool

    def nap(folder):
        (Path(folder) / str(os.getpid())).touch()
        time.sleep(120)

    if __name__ == "__main__":
        if sys.argv[1] == "watched":
            pool = worker_pool(["cpu", "cpu"], "stitchbench.benchmark._executors:_init_worker", sys.argv[2])
        else:
            pool = ProcessPoolExecutor(2, mp_context=get_context("spawn"))
        with pool as pool:
            futures = [pool.submit(nap, sys.argv[2]) for _ in range(2)]
            futures[0].result()
    """
)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("variant", ["watched", "unwatched"])
def test_pool_workers_die_with_a_killed_driver(variant, tmp_path):
    """The process executor's workers, busy in their jobs, exit within seconds of a kill -9 of their driver
    (as the OOM killer sends it); a plain pool (the sabotage) leaves them running."""
    script, busy = tmp_path / "pool.py", tmp_path / "busy"
    script.write_text(POOL)
    busy.mkdir()
    driver = subprocess.Popen([sys.executable, str(script), variant, str(busy)])
    assert wait_until(lambda: len(list(busy.iterdir())) == 2, 120), "the workers never started their tasks"
    workers = [int(p.name) for p in busy.iterdir()]
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    gone = wait_until(lambda: not any(map(alive, workers)), 10 if variant == "watched" else 3)
    for p in filter(alive, workers):
        os.kill(p, signal.SIGKILL)
    assert gone == (variant == "watched")


# ---------------------------------------------------------------- 3: report takes the lock


def test_report_waits_for_no_one_and_refuses_a_held_directory(done, capsys):
    _, out = done
    with FileLock(out / ".stitchbench.lock", timeout=0):
        (out / ".stitchbench.holder").write_text(json.dumps({"pid": 4242, "host": "elsewhere", "since": 0.0}))
        code, _, err = cli(capsys, "report", out)
    assert code == 2 and "in use by another stitchbench process (pid 4242 on host elsewhere)" in err
    assert cli(capsys, "report", out)[0] == 0
    assert not (out / ".stitchbench.holder").exists()
    assert not [p for p in out.rglob(".*") if p.name != ".stitchbench.lock"]


# ---------------------------------------------------------------- 6: exit 2, not 1


def test_paths_that_cannot_be_used_exit_2(done, zoo, tmp_path, cache_dir, capsys):
    suite, _out = done
    folder_suite = tmp_path / "x.toml"
    folder_suite.mkdir()
    assert cli(capsys, "run", folder_suite)[0] == 2
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "manifest.json").write_text('{"a": 1}')
    code, _, err = cli(capsys, "--cache", cache_dir, "run", suite, "--out", foreign)
    assert code == 2 and "is not a stitchbench run manifest" in err
    assert cli(capsys, "report", foreign)[0] == 2 and cli(capsys, "compare", foreign)[0] == 2
    assert [p.name for p in foreign.iterdir()] == ["manifest.json"]  # not even a lock
    a_file = tmp_path / "file"
    a_file.write_text("")
    code, _, err = cli(capsys, "--cache", a_file, "run", suite, "--out", tmp_path / "new")
    assert code == 2 and "is a file, not a folder" in err and not (tmp_path / "new").exists()
    code, _, err = cli(capsys, "zoo", "build", "digits-shift", "--out", a_file)
    assert code == 2 and "is a file" in err
    code, _, err = cli(capsys, "zoo", "export", "digits-shift", "--kind", "local:mnist", "--out", a_file / "x")
    assert code == 2 and "is a file" in err
    (tmp_path / "zoo").mkdir()
    (tmp_path / "zoo" / "zoo.parquet").write_bytes(b"PAR1 not really")
    code, _, err = cli(capsys, "zoo", "show", tmp_path / "zoo")
    assert code == 2 and "is damaged" in err
    weights = zoo.get("local:mnist").artifact.path / "weights.safetensors"
    code, _, err = cli(capsys, "zoo", "import", weights, "--manifest", tmp_path)
    assert code == 2 and "cannot read manifest" in err


def test_a_finished_run_is_left_untouched(done, cache_dir, capsys):
    """Nothing to do writes nothing, not even the lock: so it also works on a read-only mount."""
    suite, out = done
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    code, stdout, _ = cli(capsys, "--cache", cache_dir, "run", suite, "--out", out)
    assert code == 0 and "nothing to do" in stdout
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_run_reports_nothing_to_do_and_refuses_writes(done, tmp_path, cache_dir, capsys):
    suite, out = done
    copy = tmp_path / "ro"
    subprocess.run(["cp", "-a", str(out), str(copy)], check=True)
    for p in [copy, *copy.rglob("*")]:
        if p.is_dir():
            p.chmod(0o555)
    try:
        code, stdout, _ = cli(capsys, "--cache", cache_dir, "run", suite, "--out", copy)
        assert code == 0 and "nothing to do" in stdout
        code, _, err = cli(capsys, "report", copy)
        assert code == 2 and f"cannot write to {copy}" in err
        assert cli(capsys, "table", "export", "digits-shift/z0/ensemble-weights", "--out", copy / "t")[0] == 2
    finally:
        for p in [copy, *copy.rglob("*")]:
            if p.is_dir():
                p.chmod(0o755)


def test_table_check_refuses_malformed_manifests(tmp_path, capsys):
    from stitchbench.tabular._files import FORMAT, VERSION

    (tmp_path / "manifest.json").write_text(json.dumps({"format": FORMAT, "version": VERSION, "files": []}))
    code, _, err = cli(capsys, "table", "check", tmp_path)
    assert code == 2 and "'files' must map each file name to its sha256" in err


# ---------------------------------------------------------------- 7: zoo import


def exported(zoo, tmp_path, model_kind="local:mnist", **config):
    record = zoo.get(model_kind)
    manifest = json.loads(json.dumps(record.manifest))
    manifest["config"] |= config
    path = tmp_path / f"{model_kind.replace(':', '-')}.json"
    path.write_text(json.dumps(manifest))
    return record.artifact.path / "weights.safetensors", path


def test_zoo_import_says_when_the_config_is_present(zoo, tmp_path, capsys):
    cache = tmp_path / "inbox"
    weights, manifest = exported(zoo, tmp_path)
    code, out, _ = cli(capsys, "--cache", cache, "zoo", "import", weights, "--manifest", manifest)
    assert code == 0 and out.startswith("imported local:mnist")
    code, out, _ = cli(capsys, "--cache", cache, "zoo", "import", weights, "--manifest", manifest)
    assert code == 0 and "already in the cache with the same weights; nothing imported" in out
    # uci-digits' weights under mnist's config: refused, naming both sha256s
    other, _ = exported(zoo, tmp_path, "local:uci-digits")
    data = json.loads(manifest.read_text())
    data["sha256"] = zoo.get("local:uci-digits").sha256
    manifest.write_text(json.dumps(data))
    code, _, err = cli(capsys, "--cache", cache, "zoo", "import", other, "--manifest", manifest)
    assert code == 2 and "with other weights" in err and data["sha256"] in err


@pytest.mark.parametrize(
    "config,needle",
    [
        ({"seed": "abc"}, "seed 'abc' is not a whole number"),
        ({"kind": "local:.."}, "unknown party '..'"),
        ({"kind": "local:nobody"}, "valid parties: mnist, uci-digits"),
        ({"scenario": {"name": "digits-shift", "params": {"k": 3}}}, "k=3 parties is impossible"),
        ({"scenario": {"name": "digits-shift", "params": {"seed": -5}}}, "'seed' = -5 is invalid"),
        ({"scenario": {"name": "digits-shift", "params": {}}}, "is not as its parameters make it"),
    ],
)
def test_zoo_import_refuses_configs_no_zoo_can_use(config, needle, zoo, tmp_path, capsys):
    cache = tmp_path / "inbox"
    weights, manifest = exported(zoo, tmp_path, **config)
    code, _, err = cli(capsys, "--cache", cache, "zoo", "import", weights, "--manifest", manifest)
    assert code == 2 and needle in err and not (cache / "models").exists()


# ---------------------------------------------------------------- 9: messages


BASE = CHEAP.format(extra="", scenario="", problem="", solver="random")


def scenario_params(params: str) -> str:
    """BASE with digits-shift given `params` (an inline TOML table)."""
    return BASE.replace('name = "digits-shift"', f'name = "digits-shift"\nparams = {params}')


def problem(lines: str) -> str:
    """BASE with its problem replaced: `lines` start with the family (quoted) and may add fields."""
    return BASE.replace('"ensemble-weights"', lines)


@pytest.mark.parametrize(
    "text,needle",
    [
        (BASE, None),
        (BASE + '[[solvers]]\nname = "random"\n', "solvers: 'random' appears twice; give each solver a distinct 'id'"),
        (BASE + '[[scenarios]]\nname = "digits-shift"\n', "scenarios: 'digits-shift' appears twice"),
        (BASE.replace("seeds = [0, 1]", "seeds = [1, 1]"), "seeds: 1 appears twice"),
        (BASE + "[zoo]\nseeds = [0, 0]\n", "zoo.seeds: 0 appears twice"),
        (problem('"stitch-ensemble"\nhosts = ["mnist", "mnist"]'), "'mnist' appears twice"),
    ],
)
def test_repeats_are_named_by_field(text, needle, tmp_path, capsys):
    (tmp_path / "s.toml").write_text(text)
    code, _, err = cli(capsys, "run", tmp_path / "s.toml", "--out", tmp_path / "o", "--check")
    if needle is None:
        assert code == 0
    else:
        assert code == 2 and needle in err and "problems distinct 'id's" not in err


def test_one_solver_with_two_parameter_sets_runs_under_two_ids(tmp_path, zoo, cache_dir, capsys):
    solvers = '[[solvers]]\nname = "random"\nid = "random-b5"\nparams = { batch = 5 }\n'
    path = tmp_path / "s.toml"
    path.write_text(CHEAP.format(extra="", scenario="", problem="", solver="random") + solvers)
    assert cli(capsys, "--cache", cache_dir, "run", path, "--out", tmp_path / "o")[0] == 0
    ind = pd.read_parquet(tmp_path / "o" / "indicators.parquet")
    assert sorted(ind.solver.unique()) == ["random", "random-b5"]


@pytest.mark.parametrize(
    "text,needle",
    [
        (BASE + 'params = { batch = "x" }\n', "solver 'random': parameter 'batch' = 'x' is invalid"),
        (
            scenario_params("{ split = [nan, 0.5, 0.5] }"),
            "split fractions must be three positive",
        ),
        (
            scenario_params("{ alpha = inf }"),
            "parameter 'alpha' = inf is invalid: Input should be a finite",
        ),
        (
            problem('"stitch-ensemble"\nhosts = ["nobody"]'),
            "valid host parties: mnist, uci-digits",
        ),
        (
            problem('"stitch-ensemble"\nparams = { host = "mnist" }'),
            "set its hosts with hosts = [...], not params.host",
        ),
        (
            problem('"stitch-graph"\nparams = { points = ["nope"] }'),
            "unknown point 'nope'; valid points:",
        ),
        (
            problem('"stitch-ensemble"\nparams = { archs = ["cnn"] }'),
            "give one per member (2)",
        ),
        (
            problem('"stitch-ensemble"\nparams = { memo_size = -1 }'),
            "'memo_size' = -1 is invalid",
        ),
        (
            problem('"stitch-ensemble"\nparams = { alpha_grid = 9e18 }'),
            "'alpha_grid' = 9e+18 is invalid",
        ),
        (BASE + 'params = { storage = "sqlite:////nonexistent/dir/x.db" }\n', "folder /nonexistent/dir does not exist"),
    ],
)
def test_messages_name_the_field(text, needle, tmp_path, capsys):
    """Each bad value is refused before anything is written (the run directory stays absent)."""
    if "storage" in text:
        text = text.replace('name = "random"', 'name = "optuna.random"')
    (tmp_path / "s.toml").write_text(text)
    code, _, err = cli(capsys, "run", tmp_path / "s.toml", "--out", tmp_path / "o")
    assert code == 2 and needle in err and "(top level)" not in err and "partys" not in err, err
    assert not (tmp_path / "o").exists()


def test_a_recipe_that_breaks_compute_parity_is_refused_before_the_run_directory(tmp_path, capsys):
    (tmp_path / "s.toml").write_text(
        CHEAP.format(extra="[zoo]\nrecipe = { local_epochs = 4 }", scenario="", problem="", solver="random")
    )
    code, _, err = cli(capsys, "run", tmp_path / "s.toml", "--out", tmp_path / "o")
    assert code == 2 and "not a multiple of local_epochs=4" in err and "(top level)" not in err
    assert not (tmp_path / "o").exists()


def test_a_moved_alpha_level_is_named(tmp_path):
    from stitchbench.tabular._ensemble import EnsembleTable

    table = EnsembleTable.__new__(EnsembleTable)
    table.members, table.points = ["a", "b"], ["p0"]
    table.alphas = np.array([0.0, 0.6, 1.0])
    from stitchbench.moo._api import Variable

    variables = [
        Variable("point", "categorical", choices=("p0",)),
        Variable("alpha", "real", 0.0, 1.0, levels=3),
        Variable("w.a", "real", 0.0, 1.0),
        Variable("w.b", "real", 0.0, 1.0),
    ]
    with pytest.raises(InputError, match=r"alphas.parquet's level 1 is alpha 0.6; variable alpha's grid has 0.5"):
        table.check_variables(variables)


# ---------------------------------------------------------------- 10: a run killed before its manifest


def test_a_directory_holding_only_our_lock_and_temporaries_resumes(tmp_path, zoo, cache_dir, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".stitchbench.lock").write_text("")
    (out / ".stitchbench.holder").write_text(json.dumps({"pid": 1, "host": "gone", "since": 0.0}))
    (out / ".manifest.json.stitchbench-ab12cd34.tmp").write_text("{")
    code, _, err = cli(capsys, "--cache", cache_dir, "run", suite_file(tmp_path), "--out", out)
    assert code == 0, err
    assert (out / "manifest.json").is_file() and not (out / ".manifest.json.stitchbench-ab12cd34.tmp").exists()
    (out / "notes.txt").write_text("mine")
    other = tmp_path / "other"
    other.mkdir()
    (other / ".stitchbench.lock").write_text("")
    (other / "notes.txt").write_text("mine")
    code, _, err = cli(capsys, "--cache", cache_dir, "run", suite_file(tmp_path), "--out", other)
    assert code == 2 and "holds no stitchbench run" in err


# ---------------------------------------------------------------- 11: smaller


def test_an_overlong_out_creates_nothing(tmp_path, capsys):
    suite = suite_file(tmp_path)
    code, _, err = cli(capsys, "run", suite, "--out", tmp_path / "o" / ("x" * 300) / "x")
    assert code == 2 and "longer than 255 bytes" in err and not (tmp_path / "o").exists()


def test_run_files_take_the_users_umask(done):
    _, out = done
    mode = stat.S_IMODE((out / "indicators.parquet").stat().st_mode)
    mask = os.umask(0)
    os.umask(mask)
    assert mode == 0o666 & ~mask


def test_a_time_limit_no_job_can_meet_fails_every_job(tmp_path, zoo, cache_dir, capsys):
    """5,000 evaluations in 100 batches cannot end within 1 ms: no job is done, whether the limit struck
    before its first batch, between batches, or during its last."""
    suite = suite_file(tmp_path, extra="time_limit = 0.001")
    suite.write_text(suite.read_text().replace("budget = 10", "budget = 5000"))
    code, _, _ = cli(capsys, "--cache", cache_dir, "run", suite, "--out", tmp_path / "o")
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert code == 1 and all("time limit" in j["error"] for j in manifest["jobs"].values())


def test_scorers_agree_on_inputs_no_problem_passes():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=(2, 30))
    y = rng.integers(0, 4, 30)
    zero = np.zeros((1, 2))
    assert WeightedScores(probs, y, "accuracy")(zero) == StepAccuracy(probs, y)(zero)
    assert WeightedScores(probs, y, "accuracy")(zero) == WeightedScores(probs, y, "accuracy")([[1.0, 1.0]])
    nan = probs.copy()
    nan[0, 0, 0] = np.nan
    for scorer in (WeightedScores, StepAccuracy):
        with pytest.raises(InputError, match="probabilities must be finite"):
            scorer(nan, y, "accuracy")
        with pytest.raises(InputError, match=r"labels must be class indices in 0..3; got -1..3"):
            scorer(probs, np.where(y == 0, -1, y), "accuracy")
        with pytest.raises(InputError, match="weights must be finite and >= 0"):
            scorer(probs, y, "accuracy")([[-0.5, 1.5]])


def test_python_callers_keep_numpy_numbers_tuples_and_paths(tmp_path):
    """Strict checks judge values as a suite would give them: numpy integers, tuples and paths pass."""
    from stitchbench._params import check
    from stitchbench.problems._stitch_ensemble import StitchEnsembleProblem
    from stitchbench.solvers import create_solver

    assert create_solver("pymoo.nsga2", pop_size=np.int64(20)).pop_size == 20
    check("problem", StitchEnsembleProblem, {"archs": ("cnn", "cnn"), "cache_dir": str(tmp_path), "alpha_grid": 3})
    with pytest.raises(InputError, match="'pop_size' = 20.5 is invalid"):
        create_solver("pymoo.nsga2", pop_size=np.float64(20.5))


def test_a_plugin_annotation_only_type_checkers_see_takes_any_value():
    from stitchbench._params import check

    namespace = {}
    exec(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from somewhere import Zoo\n"
        "def make(zoo: Zoo, seed: int = 0, width: Hidden = 3): ...\n",
        namespace,
    )
    check("problem 'p'", namespace["make"], {"width": "anything"})
    with pytest.raises(InputError, match="'seed' = 'x' is invalid"):
        check("problem 'p'", namespace["make"], {"seed": "x"})


def test_the_listing_shows_each_declared_range(capsys):
    assert main(["list", "solvers"]) == 0
    assert "pop_size=40 (int, >= 4, <= 100000)" in capsys.readouterr().out
    assert main(["list", "problems"]) == 0  # a list's items in words, not pydantic's repr
    assert "lambdas=(0.5, 1.0) (list of (float, >= 0, <= 1), items >= 1, items <= 11)" in capsys.readouterr().out


def test_a_local_rays_leftovers_are_killed_even_where_its_shutdown_fails():
    """`stop_ray`: what is left of a local Ray's head processes and their descendants after `ray.shutdown()`
    is killed, also where the shutdown raises (the error goes on); nothing else is touched."""
    psutil = pytest.importorskip("psutil")
    from stitchbench.benchmark._executors import RAY_OWNER, stop_ray

    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    spawner = f"import subprocess, time; subprocess.Popen({sleeper!r}); time.sleep(60)"
    head, bystander = subprocess.Popen([sys.executable, "-c", spawner]), subprocess.Popen(sleeper)
    orphan = subprocess.Popen(sleeper, env=os.environ | {RAY_OWNER: "this-run"})  # marked, nobody's descendant
    other = subprocess.Popen(sleeper, env=os.environ | {RAY_OWNER: "another-run"})
    try:
        assert wait_until(lambda: psutil.Process(head.pid).children(), 20)
        grandchild = psutil.Process(head.pid).children()[0]

        class FailingRay:
            def shutdown(self):
                raise RuntimeError("shutdown failed")

        heads, marked = {psutil.Process(head.pid)}, psutil.Process(orphan.pid)
        with pytest.raises(RuntimeError, match="shutdown failed"):
            stop_ray(FailingRay(), heads, "this-run")
        assert all(map(dead, [*heads, grandchild, marked]))
        assert bystander.poll() is None and other.poll() is None  # neither a head's nor this run's: left alone
    finally:
        for p in (head, bystander, orphan, other):
            p.kill()
            p.wait()


def dead(process) -> bool:
    """Gone, or a zombie its parent (here: init, which may reap late) has not reaped yet."""
    import psutil

    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
