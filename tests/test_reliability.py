"""Hardening: faulty solvers and problems, hostile suites and arguments, unwritable output, kill -9 at
several moments of a run."""

import errno
import json
import os
import shutil
import signal
import string
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from stitchbench.cli import main
from stitchbench.problems import PROBLEMS, EnsembleWeights
from stitchbench.registry import Entry
from stitchbench.solvers import SOLVERS, Solver

from .test_fuzz_suites import VALID, run_cli, to_toml

# ---------------------------------------------------------------- faulty solvers and problems


class Raising(Solver):
    """raises after a few evaluations"""

    name = "fault.raising"
    supports = frozenset({"real"})

    def solve(self, problem, evaluator, budget, seed):
        evaluator(np.full((3, len(problem.variables)), 0.5))
        raise RuntimeError("plugin bug")


class NaNDecisions(Solver):
    """asks for NaN decisions"""

    name = "fault.nan"
    supports = frozenset({"real"})

    def solve(self, problem, evaluator, budget, seed):
        evaluator(np.full((2, len(problem.variables)), 0.5))
        evaluator(np.full((1, len(problem.variables)), np.nan))


class PastBudget(Solver):
    """ignores the budget"""

    name = "fault.greedy"
    supports = frozenset({"real"})

    def solve(self, problem, evaluator, budget, seed):
        rng = np.random.default_rng(seed)
        while True:
            evaluator(rng.uniform(size=(7, len(problem.variables))))


class Hanging(Solver):
    """hangs"""

    name = "fault.hang"
    supports = frozenset({"real"})

    def solve(self, problem, evaluator, budget, seed):
        evaluator(np.full((2, len(problem.variables)), 0.5))
        time.sleep(60)


class NaNWeights(EnsembleWeights):
    """ensemble weights whose objectives come out NaN (and inf) for part of the space"""

    def _lookup(self, matrix, split):
        out = super()._lookup(matrix, split)
        out[matrix[:, 0] > 0.8, 0] = np.nan
        out[matrix[:, 0] < 0.1, 1] = np.inf
        return out


FAULT_SUITE = """
name = "faults"
seeds = [0, 1]
budget = 20
time_limit = 1

[[scenarios]]
name = "digits-shift"

[[problems]]
family = "ensemble-weights"

[[problems]]
family = "nan-weights"

[[solvers]]
name = "random"
[[solvers]]
name = "fault.raising"
[[solvers]]
name = "fault.nan"
[[solvers]]
name = "fault.greedy"
[[solvers]]
name = "fault.hang"
"""


def test_faulty_solvers_and_nan_objectives_fail_only_their_jobs(tmp_path, monkeypatch, zoo, cache_dir, capsys):
    import stitchbench.solvers._job

    monkeypatch.setattr(stitchbench.solvers._job, "STALL_GRACE", 0.5)  # the hanging jobs are left sooner
    for cls in (Raising, NaNDecisions, PastBudget, Hanging):
        monkeypatch.setitem(SOLVERS._entries, cls.name, Entry(cls.name, cls, cls.__doc__))
    monkeypatch.setitem(PROBLEMS._entries, "nan-weights", Entry("nan-weights", NaNWeights, "faulty"))
    suite = tmp_path / "faults.toml"
    suite.write_text(FAULT_SUITE)
    out = tmp_path / "run"
    assert main(["--quiet", "--cache", str(cache_dir), "run", str(suite), "--out", str(out)]) == 1
    manifest = json.loads((out / "manifest.json").read_text())
    status = {
        j.split("/")[3]: s for j, s in manifest["jobs"].items() if j.endswith("/s0") and "/ensemble-weights/" in j
    }
    assert status["random"]["status"] == "done" and status["fault.greedy"]["status"] == "done"
    assert status["fault.greedy"]["evaluations"] == 20
    raising = status["fault.raising"]
    assert raising["status"] == "failed" and raising["error"] == "RuntimeError: plugin bug"
    assert raising["evaluations"] == 3 and raising["instance"] == "digits-shift/z0/ensemble-weights"
    log = (out / raising["log"]).read_text()
    assert "Traceback" in log and "plugin bug" in log and "test_reliability.py" in log
    assert status["fault.nan"]["status"] == "failed" and "not finite" in status["fault.nan"]["error"]
    assert status["fault.nan"]["evaluations"] == 2
    assert status["fault.hang"]["status"] == "failed" and "stalled" in status["fault.hang"]["error"]
    assert status["fault.hang"]["evaluations"] == 2
    assert manifest["status"] == "complete"
    ev = pd.read_parquet(out / "evaluations.parquet")
    nan_jobs = ev[ev.problem == "nan-weights"]
    bad, good = nan_jobs[~nan_jobs.finite], nan_jobs[nan_jobs.finite]
    assert len(bad) and len(good)  # recorded as they came out, flagged
    assert (bad["f.uci-digits"].isna() | np.isinf(bad["f.mnist"])).all()
    assert np.isfinite(good[["f.uci-digits", "f.mnist"]].to_numpy()).all()
    fronts = pd.read_parquet(out / "fronts.parquet")
    assert np.isfinite(fronts[["f.uci-digits", "f.mnist"]].to_numpy()).all()
    ind = pd.read_parquet(out / "indicators.parquet")
    assert ind[ind.problem == "nan-weights"].nonfinite_evaluations.max() > 0
    assert np.isfinite(ind.hypervolume).all()
    failed = [j for j, s in manifest["jobs"].items() if s["status"] != "done"]
    assert not set(failed) & set(ind.job)  # failed jobs get no indicators, ranks or p-values
    stats = pd.read_parquet(out / "statistics.parquet")
    assert set(stats.solver_a) | set(stats.solver_b) == {"random", "fault.greedy"}
    table = pd.read_parquet(out / "failed_jobs.parquet")
    assert sorted(table.job) == sorted(failed) and table.set_index("job").evaluations.to_dict() == {
        j: manifest["jobs"][j]["evaluations"] for j in failed
    }
    report = (out / "report.md").read_text()
    assert "## Failed jobs" in report and "plugin bug" in report and "stalled" in report
    assert "NaN or infinite objectives" in report


# ---------------------------------------------------------------- hostile suites and arguments

names = st.text(alphabet=string.ascii_letters + string.digits + "-_.é漢 ", max_size=12)
junk = st.one_of(
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=False),
    names,
    st.lists(st.integers(), max_size=3),
    st.booleans(),
)


SCENARIO_PARAMS = ["seed", "k", "partitioner", "alpha", "split"]


def number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def valid_scenario_param(key, v) -> bool:
    """Values digits-shift accepts (a suite with them is no mutation: it would train a zoo)."""
    return {
        "seed": lambda: type(v) is int and 0 <= v < 2**32,
        "k": lambda: type(v) is int and v >= 2 and v % 2 == 0,
        "partitioner": lambda: v in ("iid", "dirichlet", "quantity"),
        "alpha": lambda: number(v) and v > 0,
        "split": lambda: isinstance(v, list) and len(v) == 3 and all(number(f) and f > 0 for f in v),
    }.get(key, lambda: False)()


def valid_problem_param(key, v) -> bool:
    return key == "arch" and v == "cnn"


@st.composite
def broken_suites(draw):
    suite = json.loads(json.dumps(VALID))
    kind = draw(st.sampled_from(["drop", "type", "budget", "name", "field", "param", "empty", "problem", "scenario"]))
    if kind == "drop":
        suite.pop(draw(st.sampled_from(sorted(VALID))))
    elif kind == "type":
        key = draw(st.sampled_from(["seeds", "scenarios", "problems", "solvers", "budget"]))
        suite[key] = draw(junk.filter(lambda v: not isinstance(v, list) or key not in ("seeds",) or v == []))
        if key == "budget" and type(suite[key]) is int and 0 < suite[key] <= 10**6:
            suite[key] = -suite[key]  # a valid budget is no mutation
        if key == "seeds" and isinstance(suite[key], list):
            suite[key] = "not a list"
    elif kind == "budget":
        suite["budget"] = draw(st.one_of(st.integers(-(10**12), 0), st.integers(10**6 + 1, 10**15), names))
    elif kind == "name":
        where = draw(st.sampled_from(["scenarios", "problems", "solvers"]))
        field = {"scenarios": "name", "problems": "family", "solvers": "name"}[where]
        valid = {
            "scenarios": ["digits-shift", "digits-shift-4"],
            "problems": PROBLEMS.names(),
            "solvers": SOLVERS.names(),
        }
        suite[where][0][field] = draw(names.filter(lambda n: n not in valid[where]))
    elif kind == "field":
        suite[draw(names.filter(lambda n: n not in VALID and n.strip()))] = draw(junk)
    elif kind == "param":
        suite["solvers"][0]["params"] = {draw(names.filter(lambda n: n != "batch")): draw(junk)}
    elif kind == "problem":
        key = draw(
            st.one_of(st.sampled_from(["members", "arch"]), names.filter(lambda n: n not in ("members", "arch")))
        )
        suite["problems"][0]["params"] = {key: draw(junk.filter(lambda v: not valid_problem_param(key, v)))}
    elif kind == "scenario":
        key = draw(st.one_of(st.sampled_from(SCENARIO_PARAMS), names.filter(lambda n: n not in SCENARIO_PARAMS)))
        suite["scenarios"][0]["params"] = {key: draw(junk.filter(lambda v: not valid_scenario_param(key, v)))}
    else:
        suite[draw(st.sampled_from(["scenarios", "problems", "solvers", "seeds"]))] = []
    return suite


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(suite=broken_suites())
def test_mutated_suites_exit_2_with_a_message_and_write_nothing(suite, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prop")
    path = tmp / "suite.toml"
    path.write_text(to_toml(suite), encoding="utf-8")
    out = tmp / "out"
    r = run_cli(["--quiet", "run", str(path), "--out", str(out)])
    assert r[0] == 2, (suite, r)
    assert r[2].startswith("error: ") and "Traceback" not in r[2] and "\n\n" not in r[2].strip()
    assert not out.exists()


@settings(max_examples=60, deadline=None)
@example(template=["run", "quick", "--{x}"], x="c")  # an abbreviation of --check: refused, not taken for it
@given(
    template=st.sampled_from(
        [
            ["run", "{x}"],
            ["run", "quick", "--executor", "{x}"],
            ["run", "quick", "--workers", "{x}"],
            ["list", "{x}"],
            ["zoo", "build", "{x}"],
            ["zoo", "show", "/nonexistent/{x}"],
            ["stitch", "points", "digits-shift", "--arch", "{x}"],
            ["report", "/nonexistent/{x}"],
            ["{x}"],
            ["run", "quick", "--{x}"],
        ]
    ),
    x=st.text(alphabet=string.ascii_letters + string.digits + "-_é ", min_size=1, max_size=10),
)
def test_garbage_arguments_exit_2(template, x):
    valid = {
        "quick",
        "paper",
        "many-parties",
        "segmentation",
        "brain-mri",
        "folder",
        "unet",
        "resunet",
        "export",
        "import",
        "local",
        "process",
        "ray",
        "scenarios",
        "architectures",
        "problems",
        "solvers",
        "suites",
        "digits-shift",
        "digits-shift-4",
        "cnn",
        "resnet",
        "list",
        "run",
        "zoo",
        "stitch",
        "report",
        "compare",
        "out",
        "executor",
        "workers",
        "ray-address",
        "quiet",
        "cache",
        "help",
        "h",
    }
    if (
        x in valid
        or x.lstrip("-") in valid
        or (template[-1] == "{x}" and "--workers" in template and x.strip().isdigit() and int(x) > 0)
    ):
        return
    argv = [t.replace("{x}", x) for t in template]
    code, _, err = run_cli(argv)
    assert code == 2, (argv, err)
    assert err.startswith("error: ") and "Traceback" not in err


# ---------------------------------------------------------------- unwritable output


def test_output_path_that_cannot_be_written(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["--quiet", "run", "quick", "--out", str(blocker / "run")]) == 2
    err = capsys.readouterr().err
    assert f"{blocker} is a file, not a folder" in err and not (blocker.parent / "runs").exists()


TINY = """
name = "crash"
seeds = [0, 1]
budget = 8
executor = "local"

[[scenarios]]
name = "digits-shift"

[zoo]
recipe = {{ epochs = 1 }}

[[problems]]
family = "ensemble-weights"

[[problems]]
family = "stitch-ensemble"
hosts = ["uci-digits"]
params = {{ method = "feature-match", recipe = {{ match_epochs = 1 }} }}

[[solvers]]
name = "random"
[[solvers]]
name = "pymoo.nsga2"
params = {{ pop_size = 6 }}
"""


@pytest.fixture(scope="module")
def crash_suite(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    path = root / "crash.toml"
    path.write_text(TINY.format())
    reference = root / "reference"
    env = {**os.environ, "STITCHBENCH_CACHE": str(root / "ref-cache"), "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cli(path, reference), env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return path, reference


def cli(suite, out):
    return [sys.executable, "-m", "stitchbench.cli", "--quiet", "run", str(suite), "--out", str(out)]


def comparable(directory, table):
    df = pd.read_parquet(directory / f"{table}.parquet").drop(columns=["seconds"], errors="ignore")
    keys = [c for c in ("job", "split", "eval", "point") if c in df]
    return df.sort_values(keys).reset_index(drop=True)


def disk_full_after(n):
    from stitchbench._files import atomic_write

    calls = {"n": 0}

    def write(path, data):
        calls["n"] += 1
        if calls["n"] > n:
            raise OSError(errno.ENOSPC, "No space left on device")
        atomic_write(path, data)

    return write


def test_disk_full_mid_run_keeps_existing_results(crash_suite, tmp_path, monkeypatch, capsys):
    import stitchbench.results._store as store
    from stitchbench.benchmark._runner import run_suite
    from stitchbench.benchmark._suite import load_suite

    path, reference = crash_suite
    out = tmp_path / "full"
    cache = reference.parent / "ref-cache"
    # the disk fills after the 5 reference tables and the manifest, and 2 jobs (3 writes each: the manifest
    # saved after every job)
    monkeypatch.setattr("stitchbench.benchmark._runner.SAVE_EVERY", 0.0)
    monkeypatch.setattr(store, "atomic_write", disk_full_after(11))
    with pytest.raises(OSError, match="No space left"):
        run_suite(load_suite(str(path)), out, cache_dir=cache, quiet=True)
    manifest = json.loads((out / "manifest.json").read_text())  # still valid JSON
    done = [j for j, s in manifest["jobs"].items() if s["status"] == "done"]
    assert done and len(done) < 8
    monkeypatch.undo()
    run_suite(load_suite(str(path)), out, cache_dir=cache, quiet=True)
    for table in ("evaluations", "fronts"):
        pd.testing.assert_frame_equal(comparable(reference, table), comparable(out, table))


@pytest.mark.parametrize("every, per_job", [(3600.0, False), (0.0, True)])
def test_the_manifest_is_saved_at_most_every_save_every_seconds(crash_suite, tmp_path, monkeypatch, every, per_job):
    """Jobs finishing within SAVE_EVERY of the last save do not rewrite the manifest; the jobs' end does, so
    the run is whole. With SAVE_EVERY = 0 every job does (the count tells the two apart)."""
    from stitchbench.benchmark._runner import run_suite
    from stitchbench.benchmark._suite import load_suite
    from stitchbench.results._store import RunDir

    path, reference = crash_suite
    saves = []
    original = RunDir.save_manifest
    monkeypatch.setattr(RunDir, "save_manifest", lambda self, m: (saves.append(1), original(self, m))[1])
    monkeypatch.setattr("stitchbench.benchmark._runner.SAVE_EVERY", every)
    out = tmp_path / "run"
    run_suite(load_suite(str(path)), out, cache_dir=reference.parent / "ref-cache", quiet=True)
    jobs = json.loads((out / "manifest.json").read_text())["jobs"]
    assert all(j["status"] == "done" for j in jobs.values())
    assert (len(saves) >= len(jobs)) == per_job, len(saves)


def done_jobs(out) -> int:
    try:
        return sum(j["status"] == "done" for j in json.loads((out / "manifest.json").read_text())["jobs"].values())
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def wait_for(condition, proc, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if condition():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("moment", ["zoo", "stitches", "search", "report"])
def test_kill_at_any_moment_then_rerun_completes_identically(moment, crash_suite, tmp_path):
    path, reference = crash_suite
    cache, out = tmp_path / "cache", tmp_path / "run"
    if moment in ("search", "report"):  # start from trained artifacts, so the kill lands in the late stages
        shutil.copytree(reference.parent / "ref-cache", cache)
    elif moment == "stitches":  # start from the trained models, so the kill lands in stitch training
        shutil.copytree(reference.parent / "ref-cache" / "models", cache / "models")
    env = {**os.environ, "STITCHBENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    conditions = {
        "zoo": lambda: (cache / ".locks").is_dir() and any((cache / ".locks").glob("models-*")),
        "stitches": lambda: any((cache / ".locks").glob("stitches-*")) if (cache / ".locks").is_dir() else False,
        "search": lambda: done_jobs(out) >= 1,
        "report": lambda: (out / "fronts.parquet").is_file(),
    }
    proc = subprocess.Popen(cli(path, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hit = wait_for(conditions[moment], proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if moment != "report":  # the report stage is short; the kill may land after it
        assert hit, f"the run finished before the {moment} stage could be interrupted"
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").is_file() else None
    if manifest is not None:
        assert manifest["status"] in ("running", "complete")
    if moment == "search":  # killed mid-search: some jobs done, others not
        assert manifest["status"] == "running" and 1 <= done_jobs(out) < len(manifest["jobs"])
    r = subprocess.run(cli(path, out), env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    for table in ("evaluations", "fronts", "baselines"):
        pd.testing.assert_frame_equal(comparable(reference, table), comparable(out, table))
    ev = pd.read_parquet(out / "evaluations.parquet")
    assert not ev.duplicated(["job", "eval"]).any()
    assert not [p for p in out.rglob("*") if p.name.startswith(".") and p.is_file() and p.name != ".stitchbench.lock"]
