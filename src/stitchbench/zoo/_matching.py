"""Weight matching (Git Re-Basin, Ainsworth et al., ICLR 2023): permute one network's hidden units onto another's.

A network's hidden units can be permuted without changing its function. `permutation_spec` derives, with
torch.fx, which tensor axes share a permutation; `weight_matching` finds the permutations that make a received
network's weights most similar to the host's (Algorithm 1: coordinate descent, a linear assignment per group);
`align` returns the received network permuted so, and `interpolate` averages aligned weights.

The zoo's architectures have no BatchNorm, so a permuted or interpolated network has no statistics to recompute;
the derivation rejects any operation it does not know (BatchNorm included) rather than guess.
"""

import copy
import operator
from dataclasses import dataclass

import torch
from scipy.optimize import linear_sum_assignment
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp
from torch.nn import functional as F

# (group, units, repeat): `units * repeat` consecutive indices of an axis, index `u * repeat + r` belonging to unit
# `u` of `group` (repeat > 1 after a channel-major flatten); group None: never permuted.
Segment = tuple[str | None, int, int]
Axis = tuple[Segment, ...] | None  # None: a dimension that is not a channel axis (a kernel's spatial size)

# channelwise operations, which keep their input's channel axis
# fmt: off
KEEP_MODULES = (nn.ReLU, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Identity, nn.Dropout, nn.Upsample,
                nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d)
KEEP_FUNCTIONS = {torch.relu, F.relu, F.max_pool2d, F.avg_pool2d, F.adaptive_max_pool2d, F.adaptive_avg_pool2d,
                  F.interpolate, "relu"}
# fmt: on
UNIFY_FUNCTIONS = {operator.add, operator.sub, operator.mul, torch.add, torch.sub, torch.mul}


@dataclass(frozen=True)
class PermutationSpec:
    """Per state-dict key, one `Axis` per tensor dimension; `groups` maps each permutable group to its size."""

    axes: dict[str, tuple[Axis, ...]]

    @property
    def groups(self) -> dict[str, int]:
        return {g: n for axes in self.axes.values() for axis in axes if axis for g, n, _ in axis if g is not None}


def permutation_spec(model: nn.Module, example_input: torch.Tensor) -> PermutationSpec:
    """Trace `model`: each conv / linear output channel axis opens a group, elementwise and pooling layers keep
    it, `add` unifies its inputs' groups (union-find), `cat` on dim 1 concatenates them, flatten expands a channel
    over its positions; the input's and the output's channels are never permuted."""
    gm = fx.symbolic_trace(model)
    ShapeProp(gm).propagate(example_input)
    parent: dict[str | None, str | None] = {None: None}  # None: the class of never-permuted channels

    def find(g: str | None) -> str | None:
        while parent[g] != g:
            g = parent[g]
        return g

    def unify(a: Axis, b: Axis, node: fx.Node) -> None:
        if [s[1:] for s in a] != [s[1:] for s in b]:
            raise ValueError(f"{node.name}: cannot unify channel axes {a} and {b}")
        for (g, _, _), (h, _, _) in zip(a, b, strict=True):
            g, h = find(g), find(h)
            if g != h:  # the older class is the root (None, the never-permuted channels, the oldest)
                g, h = sorted((g, h), key=list(parent).index)
                parent[h] = g

    axes: dict[str, tuple[Axis, ...]] = {}
    channels: dict[fx.Node, Axis] = {}
    for node in gm.graph.nodes:
        inputs = node.all_input_nodes
        x = channels[inputs[0]] if inputs else None
        module = gm.get_submodule(node.target) if node.op == "call_module" else None
        function = node.target if node.op in ("call_function", "call_method") else None
        shape = node.meta.get("tensor_meta") and node.meta["tensor_meta"].shape
        if node.op == "placeholder":
            channels[node] = ((None, shape[1], 1),)
        elif isinstance(module, nn.Linear | nn.modules.conv._ConvNd):
            if getattr(module, "groups", 1) != 1 or f"{node.target}.weight" in axes:
                raise ValueError(f"{node.name}: grouped or shared layers are not supported")
            if isinstance(module, nn.Linear) and len(shape) != 2:
                raise ValueError(f"{node.name}: a linear layer's channels must be dim 1 (flatten first)")
            parent[node.target] = node.target
            channels[node] = out = ((node.target, shape[1], 1),)
            weight = (x, out) if getattr(module, "transposed", False) else (out, x)
            axes[f"{node.target}.weight"] = (*weight, *[None] * (module.weight.dim() - 2))
            if module.bias is not None:
                axes[f"{node.target}.bias"] = (out,)
        elif isinstance(module, KEEP_MODULES) or function in KEEP_FUNCTIONS:
            channels[node] = x
        elif isinstance(module, nn.Flatten) or function in (torch.flatten, "flatten"):
            before = inputs[0].meta["tensor_meta"].shape
            if tuple(shape) != (before[0], before[1:].numel()):
                raise ValueError(f"{node.name}: only a flatten of all dimensions after the batch is supported")
            channels[node] = tuple((g, n, r * before[2:].numel()) for g, n, r in x)
        elif function in UNIFY_FUNCTIONS:
            for other in inputs[1:]:
                unify(x, channels[other], node)
            channels[node] = x
        elif function is torch.cat and (node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")) == 1:
            channels[node] = tuple(s for a in node.args[0] for s in channels[a])
        elif node.op == "output":
            for a in inputs:
                unify(channels[a], tuple((None, n, r) for _, n, r in channels[a]), node)
        else:
            raise ValueError(f"{node.name}: no permutation rule for {node.op} {node.target}")
    for key, value in model.state_dict().items():
        axes.setdefault(key, (None,) * value.dim())
    rename = lambda a: a and tuple((find(g), n, r) for g, n, r in a)  # noqa: E731
    return PermutationSpec({key: tuple(rename(a) for a in value) for key, value in axes.items()})


def axis_index(axis: Axis, perms: dict[str, torch.Tensor]) -> torch.Tensor:
    """The gather index of an axis: position `u * repeat + r` of a segment takes `perms[group][u] * repeat + r`."""
    parts, offset = [], 0
    for g, n, r in axis:
        p = perms[g] if g in perms else torch.arange(n)
        parts.append((p[:, None] * r + torch.arange(r)).reshape(-1) + offset)
        offset += n * r
    return torch.cat(parts)


def permute_tensor(
    w: torch.Tensor, axes: tuple[Axis, ...], perms: dict[str, torch.Tensor], skip: int = -1
) -> torch.Tensor:
    """`w` gathered along each channel axis but `skip`."""
    for dim, axis in enumerate(axes):
        if axis and dim != skip:
            w = w.index_select(dim, axis_index(axis, perms))
    return w


def permute(
    model_or_state: nn.Module | dict[str, torch.Tensor], spec: PermutationSpec, perms: dict[str, torch.Tensor]
) -> nn.Module | dict[str, torch.Tensor]:
    """A permuted copy (module or state dict): unit `j` of a group becomes the old unit `perms[group][j]`."""
    if isinstance(model_or_state, nn.Module):
        model = copy.deepcopy(model_or_state)
        model.load_state_dict(permute(model.state_dict(), spec, perms))
        return model
    return {k: permute_tensor(w, spec.axes[k], perms) for k, w in model_or_state.items()}


def weight_matching(
    host_state: dict[str, torch.Tensor],
    other_state: dict[str, torch.Tensor],
    spec: PermutationSpec,
    max_iter: int = 100,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Permutations of `other`'s groups maximising sum_W <W_host, perm(W_other)> (Ainsworth et al., Algorithm 1):
    groups in random order, each solved as a linear assignment given the others, until none improves."""
    sizes = spec.groups
    perms = {g: torch.arange(n) for g, n in sizes.items()}
    touching = {g: [] for g in sizes}  # group -> (key, dim, offset, repeat) of each segment it owns
    for key, axes in spec.axes.items():
        for dim, axis in enumerate(axes):
            offset = 0
            for g, n, r in axis or ():
                if g is not None:
                    touching[g].append((key, dim, offset, r))
                offset += n * r
    units = lambda w, dim, offset, n, r: w.movedim(dim, 0)[offset : offset + n * r].reshape(n, -1).double()  # noqa: E731
    generator = torch.Generator().manual_seed(seed)
    names = list(sizes)
    for _ in range(max_iter):
        improved = False
        for i in torch.randperm(len(names), generator=generator).tolist():
            g, n = names[i], sizes[names[i]]
            gain = torch.zeros(n, n, dtype=torch.float64)
            for key, dim, offset, r in touching[g]:
                other = permute_tensor(other_state[key], spec.axes[key], perms, skip=dim)
                gain += units(host_state[key], dim, offset, n, r) @ units(other, dim, offset, n, r).T
            new = torch.as_tensor(linear_sum_assignment(gain.numpy(), maximize=True)[1])
            rows = torch.arange(n)
            if gain[rows, new].sum() > gain[rows, perms[g]].sum() + 1e-12:
                perms[g], improved = new, True
        if not improved:
            break
    return perms


def align(
    host: nn.Module, other: nn.Module, example_input: torch.Tensor, max_iter: int = 100, seed: int = 0
) -> nn.Module:
    """`other` with its hidden units permuted to match `host`'s (same architecture); it computes what `other` does."""
    spec = permutation_spec(host, example_input)
    return permute(other, spec, weight_matching(host.state_dict(), other.state_dict(), spec, max_iter, seed))


def interpolate(states: list[dict[str, torch.Tensor]], weights: list[float]) -> dict[str, torch.Tensor]:
    """sum_i weights[i] * states[i], key by key."""
    if any(s.keys() != states[0].keys() for s in states):
        raise ValueError("the state dicts to interpolate have different keys")
    return {k: sum(w * s[k] for w, s in zip(weights, states, strict=True)) for k in states[0]}
