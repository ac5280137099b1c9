"""`merge`: the host merges the weights of its members (one architecture) after aligning every received
model's hidden units to its own by weight matching (Git Re-Basin, Ainsworth et al., ICLR 2023;
`stitchbench.zoo._matching`); docs/method.md."""

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import Field

from stitchbench.errors import InputError
from stitchbench.moo._api import Variable
from stitchbench.moo._scoring import normalize
from stitchbench.zoo import Zoo, build_model
from stitchbench.zoo._matching import align, interpolate

from ._oneshot import OneShotProblem


class MergeProblem(OneShotProblem):
    """Variables on a grid: `w.<member>` (each member's weight, normalized onto the simplex: theta = sum_i
    w_i pi_i(theta_i); all zero is the uniform merge) and `align` (1: each received model permuted to the
    host's units first; 0: plain interpolation, the control that shows what alignment buys). The models
    have no batch statistics to recompute (`stitchbench.zoo._architectures`). Nothing trains: a cell is one
    merged network."""

    family = "merge"
    variable_kinds = frozenset({"real", "binary"})
    summary = (
        "variables: w.<member> real [0, 1] on a grid (normalized), align binary (weight matching or not); "
        "objectives: score on each party (max); members of one architecture"
    )

    @classmethod
    def check_params(cls, scenario, zoo_archs, params):
        super().check_params(scenario, zoo_archs, params)
        if len(set(params.get("archs") or [])) > 1:
            raise InputError(f"merge needs members of one architecture, got archs {params['archs']!r}")

    def __init__(
        self,
        zoo: Zoo,
        host: str,
        archs: list[str] | None = None,
        zoo_seed: int = 0,
        weight_levels: Annotated[int | None, Field(ge=2, le=21)] = None,
        cache_dir: Path | None = None,
    ):
        self.weight_levels = weight_levels
        super().__init__(zoo, host, archs, zoo_seed, None, cache_dir)

    def grid_variables(self) -> list[Variable]:
        levels = self.weight_levels or (6 if len(self.records) == 2 else 3)
        parties = [r.kind.split(":", 1)[1] for r in self.records]
        return [*(Variable(f"w.{p}", "real", 0.0, 1.0, levels=levels) for p in parties), Variable("align", "binary")]

    def networks(self, cells) -> Iterator:
        host = self.zoo.module(self.records[0])
        example = self.zoo.scenario.example().to(self.zoo.device)
        received = [self.zoo.module(r) for r in self.records[1:]]
        models = {0: [host, *received], 1: [host, *(align(host, m, example) for m in received)]}
        names = [v.name for v in self.variables[:-1]]
        W = normalize(np.array([[c[n] for n in names] for c in cells], dtype=float))
        groups: dict[tuple, list[int]] = {}
        for i, (w, c) in enumerate(zip(W, cells, strict=True)):
            aligned = c["align"] if (w[1:] > 0).any() else 0  # the host alone needs no alignment
            groups.setdefault((tuple(np.round(w, 12)), aligned), []).append(i)
        config = self.records[0].manifest["config"]
        for (w, aligned), indices in groups.items():
            state = interpolate([m.state_dict() for m in models[aligned]], list(w))
            yield indices, build_model(config, state, "the merged weights").to(self.zoo.device)
