"""Reliability, round 4: cleanup as narrow as its marker, one seed range for every command, bounded nesting
and no special files at any reader, and nothing accepted that a later step cannot honour."""

import json
import os
import time

import pytest

from .test_reliability_round3 import BASE, cli
from .test_run_directory import suite_file


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
    from stitchbench.files import atomic_write

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

    from stitchbench.files import atomic_write, temporary

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
