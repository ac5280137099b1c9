"""Reference points in objective space: local models, merged, FedAvg, FedProx, uniform output ensemble."""

from collections.abc import Sequence

import numpy as np
import torch

from stitchbench._artifacts import ArtifactStore
from stitchbench.moo._api import Objective
from stitchbench.moo._scoring import WeightedScores, weighted_scores
from stitchbench.stitching import count_flops
from stitchbench.zoo import ModelRecord, Zoo


def reference_models(
    zoo: Zoo, arch: str, seed: int, members: Sequence[ModelRecord] = ()
) -> dict[str, list[ModelRecord]]:
    """Each reference as the models it averages: one model, or several for the uniform ensemble.

    References are the zoo's models of `arch`; where a problem combines `members` (of any architectures),
    each member is its party's local reference and "ensemble" is their uniform ensemble. Without members,
    "ensemble" averages every party's local model."""
    refs: dict[str, list[ModelRecord]] = {}
    for r in zoo.records:
        if r.arch == arch and r.seed == seed:
            refs[r.kind] = [r]
    refs.update({r.kind: [r] for r in members})
    ensemble = list(members) or [refs[f"local:{p}"][0] for p in zoo.scenario.party_names if f"local:{p}" in refs]
    if members or len(ensemble) == len(zoo.scenario.parties):
        refs["ensemble"] = ensemble
    return refs


FLOPS_FORMAT = 1  # bumped when what `count_flops` counts changes (torch's own version is in the key too)


def model_flops(zoo: Zoo, record: ModelRecord, example: torch.Tensor) -> int:
    """FLOPs per sample of one of the zoo's models, memoized in the zoo and stored in its cache (by the
    model's content address and input shape, torch's version and FLOPS_FORMAT): counting runs torch's
    FlopCounterMode, whose first use in a process imports torch._dynamo (about 2 s)."""
    key = ("flops", record.artifact.key)
    if key not in zoo.memo:

        def build() -> tuple[dict[str, torch.Tensor], dict]:
            return {"flops": torch.tensor([count_flops(record.module, example[:1])], dtype=torch.int64)}, {}

        if zoo.cache_dir is None:
            tensors = build()[0]
        else:
            config = {"format": FLOPS_FORMAT, "torch": torch.__version__, "model": record.artifact.key}
            config["input"] = list(example.shape[1:])
            tensors = ArtifactStore(zoo.cache_dir, "flops").get_or_build(config, build).tensors()
        zoo.memo[key] = int(tensors["flops"][0])
    return zoo.memo[key]


def ensemble_scorer(zoo: Zoo, records: Sequence[ModelRecord], party: str, split: str) -> WeightedScores:
    """The scorer of weighted output ensembles of the zoo's `records` on a party's split, memoized in the zoo
    (by the models' content addresses): it lives as long as the zoo does."""
    key = ("scorer", tuple(r.artifact.key for r in records), party, split)
    if key not in zoo.memo:
        probs = torch.stack([zoo.probs(r, party, split) for r in records]).numpy()
        zoo.memo[key] = weighted_scores(probs, zoo.scenario.party(party).split(split).y.numpy(), zoo.scenario.metric)
    return zoo.memo[key]


def ensemble_scores(zoo: Zoo, records: Sequence[ModelRecord], weights: np.ndarray, party: str, split: str):
    """Scores of weighted output ensembles: weights (B, M) -> (B,)."""
    return ensemble_scorer(zoo, records, party, split)(weights)


def baseline_samples(
    zoo: Zoo, parties: Sequence[str], split: str, arch: str, seed: int = 0, members: Sequence[ModelRecord] = ()
) -> dict[str, list[np.ndarray]]:
    """Each reference model's per-sample scores on every party's `split`: {reference: [(N_party,) per party]}
    (a split's score is their mean, so claims can bootstrap them)."""
    return {
        name: [
            ensemble_scorer(zoo, records, p, split).samples(np.full((1, len(records)), 1 / len(records)))[0]
            for p in parties
        ]
        for name, records in reference_models(zoo, arch, seed, members).items()
    }


class ZooBaselines:
    """Baselines of a live family from its zoo's reference models (`reference_models`): the family names
    them with `reference_spec()` (architecture, zoo seed, the models it combines)."""

    def reference_spec(self) -> tuple[str, int, Sequence[ModelRecord]]:
        raise TypeError(f"{type(self).__name__} names no reference models")

    def baselines(self, split: str = "test") -> dict[str, np.ndarray]:
        return baseline_vectors(self.zoo, self.objectives, split, *self.reference_spec())

    def reference_samples(self, split: str = "test") -> dict[str, list[np.ndarray]]:
        return baseline_samples(self.zoo, self.parties(), split, *self.reference_spec())


def baseline_vectors(
    zoo: Zoo,
    objectives: Sequence[Objective],
    split: str,
    arch: str,
    seed: int = 0,
    members: Sequence[ModelRecord] = (),
) -> dict[str, np.ndarray]:
    """Each reference model's objective vector on `split` (cost: FLOPs per sample of the models it runs)."""
    out = {}
    example = zoo.scenario.example()
    for name, records in reference_models(zoo, arch, seed, members).items():
        w = np.full((1, len(records)), 1 / len(records))
        out[name] = np.array(
            [
                ensemble_scores(zoo, records, w, o.party, split)[0]
                if o.party
                else float(sum(model_flops(zoo, r, example) for r in records))
                for o in objectives
            ],
            dtype=float,
        )
    return out
