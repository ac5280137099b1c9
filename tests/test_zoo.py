import json

import pytest
import torch

from stitchbench._artifacts import IntegrityError, read_manifest
from stitchbench.errors import InputError
from stitchbench.zoo import build_zoo, create, load_model
from stitchbench.zoo._build import train_kind
from stitchbench.zoo._recipe import Recipe


def scores(zoo, split="test"):
    m = zoo.evaluation_matrix([split])
    return {(r.kind, r.party): r.value for r in m.itertuples()}


def test_digits_shift_zoo_shows_the_papers_setting(zoo):
    """On zoo seed 0, the session's zoo (one seed keeps the suite fast; the property is the scenario's)."""
    s = scores(zoo)
    p, q = "uci-digits", "mnist"
    for own, other in [(p, q), (q, p)]:
        assert s[(f"local:{own}", own)] >= 0.90
        assert s[(f"local:{own}", other)] <= s[(f"local:{own}", own)] - 0.25
    for party in (p, q):
        best_local = max(s[(f"local:{x}", party)] for x in (p, q))
        assert s[("merged", party)] >= best_local - 0.02
        other = q if party == p else p
        assert s[("fedavg", party)] >= s[(f"local:{other}", party)] + 0.20
        assert s[("fedavg", party)] <= s[("merged", party)] + 0.02


def test_evaluation_matrix_is_long_and_complete(zoo):
    m = zoo.evaluation_matrix()
    assert list(m.columns) == ["kind", "arch", "seed", "party", "split", "metric", "value"]
    assert len(m) == 5 * 2 * 2  # models x parties x splits
    assert set(m.kind) == {"local:uci-digits", "local:mnist", "merged", "fedavg", "fedprox"}
    assert m.value.between(0, 1).all()


def test_data_touch_record(zoo):
    assert zoo.get("local:uci-digits").touched == ("uci-digits",)
    assert zoo.get("local:mnist").touched == ("mnist",)
    for kind in ("merged", "fedavg", "fedprox"):
        assert set(zoo.get(kind).touched) == {"uci-digits", "mnist"}


def test_same_seed_gives_bit_identical_weights(digits):
    recipe = Recipe(**{**digits.recipe, "epochs": 1})

    def make():
        return create("cnn", 1, 10)

    before = torch.get_rng_state()
    a = train_kind(digits, "local:uci-digits", make, recipe, seed=3).model.state_dict()
    assert torch.equal(torch.get_rng_state(), before)  # training seeds a fork, not the global RNG
    torch.rand(7)  # whatever the global RNG's state, the same seed gives the same model
    b = train_kind(digits, "local:uci-digits", make, recipe, seed=3).model.state_dict()
    c = train_kind(digits, "local:uci-digits", make, recipe, seed=4).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("kind", ["local:uci-digits", "fedavg"])
def test_early_stopping_keeps_the_best_val_epoch(digits, kind):
    from stitchbench.zoo._training import predict

    recipe = Recipe(**{**digits.recipe, "epochs": 12, "patience": 1, "lr": 0.005})  # high: val gets worse early
    fit = train_kind(digits, kind, lambda: create("cnn", 1, 10), recipe, seed=0)
    assert len(fit.history) == fit.epochs == fit.best_epoch + 1 < 12  # stopped 1 epoch (round) after the best
    assert fit.val_score == max(fit.history) == fit.history[fit.best_epoch - 1] > fit.history[-1]
    # the kept weights are exactly those after the best epoch (round): training without early stopping for
    # that many epochs gives them bit for bit, and they score val_score on the parties' val splits
    short = train_kind(
        digits,
        kind,
        lambda: create("cnn", 1, 10),
        recipe.model_copy(update={"patience": None, "epochs": fit.best_epoch}),
        seed=0,
    )
    assert short.epochs == fit.best_epoch and short.best_epoch is None
    a, b = fit.model.state_dict(), short.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    parties = [digits.party(p) for p in fit_parties(digits, kind)]
    x = torch.cat([p.split("val").x for p in parties])
    y = torch.cat([p.split("val").y for p in parties])
    assert (predict(fit.model, x).argmax(1) == y).float().mean().item() == pytest.approx(fit.val_score)


def test_early_stopping_waits_for_min_epochs(digits):
    recipe = Recipe(**{**digits.recipe, "epochs": 12, "patience": 1, "lr": 0.005, "min_epochs": 8})
    fit = train_kind(digits, "local:uci-digits", lambda: create("cnn", 1, 10), recipe, seed=0)
    # without min_epochs this run stops after epoch 5 (see above); now not before epoch 8
    assert fit.epochs >= 8 and fit.val_score == max(fit.history)


def fit_parties(scenario, kind):
    return [kind.split(":", 1)[1]] if kind.startswith("local:") else scenario.party_names


def test_federated_training_is_deterministic(digits):
    recipe = Recipe(**{**digits.recipe, "epochs": 1})
    before = torch.get_rng_state()
    runs = [train_kind(digits, "fedprox", lambda: create("cnn", 1, 10), recipe, seed=0) for _ in range(2)]
    assert torch.equal(torch.get_rng_state(), before)
    a, b = (r.model.state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_rebuilding_reuses_the_cache(digits, zoo, cache_dir):
    again = build_zoo(digits, cache_dir=cache_dir)
    assert [r.artifact.key for r in again.records] == [r.artifact.key for r in zoo.records]
    manifest = zoo.get("merged").manifest
    assert manifest["config"]["recipe"]["epochs"] == digits.recipe["epochs"]
    assert manifest["versions"]["torch"] == torch.__version__


def copy_artifact(record, tmp_path):
    dst = tmp_path / "model"
    dst.mkdir()
    for f in record.artifact.path.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_tampered_weights_are_refused(zoo, tmp_path):
    from stitchbench._artifacts import Artifact

    path = copy_artifact(zoo.get("local:mnist"), tmp_path)
    data = bytearray((path / "weights.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (path / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        load_model(Artifact(path, read_manifest(path)))


def test_pickle_disguised_as_safetensors_is_refused(zoo, tmp_path):
    import hashlib
    import pickle

    from stitchbench._artifacts import Artifact

    path = copy_artifact(zoo.get("local:mnist"), tmp_path)
    payload = pickle.dumps({"weight": [1, 2, 3]})
    (path / "weights.safetensors").write_bytes(payload)
    manifest = read_manifest(path)
    manifest["sha256"] = hashlib.sha256(payload).hexdigest()  # an attacker can fix the hash too
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError, match="not a valid safetensors file"):
        load_model(Artifact(path, read_manifest(path)))


def test_manifest_that_does_not_fit_the_weights_is_refused(zoo, tmp_path):
    from stitchbench._artifacts import Artifact

    path = copy_artifact(zoo.get("local:mnist"), tmp_path)
    manifest = read_manifest(path)
    manifest["config"]["arch"] = "resnet"
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError, match="do not fit architecture 'resnet'"):
        load_model(Artifact(path, read_manifest(path)))


def test_federated_compute_parity_is_enforced(digits, tmp_path):
    with pytest.raises(InputError, match=r"epochs=5 is not a multiple of local_epochs=2.*1, 5"):
        build_zoo(digits, kinds=["fedavg"], cache_dir=tmp_path, recipe={"epochs": 5, "local_epochs": 2})
    assert not any(tmp_path.rglob("*.safetensors"))  # refused before anything trained
