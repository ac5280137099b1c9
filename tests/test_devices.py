"""Devices (issue 37): one resolver; CPU keys and results as before; GPU-built artifacts a cache entry apart;
pools that give each worker a device of its own. Tests marked `gpu` need CUDA: skipped without it (see
conftest.py); benchmarks/gpu_check.sh runs them on a GPU."""

import json
import os
import shutil

import numpy as np
import pytest
import torch

from stitchbench import _devices as devices
from stitchbench._artifacts import ArtifactStore, IntegrityError
from stitchbench._hashing import config_hash
from stitchbench._processes import worker_pool
from stitchbench.benchmark._executors import ray_resources
from stitchbench.benchmark._runner import run_suite, training_workers
from stitchbench.benchmark._suite import expand, load_suite
from stitchbench.cli import main
from stitchbench.data import get_scenario
from stitchbench.moo import TabularProblem
from stitchbench.problems import create_problem
from stitchbench.problems._checks import matched_points
from stitchbench.problems._stitch_ensemble import TABLE_BYTES, table_bytes
from stitchbench.stitching import stitch_setup
from stitchbench.zoo import Zoo, build_zoo, export_model, import_model
from stitchbench.zoo._build import train_model, zoo_configs

CPU = torch.device("cpu")
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="torch sees a CUDA device here")

SUITE = """
name = "on-a-device"
seeds = [0]
budget = 8
{device}

[[scenarios]]
name = "digits-shift"

[[problems]]
family = "ensemble-weights"

[[problems]]
family = "stitch-ensemble"
hosts = ["uci-digits"]
params = {{ alpha_grid = 3, recipe = {{ match_epochs = 1, epochs = 1 }} }}

[[solvers]]
name = "random"
"""


@no_cuda
def test_auto_resolves_to_the_cpu_without_cuda():
    assert devices.resolve() == devices.resolve("auto") == devices.resolve("cpu") == CPU
    assert devices.worker_devices(CPU, 2) == [CPU, CPU]


@no_cuda
@pytest.mark.parametrize(
    "argv",
    [
        ["--device", "cuda", "run", "quick", "--check"],
        ["--device", "cuda:1", "zoo", "build", "digits-shift"],
        ["run", "paper-gpu", "--check"],  # the suite's own device: cuda
    ],
)
def test_cuda_is_refused_without_cuda(argv, tmp_path, capsys):
    out = ["--out", str(tmp_path / "out")]
    assert main(["--quiet", "--cache", str(tmp_path / "cache"), *argv, *out]) == 2
    err = capsys.readouterr().err
    assert "sees no CUDA device" in err and "valid devices here: auto, cpu" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "CPU", "cuda:0 "])
def test_bad_devices_exit_2_naming_the_valid_ones(bad, tmp_path, capsys):
    valid = "valid devices: auto, cpu, cuda, cuda:N"
    assert main(["--device", bad, "run", "quick", "--check"]) == 2
    assert valid in capsys.readouterr().err
    (tmp_path / "suite.toml").write_text(SUITE.format(device=f"device = {json.dumps(bad)}"))
    assert main(["run", str(tmp_path / "suite.toml"), "--check", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "device: unknown device" in err and valid in err and "Traceback" not in err


def test_the_default_device_keeps_a_suites_key(tmp_path):
    """Suites written before devices resume their runs: `auto` is left out of the key, `cpu` is not."""
    (tmp_path / "a.toml").write_text(SUITE.format(device=""))
    (tmp_path / "b.toml").write_text(SUITE.format(device='device = "auto"'))
    (tmp_path / "c.toml").write_text(SUITE.format(device='device = "cpu"'))
    a, b, c = (load_suite(str(tmp_path / f"{n}.toml")) for n in "abc")
    assert a.device == "auto" and a.key == b.key != c.key


def test_cpu_keys_are_those_of_the_code_before_devices(digits, tmp_path):
    config = zoo_configs(digits, kinds=["local:uci-digits"])[0]
    assert "device" not in config and "eval_batch_size" not in config["recipe"]
    cpu = ArtifactStore(tmp_path, "models")
    assert cpu.key(config) == config_hash({"kind": "models", **config}) == "d7d84b97b7503392"
    cuda = ArtifactStore(tmp_path, "models", "cuda").key(config)
    assert cuda == config_hash({"kind": "models", **config, "device": "cuda"}) != cpu.key(config)
    wide = zoo_configs(digits, kinds=["local:uci-digits"], recipe={"eval_batch_size": 1024})[0]
    assert wide["recipe"]["eval_batch_size"] == 1024 and cpu.key(wide) != cpu.key(config)


def test_an_entry_built_on_cuda_is_never_served_for_the_cpu(tmp_path):
    config = {"what": "a model"}
    gpu = ArtifactStore(tmp_path, "models", "cuda").get_or_build(config, lambda: ({"w": torch.ones(2)}, {}))
    assert gpu.manifest["device"] == "cuda"
    cpu = ArtifactStore(tmp_path, "models")
    key = cpu.key(config)
    assert key != gpu.key and cpu.get(key) is None
    shutil.copytree(gpu.path, cpu.path(key))  # a manifest recording cuda at the CPU key: not served either
    assert cpu.get(key) is None
    rebuilt = cpu.get_or_build(config, lambda: ({"w": torch.zeros(2)}, {}))
    assert rebuilt.manifest["device"] == "cpu" and rebuilt.tensors()["w"].sum() == 0
    assert ArtifactStore(tmp_path, "models", "cuda").get(gpu.key).manifest["device"] == "cuda"


def test_an_imported_model_keeps_the_device_it_was_trained_on(zoo, tmp_path):
    weights, manifest = export_model(zoo.get("local:mnist"), tmp_path / "outbox")
    assert json.loads(manifest.read_text())["device"] == "cpu"
    manifest.write_text(json.dumps(json.loads(manifest.read_text()) | {"device": "cuda"}))
    record = import_model(weights, manifest, tmp_path / "cache")
    config = record.manifest["config"]
    assert record.manifest["device"] == "cuda"
    assert (
        record.artifact.key
        == ArtifactStore(tmp_path, "models", "cuda").key(config)
        != zoo.get("local:mnist").artifact.key
    )
    manifest.write_text(json.dumps(json.loads(manifest.read_text()) | {"device": "tpu"}))
    with pytest.raises(IntegrityError, match="device 'tpu' is not a device kind; valid: cpu, cuda"):
        import_model(weights, manifest, tmp_path / "other")


def test_what_another_evaluation_batch_size_computes_is_a_cache_entry_of_its_own(digits, zoo, setup_db, cache_dir):
    """A sample's outputs can depend on the batch it is evaluated in (kernels are chosen by shape: on this
    project's CPU, batches of 7 and 128 differ in the last bits)."""
    small, default = (Zoo(digits, zoo.records, eval_batch_size=n) for n in (7, 128))
    r = zoo.get("local:mnist")
    assert torch.allclose(small.probs(r, "mnist", "val"), default.probs(r, "mnist", "val"), atol=1e-6)
    assert "eval_batch_size" not in setup_db.manifest["config"]
    setup = stitch_setup(small, "uci-digits", "feature-match", recipe={"match_epochs": 1}, cache_dir=cache_dir)
    assert setup.manifest["config"]["eval_batch_size"] == 7 and setup.members.batch_size == 7


def test_ray_asks_for_a_gpu_per_task_on_cuda_only():
    assert ray_resources(torch.device("cuda")) == {"num_cpus": 1, "num_gpus": 1}
    assert ray_resources(torch.device("cuda", 1)) == {"num_cpus": 1, "num_gpus": 1}
    assert ray_resources(CPU) == {"num_cpus": 1}


def test_workers_take_the_gpus_in_turn_and_train_one_per_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    cuda, first, second = torch.device("cuda"), torch.device("cuda", 0), torch.device("cuda", 1)
    assert devices.gpus(cuda) == [first, second] and devices.gpus(second) == [second]
    assert devices.worker_devices(cuda, 3) == [first, second, first]
    assert devices.worker_devices(second, 2) == [second, second]
    assert training_workers("process", 16, cuda) == 2 and training_workers("ray", 16, second) == 1
    assert training_workers("local", 16, cuda) == 1
    assert training_workers("process", 2, CPU) == min(2, os.cpu_count() or 1)


_DEVICE = None


def _take(device: str) -> None:
    global _DEVICE
    _DEVICE = device


def _mine(_: int) -> tuple[int, str]:
    return os.getpid(), _DEVICE


def test_a_pool_gives_each_worker_a_device_of_its_own():
    with worker_pool(["cuda:0", "cuda:1"], f"{__name__}:_take") as pool:
        seen = set(pool.map(_mine, range(16)))
    pids = {pid for pid, _ in seen}
    assert len(seen) == len(pids) <= 2  # each worker one device, for all its tasks
    assert len({device for _, device in seen}) == len(pids)  # no two workers share one
    assert {device for _, device in seen} <= {"cuda:0", "cuda:1"}


def test_a_run_resumes_only_on_the_device_it_started_on(tmp_path, cache_dir, capsys):
    (tmp_path / "suite.toml").write_text(SUITE.format(device=""))
    suite, out = load_suite(str(tmp_path / "suite.toml")), tmp_path / "run"
    run_suite(suite, out, cache_dir=cache_dir, quiet=True, device="cpu")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["device"]["kind"] == "cpu"
    (out / "manifest.json").write_text(json.dumps(manifest | {"status": "running", "device": {"kind": "cuda"}}))
    assert main(["--quiet", "--cache", str(cache_dir), "run", str(tmp_path / "suite.toml"), "--out", str(out)]) == 2
    assert "holds a run started on cuda, not cpu; resume it with --device cuda" in capsys.readouterr().err


def test_paper_gpu_validates_and_tabulates_every_stitch_ensemble(tmp_path, capsys):
    assert main(["--device", "cpu", "run", "paper-gpu", "--check", "--out", str(tmp_path / "out")]) == 0
    assert "paper-gpu: valid, 4140 jobs; nothing was written" in capsys.readouterr().out
    suite = load_suite("paper-gpu")
    brain = next(s for s in suite.scenarios if s.name == "brain-mri")
    assert suite.device == "cuda" and brain.params == {"size": 128} and brain.zoo.seeds == [0, 1, 2]
    assert {s.label for s in suite.scenarios} == {s.label for s in load_suite("paper").scenarios}
    jobs = {j.instance: j for j in expand(suite) if j.family == "stitch-ensemble"}
    assert len(jobs) == 42
    for job in jobs.values():
        scenario = get_scenario(job.scenario.name, **job.scenario.params)
        archs = job.problem_params.get("archs") or job.zoo.archs * len(scenario.parties)
        size = table_bytes(scenario, len(matched_points(scenario, archs)), job.problem_params["alpha_grid"], len(archs))
        assert size <= TABLE_BYTES, job.instance


@pytest.fixture(scope="module")
def cuda():
    return devices.resolve("cuda")


@pytest.mark.gpu
def test_training_on_cuda_is_bit_reproducible(digits, cuda):
    for kind in ("local:mnist", "fedprox"):
        config = zoo_configs(digits, kinds=[kind], recipe={"epochs": 2})[0]
        (a, _), (b, _) = (train_model(digits, config, cuda) for _ in range(2))
        assert all(v.device.type == "cuda" for v in a.values())
        assert all(torch.equal(a[k], b[k]) for k in a), kind


@pytest.mark.gpu
def test_cuda_predictions_agree_with_the_cpus(digits, zoo, cuda):
    on_gpu = Zoo(digits, zoo.records, cuda, eval_batch_size=2048)
    for r in zoo.records:
        gpu, cpu = on_gpu.probs(r, "mnist", "test"), zoo.probs(r, "mnist", "test")
        assert gpu.device == CPU and torch.allclose(gpu, cpu, atol=1e-3)
        assert (gpu.argmax(1) == cpu.argmax(1)).float().mean() > 0.99


@pytest.mark.gpu
def test_a_zoo_on_cuda_stitches_tabulates_and_evaluates_there(digits, cuda, tmp_path):
    zoo = build_zoo(digits, kinds=["local"], cache_dir=tmp_path, recipe={"epochs": 2}, device=cuda, workers=2)
    assert all(r.manifest["device"] == "cuda" for r in zoo.records)
    assert all(ArtifactStore(tmp_path, "models").get(r.artifact.key) is None for r in zoo.records)
    stitching = {"host": "uci-digits", "recipe": {"match_epochs": 1, "epochs": 1}, "cache_dir": tmp_path}
    table = create_problem("stitch-ensemble", zoo, alpha_grid=3, **stitching)
    live = create_problem("stitch-ensemble", zoo, **stitching)
    assert isinstance(table, TabularProblem) and not isinstance(live, TabularProblem)
    assert table.live.setup.manifest["device"] == table.table_artifact.manifest["device"] == "cuda"
    X = live.grid(alphas=3, weights=3)
    assert np.allclose(table.evaluate(X, "test"), live.evaluate(X, "test"), atol=1e-6)
    graph = create_problem("stitch-graph", zoo, host="uci-digits", max_points=2, cache_dir=tmp_path)
    assert isinstance(graph, TabularProblem) and graph.table_artifact.manifest["device"] == "cuda"


@pytest.mark.gpu
def test_a_suite_runs_on_cuda_in_worker_processes(tmp_path):
    (tmp_path / "suite.toml").write_text(SUITE.format(device='device = "cuda"\nexecutor = "process"'))
    outcome = run_suite(load_suite(str(tmp_path / "suite.toml")), tmp_path / "run", cache_dir=tmp_path, quiet=True)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert outcome.failed == 0 and manifest["device"]["kind"] == "cuda" and manifest["device"]["name"]
