"""Weight matching: specs derived with torch.fx keep each architecture's function, matching recovers a known
permutation exactly, a wrong spec is caught, and aligned interpolation with oneself is oneself."""

import copy
from functools import cache

import pytest
import torch
from sklearn.datasets import load_digits

from stitchbench.zoo import create
from stitchbench.zoo._matching import PermutationSpec, align, interpolate, permutation_spec, permute, weight_matching

ARCHS = ["cnn", "resnet", "unet", "resunet"]
SEGMENTATION = {"unet", "resunet"}


@cache
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_digits(return_X_y=True)
    return torch.tensor(images / 16, dtype=torch.float32).reshape(-1, 1, 8, 8), torch.tensor(labels)


@cache
def model(arch: str, trained: bool) -> torch.nn.Module:
    """A fresh model, or one trained for an epoch on the digits (segmentation: the pixels above 0.5)."""
    torch.manual_seed(0)
    net = create(arch, 1, 2 if arch in SEGMENTATION else 10)
    if trained:
        x, y = digits()
        target = (x[:, 0] > 0.5).long() if arch in SEGMENTATION else y
        optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
        for batch in torch.randperm(len(x)).split(64):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(x[batch]), target[batch]).backward()
            optimizer.step()
    return net.eval()


def random_perms(spec: PermutationSpec, seed: int = 1) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {g: torch.randperm(n, generator=generator) for g, n in spec.groups.items()}


def max_diff(a: torch.nn.Module, b: torch.nn.Module) -> float:
    """Max abs difference of the outputs on 64 digits, computed in float64 (no float32 rounding to hide in)."""
    x = digits()[0][:64].double()
    with torch.no_grad():
        return (copy.deepcopy(a).double()(x) - copy.deepcopy(b).double()(x)).abs().max().item()


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("arch", ARCHS)
def test_random_permutations_keep_the_function(arch):
    net = model(arch, trained=True)
    spec = permutation_spec(net, digits()[0][:2])
    permuted = permute(net, spec, random_perms(spec))
    assert not same_weights(permuted.state_dict(), net.state_dict())
    assert max_diff(permuted, net) < 1e-5


def test_the_spec_unifies_residuals_concatenates_skips_and_expands_flatten():
    x = digits()[0][:2]
    resnet = permutation_spec(model("resnet", False), x).axes
    assert resnet["layer1.conv2.weight"][0] == resnet["stem.0.weight"][0] == (("stem.0", 12, 1),)
    assert resnet["head.weight"] == (((None, 10, 1),), (("layer3.conv2", 48, 1),))  # layer3 has a conv shortcut
    unet = permutation_spec(model("unet", False), x).axes
    assert unet["dec.1.0.weight"][1] == (("up.1", 32, 1), ("enc.1.1.2", 32, 1))
    assert permutation_spec(model("cnn", False), x).axes["head.weight"][1] == (("stage3.1", 64, 9),)


def test_an_unknown_operation_is_rejected():
    with pytest.raises(ValueError, match="no permutation rule"):
        permutation_spec(torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4)), digits()[0][:2])


@pytest.mark.parametrize("trained", [False, True], ids=["random-init", "trained"])
@pytest.mark.parametrize("arch", ARCHS)
def test_weight_matching_recovers_a_known_permutation(arch, trained):
    net = model(arch, trained)
    x = digits()[0][:2]
    spec = permutation_spec(net, x)
    known = random_perms(spec)
    other = permute(net, spec, known)
    found = weight_matching(net.state_dict(), other.state_dict(), spec)
    assert all(torch.equal(found[g], torch.argsort(known[g])) for g in known)
    aligned = align(net, other, x)
    assert same_weights(aligned.state_dict(), net.state_dict())
    assert max_diff(aligned, net) == 0


def break_residual(spec: PermutationSpec) -> PermutationSpec:
    """Give resnet's first block output its own group, as if the `add` had not unified it with the stem's."""
    axes = dict(spec.axes)
    for key in ("layer1.conv2.weight", "layer1.conv2.bias"):
        axes[key] = ((("broken", 12, 1),), *axes[key][1:])
    return PermutationSpec(axes)


def break_concat(spec: PermutationSpec) -> PermutationSpec:
    """Swap the order of unet's concatenated skip and upsampled channels at the first decoder."""
    axes = dict(spec.axes)
    weight = axes["dec.1.0.weight"]
    axes["dec.1.0.weight"] = (weight[0], weight[1][::-1], *weight[2:])
    return PermutationSpec(axes)


@pytest.mark.parametrize(("arch", "breaker"), [("resnet", break_residual), ("unet", break_concat)])
def test_a_wrong_spec_fails_the_function_check(arch, breaker):
    net = model(arch, trained=True)
    spec = breaker(permutation_spec(net, digits()[0][:2]))
    assert max_diff(permute(net, spec, random_perms(spec)), net) > 1e-2


@pytest.mark.parametrize("arch", ARCHS)
def test_interpolating_with_the_aligned_copy_of_oneself_is_oneself(arch):
    net = model(arch, trained=True)
    x = digits()[0][:2]
    spec = permutation_spec(net, x)
    other = permute(net, spec, random_perms(spec))
    aligned = align(net, other, x)
    own = net.state_dict()
    assert same_weights(interpolate([own, aligned.state_dict()], [0.5, 0.5]), own)
    unaligned = create(arch, 1, 2 if arch in SEGMENTATION else 10)
    unaligned.load_state_dict(interpolate([own, other.state_dict()], [0.5, 0.5]))
    assert max_diff(unaligned.eval(), net) > 1e-2
