"""Build a scenario's model zoo (local, merged, federated) and its evaluation matrix."""

import copy
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pandas as pd
import torch
from pydantic import ValidationError
from torch import nn

from stitchbench._artifacts import Artifact, ArtifactStore, default_cache_dir
from stitchbench._devices import resolve, worker_devices
from stitchbench._params import check_seed
from stitchbench._processes import worker_pool
from stitchbench.data import Scenario
from stitchbench.errors import InputError, explain
from stitchbench.moo._splits import EVAL_SPLITS

from ._architectures import ARCHITECTURES, create
from ._metrics import score
from ._recipe import EVAL_BATCH_SIZE, Recipe
from ._store import ModelRecord
from ._training import CPU, Fit, one_thread, predict, train_centralized, train_federated

log = logging.getLogger(__name__)

BASE_KINDS = ("local", "merged", "fedavg", "fedprox")
# Bump when architectures or training change in a way that invalidates stored models.
ZOO_FORMAT = 3  # 2: early stopping, channels-last training; 3: trained on one thread (the same bits anywhere)


def expand_kinds(scenario: Scenario, kinds: Sequence[str]) -> list[str]:
    """'local' means every party's local model; 'local:P' one of them."""
    out: list[str] = []
    valid = [*BASE_KINDS, *(f"local:{p}" for p in scenario.party_names)]
    for k in kinds:
        if k == "local":
            out += [f"local:{p}" for p in scenario.party_names]
        elif k in valid:
            out.append(k)
        else:
            raise InputError(f"unknown model kind {k!r}; valid kinds: {', '.join(valid)}")
    return list(dict.fromkeys(out))


def check_archs(task: str | None, archs: Sequence[str]) -> None:
    """Reject unknown architectures and those built for another task (when both state theirs)."""
    for a in archs:
        entry = ARCHITECTURES.entry(a)
        if task and entry.tags.get("task", task) != task:
            fit = [e.name for e in ARCHITECTURES if e.tags.get("task", task) == task]
            raise InputError(f"architecture {a!r} is for {entry.tags['task']}; {task} architectures: {', '.join(fit)}")


def scenario_recipe(scenario: Scenario, overrides: dict | None = None) -> Recipe:
    """The scenario's recipe with `overrides`, checked (an InputError names the bad field)."""
    try:
        return Recipe(**{**scenario.recipe, **(overrides or {})})
    except ValidationError as e:
        raise InputError(f"recipe of {scenario.name!r}: {explain(e)}") from e


def touched_parties(scenario: Scenario, kind: str) -> list[str]:
    return [kind.split(":", 1)[1]] if kind.startswith("local:") else scenario.party_names


def train_kind(
    scenario: Scenario, kind: str, make_model: Callable, recipe: Recipe, seed: int, device: torch.device = CPU
) -> Fit:
    """Train one model kind on `device` on the training splits of the parties it touches, moved there once
    (early stopping, if the recipe asks for it, on the same parties' val splits)."""
    parties = [scenario.party(p) for p in touched_parties(scenario, kind)]
    data = [(p.split("train").x.to(device), p.split("train").y.to(device)) for p in parties]
    val = [(p.split("val").x.to(device), p.split("val").y.to(device)) for p in parties]

    def make_on_device() -> nn.Module:
        return make_model().to(device)

    if kind in ("fedavg", "fedprox"):
        return train_federated(make_on_device, data, scenario.task, recipe, seed, kind == "fedprox", val)
    x = torch.cat([x for x, _ in data])
    y = torch.cat([y for _, y in data])
    return train_centralized(make_on_device, x, y, scenario.task, recipe, seed, val)


@dataclass
class Zoo:
    """The trained models of one scenario, with memoized predictions on every party's splits; its torch work
    (predictions here, stitching and tables of the problems built on it) runs on `device`, `eval_batch_size`
    samples per forward pass; what is derived from its models is stored in `cache_dir` (None: memoized only)."""

    scenario: Scenario
    records: list[ModelRecord]
    device: torch.device = CPU
    eval_batch_size: int = EVAL_BATCH_SIZE
    cache_dir: Path | None = None
    _probs: dict = field(default_factory=dict, repr=False)
    memo: dict = field(default_factory=dict, repr=False)  # what problems derive from these models (by content)

    def get(self, kind: str, arch: str | None = None, seed: int | None = None) -> ModelRecord:
        for r in self.records:
            if r.kind == kind and arch in (None, r.arch) and seed in (None, r.seed):
                return r
        have = sorted({f"{r.kind}/{r.arch}/seed{r.seed}" for r in self.records})
        raise InputError(f"no model {kind!r} (arch={arch}, seed={seed}) in the zoo; it has: {', '.join(have)}")

    def probs(self, record: ModelRecord, party: str, split: str) -> torch.Tensor:
        key = (record.artifact.key, party, split)
        if key not in self._probs:
            probs = predict(self.module(record), self.inputs(party, split), self.eval_batch_size)
            self._probs[key] = probs.cpu()
        return self._probs[key]

    def module(self, record: ModelRecord) -> nn.Module:
        """A record's model on the zoo's device: the record's own on the CPU, else a copy moved there once."""
        key = ("module", record.artifact.key)
        if key not in self.memo:
            on_cpu = self.device.type == "cpu"
            self.memo[key] = record.module if on_cpu else copy.deepcopy(record.module).to(self.device)
        return self.memo[key]

    def inputs(self, party: str, split: str) -> torch.Tensor:
        """A party's split's inputs on the zoo's device, moved there once."""
        key = ("inputs", party, split)
        if key not in self.memo:
            self.memo[key] = self.scenario.party(party).split(split).x.to(self.device)
        return self.memo[key]

    def evaluation_matrix(self, splits: Sequence[str] = EVAL_SPLITS) -> pd.DataFrame:
        """Every model on every party's splits: columns kind, arch, seed, party, split, metric, value."""
        rows = []
        for r in self.records:
            for party in self.scenario.party_names:
                for split in splits:
                    y = self.scenario.party(party).split(split).y
                    value = float(score(self.scenario.metric, self.probs(r, party, split), y))
                    rows.append((r.kind, r.arch, r.seed, party, split, self.scenario.metric, value))
        return pd.DataFrame(rows, columns=["kind", "arch", "seed", "party", "split", "metric", "value"])


def model_config(scenario: Scenario, arch: str, kind: str, recipe: Recipe, seed: int) -> dict:
    """What identifies a trained model (its cache key is this config's hash)."""
    return {
        "format": ZOO_FORMAT,
        "scenario": scenario.identity(),
        "arch": arch,
        "arch_params": {},
        "in_channels": scenario.in_channels,
        "num_classes": scenario.num_classes,
        "kind": kind,
        "recipe": recipe.key_fields(),
        "seed": seed,
    }


def train_model(scenario: Scenario, config: dict, device: torch.device = CPU) -> tuple[dict, dict]:
    """Train the model `config` describes on `device`: (weights, manifest fields)."""
    make_model = partial(create, config["arch"], scenario.in_channels, scenario.num_classes)
    kind = config["kind"]
    with one_thread():
        fit = train_kind(scenario, kind, make_model, Recipe(**config["recipe"]), config["seed"], device)
    return fit.model.state_dict(), {"touched": touched_parties(scenario, kind), **fit.summary()}


_DEVICE: torch.device | None = None  # a training worker's own (`init_trainer`)


def init_trainer(device: str) -> None:
    """In a training worker process: the device it trains on."""
    global _DEVICE
    _DEVICE = resolve(device)


def train_into_store(cache_dir: str, scenario: Scenario, config: dict) -> float:
    """In a training worker process: train (or find) one model in the store; its wall seconds."""
    assert _DEVICE is not None
    start = time.perf_counter()
    store = ArtifactStore(Path(cache_dir), "models", _DEVICE.type)
    store.get_or_build(config, partial(train_model, scenario, config, _DEVICE))
    return time.perf_counter() - start


def model_label(config: dict) -> str:
    return f"{config['arch']}/{config['kind']}/seed{config['seed']}"


def zoo_configs(
    scenario: Scenario,
    archs: Sequence[str] | None = None,
    kinds: Sequence[str] = BASE_KINDS,
    seeds: Sequence[int] = (0,),
    recipe: dict | None = None,
) -> list[dict]:
    """The config of every (arch, seed, kind) model of a zoo (archs default to the scenario's default)."""
    seeds = [check_seed(s) for s in seeds]
    rec = scenario_recipe(scenario, recipe)
    archs = list(archs or [scenario.arch])
    check_archs(scenario.task, archs)
    kinds = expand_kinds(scenario, kinds)
    return [model_config(scenario, a, k, rec, s) for a in archs for s in seeds for k in kinds]


def train_models(
    cache_dir: Path,
    models: Sequence[tuple[Scenario, dict]],
    workers: int = 1,
    on_model: Callable[[str, float], None] | None = None,
    device: torch.device = CPU,
) -> list[Artifact]:
    """Each (scenario, config) model's artifact trained on `device`'s kind, in order, training those missing
    from the store. With `workers` > 1 they train in that many processes, one thread each (on a small CPU,
    faster than one process on all threads; on CUDA they take the GPUs in turn), the longest first, whatever
    zoo they belong to. `on_model(description, seconds)` is called after each model, a stored one included."""
    store = ArtifactStore(Path(cache_dir), "models", device.type)
    found = [store.get(store.key(c)) for _, c in models]
    missing = [m for m, a in zip(models, found, strict=True) if a is None]
    if workers > 1 and len(missing) > 1:
        missing.sort(key=lambda sc: -len(touched_parties(sc[0], sc[1]["kind"])))
        devices = [str(d) for d in worker_devices(device, min(workers, len(missing)))]
        with worker_pool(devices, f"{__name__}:init_trainer") as pool:
            futures = {pool.submit(train_into_store, str(cache_dir), s, c): c for s, c in missing}
            for future in as_completed(futures):
                seconds = future.result()
                if on_model:
                    on_model(model_label(futures[future]), seconds)
        trained = {store.key(c) for _, c in missing}  # reported as each finished
    else:
        trained = set()
    for i, (scenario, config) in enumerate(models):
        start = time.perf_counter()
        if found[i] is None:
            found[i] = store.get_or_build(config, partial(train_model, scenario, config, device))
        if on_model and store.key(config) not in trained:
            on_model(model_label(config), time.perf_counter() - start)
    return found


def build_zoo(
    scenario: Scenario,
    archs: Sequence[str] | None = None,
    kinds: Sequence[str] = BASE_KINDS,
    seeds: Sequence[int] = (0,),
    cache_dir: Path | None = None,
    recipe: dict | None = None,
    on_model: Callable[[str, float], None] | None = None,
    workers: int = 1,
    device: torch.device = CPU,
) -> Zoo:
    """Train (or reuse from the cache) every (arch, kind, seed) model of `scenario` (archs default to the
    scenario's default architecture) on `device`, in `workers` processes (`train_models`).

    `on_model(description, seconds)` is called after each model, e.g. to advance a progress bar.
    """
    cache = Path(cache_dir or default_cache_dir())
    models = [(scenario, c) for c in zoo_configs(scenario, archs, kinds, seeds, recipe)]
    records = [ModelRecord(a) for a in train_models(cache, models, workers, on_model, device)]
    return Zoo(scenario, records, device, scenario_recipe(scenario, recipe).eval_batch_size, cache)
