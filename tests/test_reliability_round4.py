"""Reliability, round 4: cleanup as narrow as its marker, one seed range for every command, bounded nesting
and no special files at any reader, and nothing accepted that a later step cannot honour."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import pytest
import torch

from stitchbench._hashing import file_sha256
from stitchbench.cli import main

from .test_reliability_round3 import BASE, alive, cli, exported, problem, wait_until
from .test_run_directory import suite_file

DEEP = 3000  # levels: Python's parsers overflow at about 1,000


def one_line_refusal(code: int, err: str, needle: str) -> None:
    assert code == 2 and needle in err, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err


# ---------------------------------------------------------------- A: cleanup as narrow as its marker


def holder_record() -> str:
    return json.dumps({"pid": 1, "host": "gone", "since": time.time()})


@pytest.mark.parametrize(
    "files",
    [
        {".x.stitchbench-v2.tmp": "mine"},  # our marker, not our writer's random part
        {".stitchbench.holder": "mine"},  # our holder's name, not its record
        {".x.stitchbench-abcdefgh.tmp": "mine"},  # a temporary's name, but no run of ours held the folder
        {".stitchbench.holder": json.dumps({"pid": 1}), ".stitchbench.lock": ""},
    ],
)
def test_a_folder_is_a_killed_run_only_with_our_holder_record(files, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    for name, text in files.items():
        (out / name).write_text(text)
    for check in (["--check"], []):
        code, _, err = cli(capsys, "--cache", tmp_path / "cache", "run", suite_file(tmp_path), "--out", out, *check)
        one_line_refusal(code, err, "holds no stitchbench run")
    assert {p.name: p.read_text() for p in out.iterdir()} == files and not (tmp_path / "cache").exists()


def test_a_killed_run_is_our_holder_record_our_lock_and_our_temporaries(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".stitchbench.lock").write_text("")
    (out / ".stitchbench.holder").write_text(holder_record())
    (out / ".manifest.json.stitchbench-k1ll3d_0.tmp").write_text("{")
    code, _, err = cli(capsys, "run", suite_file(tmp_path), "--out", out, "--check")
    assert code == 0, err


def test_resuming_removes_only_names_our_writer_makes(tmp_path, zoo, cache_dir, capsys):
    from stitchbench._files import atomic_write

    out = tmp_path / "run"
    suite = suite_file(tmp_path)
    assert cli(capsys, "--cache", cache_dir, "run", suite, "--out", out)[0] == 0
    names = [
        ".x.stitchbench-v2.tmp",
        ".x.stitchbench-ABCDEFGH.tmp",
        ".x.stitchbench-abcdefghi.tmp",
        ".stitchbench-a.tmp",
    ]
    mine = [out / d / n for d in ("", "jobs", "figures") for n in names]
    ours = [out / d / ".x.parquet.stitchbench-a_c4efgh.tmp" for d in ("", "jobs", "figures")]
    for p in mine + ours:
        p.write_text("x")
    manifest = json.loads((out / "manifest.json").read_text())
    atomic_write(out / "manifest.json", json.dumps(manifest | {"status": "running"}).encode())
    assert cli(capsys, "--cache", cache_dir, "run", suite, "--out", out)[0] == 0
    assert all(p.read_text() == "x" for p in mine) and not any(p.exists() for p in ours)


def test_our_temporary_names_are_what_atomic_write_makes(tmp_path, monkeypatch):
    """Cleanup matches every name the writer makes (mkstemp draws 8 characters of a-z, 0-9 and _)."""
    import tempfile

    from stitchbench._files import atomic_write, temporary

    made = []
    real = tempfile.mkstemp

    def spy(*args, **kwargs):
        fd, name = real(*args, **kwargs)
        made.append(name)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", spy)
    for _ in range(50):
        atomic_write(tmp_path / "a.parquet", b"x")
    assert len(made) == 50 and all(temporary(os.path.basename(p)) for p in made)


# ---------------------------------------------------------------- B: one seed range


@pytest.mark.parametrize("seed", [-1, 2**32, 2**64])
def test_every_command_refuses_a_seed_outside_the_one_range(seed, tmp_path, capsys):
    cache, out = tmp_path / "cache", tmp_path / "out"
    commands = [
        ["zoo", "export", "digits-shift", "--kind", "local:mnist", "--seed", seed, "--out", out],
        ["zoo", "build", "digits-shift", "--kinds", "local", "--seeds", 0, seed, "--out", out],
    ]
    for argv in commands:
        code, _, err = cli(capsys, "--cache", cache, *argv)
        one_line_refusal(code, err, f"seed {seed} is not a whole number in 0..4294967295")
    for field in ("seeds", "zoo.seeds"):
        text = BASE.replace("seeds = [0, 1]", f"seeds = [0, {seed}]") if field == "seeds" else BASE
        (tmp_path / "s.toml").write_text(text + (f"[zoo]\nseeds = [{seed}]\n" if field == "zoo.seeds" else ""))
        code, _, err = cli(capsys, "--cache", cache, "run", tmp_path / "s.toml", "--out", out)
        assert code == 2 and field in err and f"(got {seed})" in err and "Traceback" not in err, err
    assert not cache.exists() and not out.exists()


def test_what_export_writes_import_takes(tmp_path, capsys):
    """The top of the range trains, exports and imports."""
    out, inbox = tmp_path / "out", tmp_path / "inbox"
    argv = ["zoo", "export", "digits-shift", "--kind", "local:mnist", "--seed", 2**32 - 1, "--out", out]
    code, _, err = cli(capsys, "--cache", tmp_path / "cache", *argv)
    assert code == 0, err
    weights, manifest = sorted(out.glob("*.safetensors"))[0], sorted(out.glob("*.json"))[0]
    code, text, err = cli(capsys, "--cache", inbox, "zoo", "import", weights, "--manifest", manifest)
    assert code == 0 and "imported local:mnist/cnn/seed4294967295" in text, err
    data = json.loads(manifest.read_text())
    data["config"]["seed"] = 2**32
    manifest.write_text(json.dumps(data))
    code, _, err = cli(capsys, "--cache", tmp_path / "other", "zoo", "import", weights, "--manifest", manifest)
    one_line_refusal(code, err, "seed 4294967296 is not a whole number in 0..4294967295")


# ---------------------------------------------------------------- C: nesting depth and special files


def nested(n: int) -> str:
    return "[" * n + "]" * n


@pytest.mark.parametrize(
    "params",
    [
        f"{{ seed = {nested(DEEP)} }}",
        "{ " + ".".join(["a"] * DEEP) + " = 1 }",  # dotted keys: parsed without recursion, nested all the same
        "{ a = " + "{ a = " * DEEP + "1" + " }" * DEEP + " }",
    ],
)
def test_a_deeply_nested_suite_is_refused(params, tmp_path, capsys):
    (tmp_path / "s.toml").write_text(BASE.replace('name = "digits-shift"', f'name = "digits-shift"\nparams = {params}'))
    code, _, err = cli(capsys, "run", tmp_path / "s.toml", "--out", tmp_path / "o", "--check")
    one_line_refusal(code, err, "nested deeper than")


def test_deeply_nested_parameters_and_manifests_are_refused(tmp_path, capsys):
    cache = tmp_path / "cache"
    for option in ("-p", "--recipe"):
        argv = ["zoo", "build", "digits-shift", option, f"seed={nested(DEEP)}", "--out", tmp_path / "o"]
        one_line_refusal(*cli(capsys, "--cache", cache, *argv)[::2], "nested deeper than")
    deep = tmp_path / "deep.json"
    deep.write_text(nested(DEEP))
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"")
    one_line_refusal(*cli(capsys, "--cache", cache, "zoo", "import", weights, "--manifest", deep)[::2], "nested")
    for folder in ("table", "run"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "manifest.json").write_text(nested(DEEP))
    one_line_refusal(*cli(capsys, "table", "check", tmp_path / "table")[::2], "nested deeper than")
    one_line_refusal(*cli(capsys, "report", tmp_path / "run")[::2], "nested deeper than")
    assert not cache.exists() and not (tmp_path / "o").exists()


def test_a_deeply_nested_catalog_is_refused(tmp_path):
    from stitchbench.errors import InputError
    from stitchbench.tabular._catalog import read_catalog

    for depth in (100, DEEP):  # under and over what Python's parser takes
        (tmp_path / str(depth)).mkdir()
        (tmp_path / str(depth) / "catalog.json").write_text(f'{{"instances": {nested(depth)}}}')
        with pytest.raises(InputError, match="nested deeper than 64 levels"):
            read_catalog(tmp_path / str(depth))


def run_cli(tmp_path, *argv, timeout=60):
    """The CLI in a process of its own: a read that blocks fails the test instead of hanging it."""
    try:
        r = subprocess.run(
            [sys.executable, "-m", "stitchbench.cli", "--quiet", "--cache", tmp_path / "cache", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"stitchbench {' '.join(map(str, argv))} waited on a special file for {timeout} s")
    return r.returncode, r.stderr


def test_special_files_are_refused_before_they_are_read(tmp_path):
    fifo = tmp_path / "suite.toml"
    os.mkfifo(fifo)
    one_line_refusal(*run_cli(tmp_path, "run", fifo, "--out", tmp_path / "o", "--check"), "not a regular file")
    one_line_refusal(*run_cli(tmp_path, "zoo", "import", tmp_path / "w", "--manifest", fifo), "not a regular file")
    (tmp_path / "run").mkdir()
    os.mkfifo(tmp_path / "run" / "manifest.json")
    one_line_refusal(*run_cli(tmp_path, "report", tmp_path / "run"), "not a regular file")
    one_line_refusal(*run_cli(tmp_path, "run", suite_file(tmp_path), "--out", tmp_path / "run"), "not a regular file")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["manifest.json"]
    assert not (tmp_path / "o").exists() and not (tmp_path / "cache").exists()


# ---------------------------------------------------------------- D: accepted, then impossible


@pytest.mark.parametrize(
    "text,needle",
    [
        (problem(f'"ensemble-weights"\nid = "{"p" * 240}"'), "problems.0.id"),
        (BASE.replace('name = "random"', f'name = "random"\nid = "{"r" * 240}"'), "solvers.0.id"),
        (
            BASE.replace('name = "random"', 'name = "optuna.random"\nparams = { storage = "sqlite:///a\\u0000b.db" }'),
            "NUL",
        ),
        (BASE.replace('name = "random"', 'name = "pymoo.nsga2"\nparams = { pop_size = 20 }'), "pop_size 20"),
        (BASE.replace('name = "random"', 'name = "pymoo.nsga2"'), "pop_size 40"),  # its default
        (
            BASE.replace('name = "random"', 'name = "optuna.random"\nparams = { storage = "sqlite:///../../x.db" }'),
            "'../../x.db' leaves it",
        ),
    ],
)
def test_what_a_run_cannot_honour_is_refused_by_check(text, needle, tmp_path, capsys):
    (tmp_path / "s.toml").write_text(text)
    cache, out = tmp_path / "cache", tmp_path / "o"
    for check in (["--check"], []):
        code, _, err = cli(capsys, "--cache", cache, "run", tmp_path / "s.toml", "--out", out, *check)
        one_line_refusal(code, err, needle)
    assert not cache.exists() and not out.exists()


# ---------------------------------------------------------------- E: no orphans, from a worker's first instruction

MARK = "STITCHBENCH_TEST_DRIVER"  # inherited by every process a test's driver starts, whoever adopts it


def marked(mark: str, command: bytes = b"") -> list[int]:
    """The live processes that carry `mark` in their environment (and `command` in their command line)."""
    pids = []
    for d in Path("/proc").iterdir():
        try:
            mine = f"{MARK}={mark}".encode() in (d / "environ").read_bytes().split(b"\0")
            if mine and alive(int(d.name)) and command in (d / "cmdline").read_bytes():
                pids.append(int(d.name))
        except (OSError, ValueError):
            continue
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("pool,delay", [("jobs", 0.5), ("jobs", 1.5), ("jobs", 3.0), ("models", 0.1)])
def test_no_process_outlives_a_driver_killed_while_its_pool_starts(pool, delay, tmp_path, zoo, cache_dir):
    """kill -9 of a run's driver 0.1 to 3 s after its first pool worker appeared (workers still importing
    torch at first): no worker, and no resource tracker, is left 10 s later. `jobs`: the job pool (the zoo is in
    the cache); `models`: the zoo's training pool (an empty cache)."""
    suite = tmp_path / "s.toml"
    suite.write_text(BASE.replace("budget = 10", "budget = 1000000"))  # jobs outlast the test
    mark = f"{os.getpid()}-{pool}-{delay}"
    cache = cache_dir if pool == "jobs" else tmp_path / "cache"
    argv = ["--quiet", "--cache", cache, "run", suite, "--out", tmp_path / "o", "--executor", "process", "--workers", 2]
    driver = subprocess.Popen(
        [sys.executable, "-m", "stitchbench.cli", *map(str, argv)],
        env=os.environ | {MARK: mark},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: marked(mark, b"multiprocessing"), 120), "no pool worker started"
        time.sleep(delay)
        assert marked(mark, b"multiprocessing"), "the pool was gone before the kill"
    finally:
        driver.kill()
        driver.wait()
    gone = wait_until(lambda: not marked(mark), 10)
    survivors = marked(mark)
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert gone, f"{len(survivors)} processes outlived their driver"


# ---------------------------------------------------------------- F: Ctrl-C


def done_jobs(out: Path) -> dict[str, dict]:
    """The run's finished jobs, as its manifest records them (written whole: never half a file)."""
    try:
        jobs = json.loads((out / "manifest.json").read_text())["jobs"]
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in jobs.items() if v["status"] == "done"}


# Ray's node agents outlive a raylet that died with its driver by about a minute (they report its death to the
# dead GCS first, with a 60 s timeout), then exit by themselves; what a second Ctrl-C (or kill -9) leaves of a Ray
RAY_AGENTS = (b"ray::DashboardAgent", b"ray::RuntimeEnvAgent")


def survivors(mark: str, spared: tuple = ()) -> dict[int, bytes]:
    """The command lines of the live processes that carry `mark`, but those starting with one of `spared`."""
    commands = {}
    for pid in marked(mark):
        with suppress(OSError):
            commands[pid] = Path(f"/proc/{pid}/cmdline").read_bytes()
    return {pid: c for pid, c in commands.items() if not c.startswith(spared)}


def interrupted(argv: list, mark: str, ready, signals: list, spared=()) -> tuple[int, float, str]:
    """Start a run in a process group of its own (as a terminal's foreground job), wait until `ready()`, send
    `signals` 0.3 s apart: (exit code, seconds from the last signal, stderr). No process of the run is left 10 s
    later, but those whose command starts with one of `spared` (ended here)."""
    driver = subprocess.Popen(
        [sys.executable, "-m", "stitchbench.cli", *map(str, argv)],
        env=os.environ | {MARK: mark},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(ready, 300), "the run never got there"
        for i, send in enumerate(signals):
            time.sleep(0.3 if i else 0)
            send(driver.pid)
        start = time.monotonic()
        _, err = driver.communicate(timeout=60)
        return driver.returncode, time.monotonic() - start, err
    finally:
        driver.kill()
        driver.wait()
        assert wait_until(lambda: not survivors(mark, spared), 10), f"outlived the run: {survivors(mark, spared)}"
        for pid in survivors(mark):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("executor", ["process", "ray"])
def test_ctrl_c_stops_a_run_keeps_what_finished_and_resumes(executor, tmp_path, zoo, cache_dir, capsys):
    """Once a job is done, Ctrl-C at a terminal (SIGINT to the group), `kill -INT` of the driver alone: exit 130
    within seconds, every finished job saved and intact; each rerun goes on where the
    last stopped. Two Ctrl-Cs 0.3 s apart, while the first is being handled: the second ends the run at once (by
    the signal: a shell's 130), workers (and a local Ray) included. The last rerun runs only the jobs not done."""
    from stitchbench.results import RunDir

    suite, out = tmp_path / "s.toml", tmp_path / "o"
    # a few jobs end per interrupted run (the one awaited, and on Ray the two under way, which get the grace to
    # finish): some are left each time
    seeds = list(range(16))
    suite.write_text(BASE.replace("seeds = [0, 1]", f"seeds = {seeds}").replace("budget = 10", "budget = 40000"))
    argv = ["--cache", cache_dir, "run", suite, "--out", out, "--executor", executor, "--workers", 2]
    terminal, driver_only = (lambda pid: os.killpg(pid, signal.SIGINT)), (lambda pid: os.kill(pid, signal.SIGINT))
    done: dict[str, dict] = {}

    def one_more_done():
        return len(done_jobs(out)) > len(done)

    for i, signals in enumerate([[terminal], [driver_only], [terminal] * 2]):
        spared = RAY_AGENTS if executor == "ray" and len(signals) == 2 else ()
        code, seconds, err = interrupted(argv, f"{os.getpid()}-{executor}{i}", one_more_done, signals, spared)
        with capsys.disabled():  # the measured times (a speed, not a verdict), with -s
            print(f"{executor}, {len(signals)} SIGINT: exit {code} in {seconds:.2f} s")
        assert code in (130, -signal.SIGINT) and "Traceback" not in err, (code, err)
        now = done_jobs(out)
        assert len(now) < len(seeds)  # it stopped: the queued jobs did not run (each takes longer than the run)
        assert {k: now[k] for k in done} == done  # kept, not redone
        assert not RunDir(out).damaged_files(json.loads((out / "manifest.json").read_text()))
        if len(signals) == 1:
            assert code == 130 and f"interrupted: {len(now)} of {len(seeds)} jobs are done and saved" in err, err
        done = now
    code, text, err = cli(capsys, "--cache", cache_dir, "run", suite, "--out", out)
    assert code == 0 and f"ran {len(seeds) - len(done)} jobs (0 failed)" in text, err
    final = json.loads((out / "manifest.json").read_text())["jobs"]
    assert {k: final[k] for k in done} == done


class ScriptedRay:
    """Ray as `run_ray` sees it, on a script: tasks finish in the order submitted; what was in flight is noted."""

    class exceptions:  # ray.exceptions
        RayError = RuntimeError

    def __init__(self, cpus: int):
        self.cpus, self.submitted, self.flight, self.most, self.cancelled = cpus, [], [], 0, []

    def is_initialized(self):
        return True  # a Ray started elsewhere: run_ray neither starts nor stops it

    def put(self, value):
        return value

    def cluster_resources(self):
        return {"CPU": float(self.cpus)}

    def remote(self, **_resources):
        def task(_fn):
            class Task:
                @staticmethod
                def remote(job_json, _files, _device):
                    self.submitted.append(job_json)
                    self.flight.append(job_json)
                    self.most = max(self.most, len(self.flight))
                    return job_json

            return Task

        return task

    def wait(self, refs, num_returns=1, timeout=None):
        self.flight = [r for r in self.flight if r not in refs[:num_returns]]  # they finished
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):
        return ref

    def cancel(self, ref):
        self.cancelled.append(ref)


class NamedJob(str):
    def model_dump_json(self) -> str:
        return str(self)


def test_ray_tasks_are_submitted_no_faster_than_its_slots_take_them_and_ctrl_c_cancels_none(monkeypatch):
    """No more tasks are in flight than `workers` or the Ray's slots, whichever is more (the next one submitted
    once one is saved), so a local Ray queues none and Ctrl-C has no queued task to
    `ray.cancel`: a cancel that meets a task's start aborts the driver (Ray 2.60, 1 Ctrl-C in 12 under load).
    The tasks under way when Ctrl-C comes are waited for and kept; none is submitted after it."""
    from stitchbench.benchmark import _executors

    monkeypatch.setattr(_executors, "bundle", lambda _ws: {})
    workspace = type("Ws", (), {"device": torch.device("cpu")})()
    jobs = [NamedJob(f"job{i}") for i in range(10)]
    for cpus, workers in ((3, 2), (2, 3)):  # a cluster with more slots than workers; a Ray with fewer
        fake, kept, submitted = ScriptedRay(cpus), [], []
        monkeypatch.setitem(sys.modules, "ray", fake)

        def save(result, fake=fake, kept=kept, submitted=submitted):
            kept.append(result)
            submitted.append(len(fake.submitted))

        _executors.run_ray(jobs, workspace, workers, None, save)
        assert kept == jobs and fake.most == 3 and not fake.cancelled
        assert submitted[0] == 3  # the next job is submitted once one is saved

    fake, kept = ScriptedRay(cpus=3), []
    monkeypatch.setitem(sys.modules, "ray", fake)

    def keep(result):
        kept.append(result)
        if len(kept) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _executors.run_ray(jobs, workspace, 3, None, keep)
    # job3 was being saved at Ctrl-C (saved again: atomic); jobs 4 and 5 were under way; none was submitted after
    assert kept == [*jobs[:4], *jobs[3:6]] and fake.submitted == jobs[:6] and not fake.cancelled
    assert fake.most == 3


def test_a_ray_runs_as_many_tasks_at_once_as_it_has_slots():
    from stitchbench.benchmark._executors import ray_slots

    assert ray_slots({"CPU": 16.0, "GPU": 2.0}, torch.device("cpu")) == 16
    assert ray_slots({"CPU": 16.0, "GPU": 2.0}, torch.device("cuda")) == 2
    assert ray_slots({"CPU": 1.0, "GPU": 4.0}, torch.device("cuda")) == 1  # a task asks a CPU too
    assert ray_slots({"CPU": 2.5}, torch.device("cuda")) == 0 and ray_slots({}, torch.device("cpu")) == 0


# ---------------------------------------------------------------- G: zoo import checks what it compares against


@pytest.mark.parametrize("damage", ["weights truncated", "weights missing", "manifest not JSON"])
def test_zoo_import_repairs_a_damaged_cache_entry(damage, zoo, tmp_path, capsys, caplog):
    """A cached entry of the config whose weights no longer match its manifest is not 'the same weights':
    the received (verified) model replaces it, saying so."""
    cache = tmp_path / "inbox"
    weights, manifest = exported(zoo, tmp_path)
    code, out, _ = cli(capsys, "--cache", cache, "zoo", "import", weights, "--manifest", manifest)
    assert code == 0 and out.startswith("imported local:mnist")
    entry = next((cache / "models").iterdir())
    if damage == "weights truncated":
        (entry / "weights.safetensors").write_bytes((entry / "weights.safetensors").read_bytes()[:100])
    elif damage == "weights missing":
        (entry / "weights.safetensors").unlink()
    else:
        (entry / "manifest.json").write_bytes(b"\xff{")
    code, out, _ = cli(capsys, "--cache", cache, "zoo", "import", weights, "--manifest", manifest)
    assert code == 0 and out.startswith("imported local:mnist") and "replacing a damaged cache entry" in caplog.text
    assert file_sha256(entry / "weights.safetensors") == json.loads(manifest.read_text())["sha256"]
    code, out, _ = cli(capsys, "--cache", cache, "zoo", "import", weights, "--manifest", manifest)
    assert code == 0 and "already in the cache with the same weights" in out


def test_concurrent_imports_of_one_config_import_one(zoo, tmp_path, monkeypatch):
    """Two imports of other weights for one config, both looking before either writes (a slow disk, here a
    slow `get`): one imports, the other is refused, and the cache holds the imported one's weights."""
    from stitchbench._artifacts import ArtifactStore
    from stitchbench.errors import InputError
    from stitchbench.zoo._exchange import receive_model

    weights, manifest = exported(zoo, tmp_path)
    other, _ = exported(zoo, tmp_path, "local:uci-digits")
    other_manifest = tmp_path / "other.json"  # uci-digits' weights under mnist's config: they fit
    other_manifest.write_text(json.dumps(json.loads(manifest.read_text()) | {"sha256": file_sha256(other)}))
    get = ArtifactStore.get
    monkeypatch.setattr(ArtifactStore, "get", lambda self, key: (get(self, key), time.sleep(0.5))[0])

    def receive(w, m):
        try:
            return receive_model(w, m, tmp_path / "cache")
        except InputError as e:
            return e

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(receive, [weights, other], [manifest, other_manifest]))
    imported = [o for o in outcomes if not isinstance(o, InputError) and o.new]
    refused = [o for o in outcomes if isinstance(o, InputError) and "with other weights" in str(o)]
    assert len(imported) == 1 and len(refused) == 1, outcomes
    assert file_sha256(imported[0].record.artifact.path / "weights.safetensors") == imported[0].record.sha256


# ---------------------------------------------------------------- H: table check scores what it checks


def retabled(src: Path, out: Path, changes: dict, **fields) -> Path:
    """A copy of the export `src` whose tables are changed ({name: change(table) -> table}) and whose manifest
    gets `fields`, every sha256 consistent: only the content is wrong."""
    import pyarrow.parquet as pq

    shutil.copytree(src, out)
    manifest = json.loads((out / "manifest.json").read_text())
    for name, change in changes.items():
        pq.write_table(change(pq.read_table(out / name)), out / name)
        manifest["files"][name] = file_sha256(out / name)
    (out / "manifest.json").write_text(json.dumps(manifest | fields))
    return out


def without_a_split(t):
    """No rows of one party's test split."""
    import pyarrow.compute as pc

    party, split = (t.column(c).cast("string") for c in ("party", "split"))
    return t.filter(pc.invert(pc.and_(pc.equal(party, party[0]), pc.equal(split, "test"))))


def doubled(t):
    import pyarrow.compute as pc

    return t.from_arrays([pc.multiply(t.column(c), 2) for c in t.column_names], names=t.column_names)


def swapped_ends(t):
    lo, hi = t.column_names.index("lo"), t.column_names.index("hi")
    return t.set_column(lo, "lo", t.column("hi")).set_column(hi, "hi", t.column("lo"))


WEIGHTS_TABLE = "digits-shift-4.weights-7-switches"


@pytest.mark.parametrize(
    "source,changes,needle",
    [
        (WEIGHTS_TABLE, {"probs.parquet": without_a_split, "labels.parquet": without_a_split}, "cannot score on test"),
        ("cross-arch.graph-6@mnist+cost", {"graph.scores.val.parquet": doubled}, "a score lies in [0, 1]"),
        ("intervals", {"intervals.parquet": swapped_ends}, "a score lies in [0, 1]"),
    ],
)
def test_table_check_refuses_a_table_that_cannot_score(source, changes, needle, tmp_path, request, capsys):
    """Tables whose sha256s all match and that load, but score nothing or outside [0, 1]: a party's test
    split without probabilities, doubled scores, each sample's interval of weights with its ends swapped."""
    from stitchbench.tabular._catalog import COLLECTION

    if source == "intervals":  # a two-member stitch-ensemble scored by accuracy is stored as intervals
        from stitchbench.moo import make_instance
        from stitchbench.tabular._export import export_problem

        se = request.getfixturevalue("se_table")
        record = make_instance(se, "se", "stitch-ensemble", {}, "digits-shift", {}, 0)
        assert export_problem(se, record, tmp_path / "src")["encoding"] == "intervals"
    src = tmp_path / "src" if source == "intervals" else COLLECTION / source
    assert cli(capsys, "table", "check", src)[0] == 0
    one_line_refusal(*cli(capsys, "table", "check", retabled(src, tmp_path / "bad", changes))[::2], needle)


def test_a_catalog_entry_without_its_pin_is_refused(monkeypatch):
    """Every shipped instance loads pinned: an entry whose manifest_sha256 is null (or not a sha256) is
    refused, not loaded unpinned."""
    import importlib

    from stitchbench.errors import InputError
    from stitchbench.tabular import load

    catalog = importlib.import_module("stitchbench.tabular._catalog")  # the package's `catalog` is a function
    for pin in (None, "", "0" * 63, 42):
        entries = {n: dict(e) for n, e in catalog.read_catalog().items()}
        entries[WEIGHTS_TABLE]["manifest_sha256"] = pin
        monkeypatch.setattr(catalog, "read_catalog", lambda entries=entries: entries)
        with pytest.raises(InputError, match="pins no manifest sha256"):
            load(WEIGHTS_TABLE)
    monkeypatch.undo()
    assert load(WEIGHTS_TABLE).instance.id == "digits-shift-4/z0/weights-7-switches"


# ---------------------------------------------------------------- I: refused before anything is written


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, zoo, cache_dir):
    root = tmp_path_factory.mktemp("finished")
    argv = ["--quiet", "--cache", str(cache_dir), "run", str(suite_file(root)), "--out", str(root / "run")]
    assert main(argv) == 0
    return root / "run"


def snapshot(folder: Path) -> dict:
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*")}


def test_a_damaged_cached_model_is_refused_before_the_run_folder_and_lock(zoo, cache_dir, tmp_path, capsys):
    cache, out = tmp_path / "cache", tmp_path / "o"
    shutil.copytree(cache_dir / "models", cache / "models")
    weights = cache / "models" / zoo.get("local:mnist").artifact.path.name / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    for check in (["--check"], []):
        code, _, err = cli(capsys, "--cache", cache, "run", suite_file(tmp_path), "--out", out, *check)
        one_line_refusal(code, err, f"sha256 mismatch for {weights}")
    assert not out.exists() and sorted(p.name for p in cache.iterdir()) == ["models"]


STITCHED = (  # a stitch set (two, one per method), an ensemble table, a graph table and references in the cache
    BASE
    + """
[[problems]]
family = "stitch-ensemble"
hosts = ["uci-digits"]
params = { alpha_grid = 3, recipe = { match_epochs = 1, epochs = 1 } }

[[problems]]
family = "stitch-graph"
hosts = ["uci-digits"]
params = { max_points = 2, recipe = { match_epochs = 1 } }
"""
)


@pytest.fixture(scope="module")
def stitched_cache(tmp_path_factory, zoo, cache_dir):
    """A cache holding every kind of entry a run of STITCHED reads, and that suite."""
    root = tmp_path_factory.mktemp("stitched")
    (root / "s.toml").write_text(STITCHED)
    cache = root / "cache"
    shutil.copytree(cache_dir / "models", cache / "models")
    assert main(["--quiet", "--cache", str(cache), "run", str(root / "s.toml"), "--out", str(root / "run")]) == 0
    return root / "s.toml", cache


@pytest.mark.parametrize("kind", ["stitches", "ensemble-tables", "graph-tables", "references"])
@pytest.mark.parametrize("damage", ["weights", "manifest"])
def test_a_damaged_cache_entry_is_refused_before_the_run_folder(kind, damage, stitched_cache, tmp_path, capsys):
    """Truncated weights or a manifest that is not JSON, in every entry of a kind a run reads (not all of them
    are read): exit 2 with one line naming the entry and saying to delete it, and no run folder."""
    suite, built = stitched_cache
    cache, out = tmp_path / "cache", tmp_path / "o"
    shutil.copytree(built, cache)
    files = [
        p / ("weights.safetensors" if damage == "weights" else "manifest.json")
        for p in sorted((cache / kind).iterdir())
        if (p / "manifest.json").is_file()
    ]
    for file in files:
        file.write_bytes(file.read_bytes()[:100])
    code, _, err = cli(capsys, "--cache", cache, "run", suite, "--out", out)
    one_line_refusal(code, err, "to rebuild it")
    assert any(f"delete the cache entry {f.parent} to rebuild it" in err and str(f) in err for f in files), err
    assert not out.exists()


def test_a_models_flops_are_counted_once_stored_and_refused_when_damaged(zoo, tmp_path, monkeypatch):
    """A model's FLOPs are counted once and stored in the cache; a zoo that finds them reads them (no count);
    a damaged entry is refused, naming it. A zoo without a cache counts them itself."""
    import dataclasses

    from stitchbench._artifacts import IntegrityError
    from stitchbench.problems import _baselines

    record, example = zoo.records[0], zoo.scenario.example()
    counted = _baselines.count_flops(record.module, example[:1])
    fresh = lambda cache: dataclasses.replace(zoo, cache_dir=cache, memo={}, _probs={})  # noqa: E731
    assert _baselines.model_flops(fresh(tmp_path), record, example) == counted > 0
    assert _baselines.model_flops(fresh(None), record, example) == counted
    [entry] = (tmp_path / "flops").iterdir()
    monkeypatch.setattr(_baselines, "count_flops", lambda *_: pytest.fail("counted again"))
    assert _baselines.model_flops(fresh(tmp_path), record, example) == counted
    weights = entry / "weights.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # a bit of the count
    with pytest.raises(IntegrityError, match=re.escape(f"delete the cache entry {entry}")):
        _baselines.model_flops(fresh(tmp_path), record, example)


def test_check_refuses_an_out_that_cannot_be_written(tmp_path, capsys):
    """--check, like a run, refuses an --out under a file, one in a folder that even root cannot write
    (/proc/self), and one in a read-only folder (not as root: root writes there); nothing is created."""
    (tmp_path / "file").write_text("mine")
    outs = {tmp_path / "file" / "o": "is a file, not a folder"}
    if Path("/proc/self").is_dir():
        outs[Path("/proc/self/o")] = "/proc/self is read-only or not writable by this user"
    if os.geteuid() != 0:
        (tmp_path / "ro").mkdir(mode=0o555)
        outs[tmp_path / "ro" / "o"] = f"{tmp_path / 'ro'} is read-only or not writable by this user"
    for out, needle in outs.items():
        for check in (["--check"], []):
            code, _, err = cli(capsys, "--cache", tmp_path / "cache", "run", suite_file(tmp_path), "--out", out, *check)
            one_line_refusal(code, err, needle)
            assert not out.exists()
    assert not (tmp_path / "cache").exists()


def test_report_refuses_a_figures_file_before_rewriting_anything(finished_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    shutil.rmtree(run / "figures")
    (run / "figures").write_text("mine")
    before = snapshot(run)
    one_line_refusal(*cli(capsys, "report", run)[::2], f"{run / 'figures'} is a file, not a folder")
    assert snapshot(run) == before


def test_leaderboard_out_in_a_run_folder_takes_its_lock(finished_run, tmp_path, capsys):
    from filelock import FileLock

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    with FileLock(run / ".stitchbench.lock", timeout=0):
        (run / ".stitchbench.holder").write_text(json.dumps({"pid": 4242, "host": "elsewhere", "since": 0.0}))
        code, _, err = cli(capsys, "leaderboard", run, "--out", run)
        one_line_refusal(code, err, "in use by another stitchbench process (pid 4242 on host elsewhere)")
        assert not (run / "leaderboard.md").exists()
    (run / ".stitchbench.holder").unlink()
    assert cli(capsys, "leaderboard", run, "--out", run)[0] == 0
    assert (run / "leaderboard.md").is_file() and not (run / ".stitchbench.holder").exists()


# ---------------------------------------------------------------- J: the run manifest, read in full


FUZZ_CASES = int(os.environ.get("STITCHBENCH_FUZZ_EXAMPLES", 1200))
WRONG = {  # a value of each JSON kind
    "null": [None],
    "bool": [True, False],
    "int": [0, -1, 2**63],
    "float": [1.5, float("nan"), float("-inf")],
    "str": ["", "x", "../x"],
    "list": [[], [1, "a"], [[[]]]],
    "dict": [{}, {"a": 1}, {"status": "done"}],
}
OPTIONAL = {"null"}
MANIFEST_SPEC = {  # path (* any key or index) -> the kinds it may hold; an enum takes none of WRONG's values
    (): {"dict"},
    ("suite",): {"dict"},
    ("suite", "name"): {"str"},
    ("suite", "seeds"): {"list"},
    ("suite", "seeds", "*"): {"int"},
    ("suite", "budget"): {"int"},
    ("suite", "solvers"): {"list"},
    ("suite", "solvers", "*"): {"dict"},
    ("suite", "solvers", "*", "name"): {"str"},
    ("suite", "solvers", "*", "id"): {"str"} | OPTIONAL,
    ("suite", "solvers", "*", "params"): {"dict"},
    ("suite", "zoo"): {"dict"},
    ("suite", "zoo", "seeds"): {"list"},
    ("suite", "zoo", "seeds", "*"): {"int"},
    ("suite_key",): {"str"},
    ("jobs",): {"dict"},
    ("jobs", "*"): {"dict"},
    ("jobs", "*", "status"): set(),
    ("jobs", "*", "instance"): {"str"} | OPTIONAL,
    ("jobs", "*", "files"): {"dict"},
    ("jobs", "*", "files", "*"): {"str"},
    ("jobs", "*", "error"): {"str"} | OPTIONAL,
    ("jobs", "*", "seconds"): {"int", "float"} | OPTIONAL,
    ("jobs", "*", "evaluations"): {"int"} | OPTIONAL,
    ("status",): set(),
    ("instances",): {"dict"},
    ("instances", "*"): {"dict"},
    ("versions",): {"dict"},
    ("versions", "*"): {"str"},
    ("workers",): {"int"} | OPTIONAL,
    **{(k,): {"str"} | OPTIONAL for k in ("started", "ended", "git_commit", "host", "executor", "cache")},
    **{(k,): {"dict"} for k in ("references", "timings", "aggregates")},
    **{(k, "*"): {"str"} for k in ("references", "aggregates")},
    ("timings", "*"): {"int", "float"},
}
REQUIRED = [("suite",), ("suite_key",), ("jobs",), ("status",), ("instances",), ("suite", "name"), ("suite", "budget")]


def paths(value, path=()):
    """Every (path, value) of a JSON document, the root first."""
    yield path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        yield from paths(v, (*path, k))


def spec(path: tuple) -> set | None:
    """The kinds MANIFEST_SPEC allows at `path` (None: a path it does not type)."""
    for key, kinds in MANIFEST_SPEC.items():
        if len(key) == len(path) and all(k in ("*", p) for k, p in zip(key, path, strict=True)):
            return kinds
    return None


MISSING = object()


def put(doc, path: tuple, value):
    """`doc` with `value` at `path` (MISSING: the field deleted); the root itself where `path` is ()."""
    if not path:
        return value
    holder = doc
    for k in path[:-1]:
        holder = holder[k]
    if value is MISSING:
        del holder[path[-1]]
    else:
        holder[path[-1]] = value
    return doc


def mutated(manifest: dict, rng) -> tuple[str, object]:
    """One invalid variant of a valid manifest: a wrong type anywhere the spec types, a required field gone,
    nesting deeper than 64 levels, a recorded file outside the run folder, or a field no manifest has."""
    m = json.loads(json.dumps(manifest))
    how = rng.choice(["type"] * 6 + ["missing", "deep", "outside", "unknown"])
    job = next(iter(m["jobs"]))
    if how == "type":
        path = rng.choice([p for p, _ in paths(m) if spec(p) is not None])
        value = rng.choice([v for kind, values in WRONG.items() if kind not in spec(path) for v in values])
    elif how == "deep":
        path, value = rng.choice([p for p, _ in paths(m) if p]), json.loads("[" * 70 + "]" * 70)
    elif how == "missing":
        path, value = rng.choice(REQUIRED), MISSING
    elif how == "outside":
        where = rng.choice([("references",), ("aggregates",), ("jobs", job, "files")])
        path, value = (*where, rng.choice(["../x.parquet", "/etc/passwd", ""])), "0" * 64
    else:
        path, value = (*rng.choice([(), ("jobs", job)]), "extra"), 1
    return how, put(m, path, value)


def test_any_malformed_run_manifest_exits_2_and_writes_nothing(finished_run, tmp_path, capsys):
    """report and compare on FUZZ_CASES manifests, each a real run's with one defect: exit 2 with one line
    naming the manifest, never a traceback, never 1, and the folder as it was."""
    import random
    from collections import Counter

    from stitchbench.results._store import RunManifest

    base = json.loads((finished_run / "manifest.json").read_text())
    RunManifest.model_validate(base)
    rng, codes, kinds = random.Random(0), Counter(), Counter()
    start = time.monotonic()
    for i in range(FUZZ_CASES):
        how, manifest = mutated(base, rng)
        kinds[how] += 1
        folder = tmp_path / str(i)
        folder.mkdir()
        text = json.dumps(manifest)
        (folder / "manifest.json").write_text(text)
        for command in ("report", "compare"):
            code, _, err = cli(capsys, command, folder)
            codes[command, code] += 1
            one_line = err.startswith(f"error: {folder / 'manifest.json'}") and err.count("\n") == 1
            assert code == 2 and one_line and "Traceback" not in err, (how, text[:300], err)
        assert [p.name for p in folder.iterdir()] == ["manifest.json"]
        assert (folder / "manifest.json").read_text() == text
        shutil.rmtree(folder)
    with capsys.disabled():
        print(f"{FUZZ_CASES} manifests in {time.monotonic() - start:.1f} s: {dict(kinds)}; exit codes {dict(codes)}")
