"""Shared models are untrusted files: exchange goes through sha256-verified safetensors only."""

import hashlib
import json
import pickle
import shutil

import pytest
import torch

from stitchbench._artifacts import IntegrityError
from stitchbench.cli import main
from stitchbench.stitching import stitch_setup
from stitchbench.zoo import build_zoo, export_model, import_model


class Payload:
    """Unpickling this would create a file: the proof that nothing was executed."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture
def exported(zoo, tmp_path):
    return export_model(zoo.get("local:mnist"), tmp_path / "outbox")


def test_export_then_import_into_another_cache_is_reused_by_the_zoo(exported, zoo, digits, tmp_path):
    weights, manifest = exported
    other_cache = tmp_path / "receiver"
    record = import_model(weights, manifest, other_cache)
    assert record.sha256 == zoo.get("local:mnist").sha256
    original = zoo.get("local:mnist").module.state_dict()
    assert all(torch.equal(v, record.module.state_dict()[k]) for k, v in original.items())
    trained = []
    received = build_zoo(digits, kinds=["local:mnist"], cache_dir=other_cache, on_model=lambda d, t: trained.append(t))
    assert received.get("local:mnist").artifact.path == record.artifact.path  # reused, not retrained
    assert trained[0] < 2.0


def test_tampered_export_is_refused_by_the_cli(exported, tmp_path, capsys):
    weights, manifest = exported
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    assert main(["--cache", str(tmp_path / "c"), "zoo", "import", str(weights), "--manifest", str(manifest)]) == 2
    assert "sha256 mismatch" in capsys.readouterr().err
    assert not (tmp_path / "c" / "models").exists()


def test_pickle_with_a_matching_hash_is_refused_and_never_executed(exported, tmp_path):
    weights, manifest = exported
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Payload(marker))
    weights.write_bytes(payload)
    m = json.loads(manifest.read_text())
    m["sha256"] = hashlib.sha256(payload).hexdigest()
    manifest.write_text(json.dumps(m))
    with pytest.raises(IntegrityError, match="not a valid safetensors file"):
        import_model(weights, manifest, tmp_path / "c")
    assert not marker.exists()


@pytest.mark.parametrize(
    "edit,needle",
    [
        (lambda m: m["config"].update(arch="vit"), "unknown architecture 'vit'"),
        (
            lambda m: m["config"].update(num_classes=7),
            r"in_channels, num_classes are \(1, 10\) in 'digits-shift', not \(1, 7\)",
        ),
        (lambda m: m["config"].pop("seed"), "lacks seed"),
        (lambda m: m.pop("sha256"), "'sha256'"),
    ],
)
def test_manifest_that_does_not_match_is_refused(exported, tmp_path, edit, needle):
    weights, manifest = exported
    m = json.loads(manifest.read_text())
    edit(m)
    manifest.write_text(json.dumps(m))
    with pytest.raises(IntegrityError, match=needle):
        import_model(weights, manifest, tmp_path / "c")


def test_manifest_that_is_not_json_is_refused(exported, tmp_path, capsys):
    weights, manifest = exported
    manifest.write_text("{not json")
    assert main(["zoo", "import", str(weights), "--manifest", str(manifest)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_tampered_stitch_set_is_refused(setup_db, zoo, tmp_path):
    private = tmp_path / "cache"
    copy = private / "stitches" / setup_db.path.name
    shutil.copytree(setup_db.path, copy)
    data = bytearray((copy / "weights.safetensors").read_bytes())
    data[-3] ^= 0xFF
    (copy / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        stitch_setup(zoo, "uci-digits", "double-batched", cache_dir=private)


def test_cli_export(zoo, cache_dir, tmp_path, capsys):
    out = tmp_path / "share"
    argv = ["--cache", str(cache_dir), "zoo", "export", "digits-shift", "--kind", "local:uci-digits", "--out", str(out)]
    assert main(argv) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ["local-uci-digits.cnn.seed0.json", "local-uci-digits.cnn.seed0.safetensors"]
    m = json.loads((out / files[0]).read_text())
    assert m["touched"] == ["uci-digits"] and m["sha256"] == zoo.get("local:uci-digits").sha256
