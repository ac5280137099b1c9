"""Model exchange between parties: export a stored model as safetensors + JSON manifest, import one.

A received model is untrusted: its manifest must be a JSON object naming a known architecture, the weights'
sha256 must match the manifest before anything is read, the weights are read only with safetensors, and
they must fit the architecture exactly. Only then is the model stored in the cache under its config's
content address (and the kind of device it was trained on), where zoo builds with the same config reuse it.
"""

import json
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from stitchbench._artifacts import WEIGHTS, Artifact, ArtifactStore, IntegrityError, read_weights
from stitchbench._devices import KINDS
from stitchbench._files import parse, read_regular
from stitchbench._params import check_seed
from stitchbench.data import SCENARIOS, get_scenario
from stitchbench.errors import InputError, unknown

from ._architectures import ARCHITECTURES
from ._store import ModelRecord, build_model

log = logging.getLogger(__name__)

REQUIRED = ("arch", "in_channels", "num_classes", "kind", "scenario", "seed")
BASE = ("merged", "fedavg", "fedprox")
KIND = re.compile(r"(local:[A-Za-z0-9_.-]+|merged|fedavg|fedprox)")
HEX = re.compile(r"[0-9a-f]{8,64}")


def export_model(record: ModelRecord, out: Path) -> tuple[Path, Path]:
    """Write `<kind>.<arch>.seed<N>.safetensors` and the matching `.json` manifest into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    name = f"{record.kind.replace(':', '-')}.{record.arch}.seed{record.seed}"
    weights, manifest = out / f"{name}.safetensors", out / f"{name}.json"
    shutil.copyfile(record.artifact.path / WEIGHTS, weights)
    manifest.write_text(json.dumps(record.manifest, indent=2, sort_keys=True))
    return weights, manifest


def read_manifest_file(path: Path) -> dict:
    try:
        manifest = parse(json.loads, read_regular(path), f"manifest {path}")
    except FileNotFoundError as e:
        raise IntegrityError(f"manifest {path} not found") from e
    except OSError as e:  # a folder, unreadable, ...
        raise IntegrityError(f"cannot read manifest {path}: {e.strerror or e}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise IntegrityError(f"manifest {path} is not valid JSON: {e}") from e
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sha256"), str):
        raise IntegrityError(f"{path}: a model manifest is a JSON object with the weights' 'sha256'")
    config = manifest.get("config")
    missing = [k for k in REQUIRED if not isinstance(config, dict) or k not in config]
    if missing:
        raise IntegrityError(f"{path}: manifest config lacks {', '.join(missing)}")
    if config["arch"] not in ARCHITECTURES:
        raise IntegrityError(
            f"{path}: unknown architecture {config['arch']!r}; valid: {', '.join(ARCHITECTURES.names())}"
        )
    if not isinstance(config["kind"], str) or not KIND.fullmatch(config["kind"]):
        raise IntegrityError(f"{path}: model kind {config['kind']!r} is not one of local:<party>, {', '.join(BASE)}")
    scenario = config["scenario"]
    if not isinstance(scenario, dict) or scenario.get("name") not in SCENARIOS:
        name = scenario.get("name") if isinstance(scenario, dict) else scenario
        raise IntegrityError(f"{path}: unknown scenario {name!r}; valid: {', '.join(SCENARIOS.names())}")
    if manifest.get("device", "cpu") not in KINDS:
        raise IntegrityError(f"{path}: device {manifest['device']!r} is not a device kind; valid: {', '.join(KINDS)}")
    if "key" in manifest and not (isinstance(manifest["key"], str) and HEX.fullmatch(manifest["key"])):
        raise IntegrityError(f"{path}: key {manifest['key']!r} is not a content address (hex digits)")
    check_usable(path, config)
    return manifest


def check_usable(path: Path, config: dict) -> None:
    """A config a zoo build can find: a seed (`check_seed`), the scenario in the canonical form its parameters
    make (which checks them), a party of it, and its input channels and classes."""
    try:
        check_seed(config["seed"])
    except InputError as e:
        raise IntegrityError(f"{path}: {e}") from e
    given = config["scenario"]
    if not isinstance(given.get("params", {}), dict):
        raise IntegrityError(f"{path}: scenario params {given.get('params')!r} are not a JSON object")
    try:
        scenario = get_scenario(given["name"], **given.get("params", {}))
    except InputError as e:
        raise IntegrityError(f"{path}: scenario {given['name']!r}: {e}") from e
    if scenario.identity() != given:
        raise IntegrityError(f"{path}: scenario {given!r} is not as its parameters make it: {scenario.identity()!r}")
    party = config["kind"].split(":", 1)[1] if config["kind"].startswith("local:") else None
    if party is not None and party not in scenario.party_names:
        raise IntegrityError(f"{path}: {unknown('party', party, scenario.party_names)}")
    shape = (scenario.in_channels, scenario.num_classes)
    if (config["in_channels"], config["num_classes"]) != shape:
        raise IntegrityError(
            f"{path}: in_channels, num_classes are {shape} in {scenario.name!r}, not "
            f"{(config['in_channels'], config['num_classes'])}"
        )


@dataclass(frozen=True)
class Received:
    """An imported model: its cache record, and whether it was new (else the same weights were there)."""

    record: ModelRecord
    new: bool


def receive_model(weights: Path, manifest_path: Path, cache_dir: Path) -> Received:
    """Verify a received model (manifest, sha256, safetensors, architecture fit) and store it in the cache.
    Where an intact model of its config is cached already, nothing is stored: the same weights are reported
    as such, other weights refused (an InputError naming both sha256s); a damaged one is replaced. One
    import or build of a config at a time (the store's lock): of two imports racing, one imports."""
    manifest = read_manifest_file(manifest_path)
    tensors = read_weights(weights, manifest["sha256"])
    build_model(manifest["config"], tensors, weights)
    store = ArtifactStore(cache_dir, "models", manifest.get("device", "cpu"))  # served where it was trained
    key = store.key(manifest["config"])
    with store.locked(key):
        present = intact(store, key)
        if present is not None:
            if present.manifest["sha256"] != manifest["sha256"]:
                raise InputError(
                    f"the cache holds a model of this config with other weights ({present.path}, sha256 "
                    f"{present.manifest['sha256']}; received {manifest['sha256']}); nothing was imported. Delete "
                    "that entry to replace it, or import into another --cache"
                )
            return Received(ModelRecord(present), False)
        extra = {k: v for k, v in manifest.items() if k not in ("key", "config", "sha256", "versions")}
        extra["imported_from"] = str(weights)
        return Received(ModelRecord(store.put(manifest["config"], tensors, extra)), True)


def intact(store: ArtifactStore, key: str) -> Artifact | None:
    """The cached artifact of `key` where its weights match its manifest; None where there is none, or where
    it is damaged (a warning says so: the import replaces it)."""
    try:
        found = store.get(key)
        if found is not None:
            found.tensors()  # verifies the sha256 and reads the safetensors
        return found
    except IntegrityError as e:
        log.warning("replacing a damaged cache entry: %s", e)
        return None


def import_model(weights: Path, manifest_path: Path, cache_dir: Path) -> ModelRecord:
    """`receive_model`'s record."""
    return receive_model(weights, manifest_path, cache_dir).record
