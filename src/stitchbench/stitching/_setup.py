"""A host's stitching setup: members from the zoo (the host's own model first), traced and matched, with
their stitch set trained by the host on its own training split and stored like a model."""

from dataclasses import dataclass
from pathlib import Path

from stitchbench._artifacts import Artifact, ArtifactStore, IntegrityError, default_cache_dir
from stitchbench.data import Split
from stitchbench.errors import InputError, unknown
from stitchbench.zoo import ModelRecord, Zoo, seeded
from stitchbench.zoo._recipe import eval_key
from stitchbench.zoo._training import one_thread

from ._networks import Members, StitchSet
from ._training import METHODS, StitchRecipe, train_stitches

STITCH_FORMAT = 3  # bumped when training changes its results (2: matmul stitches, fused Adam; 3: one thread)


@dataclass
class StitchSetup:
    zoo: Zoo
    host: str
    records: list[ModelRecord]
    members: Members
    stitches: StitchSet
    method: str
    manifest: dict
    path: Path

    @property
    def artifact(self) -> Artifact:
        return Artifact(self.path, self.manifest)

    @property
    def member_names(self) -> list[str]:
        return [f"{r.kind}/{r.arch}" for r in self.records]


def member_records(
    zoo: Zoo, host: str, archs: list[str] | None = None, seed: int = 0, partners: list[str] | None = None
) -> list[ModelRecord]:
    """The host's local model first, then the partners' local models (default: every other party's);
    `archs` gives one architecture per member."""
    names = zoo.scenario.party_names
    if host not in names:
        raise unknown("host party", host, names)
    for p in partners or []:
        if p not in names or p == host:
            raise unknown("partner party", p, [n for n in names if n != host])
    order = [host] + (partners or [p for p in names if p != host])
    archs = archs or [zoo.records[0].arch] * len(order)
    if len(archs) != len(order):
        raise InputError(f"{len(archs)} member architectures given for {len(order)} members")
    return [zoo.get(f"local:{p}", a, seed) for p, a in zip(order, archs, strict=True)]


def host_training_data(zoo: Zoo, host: str) -> Split:
    """The only data stitch training ever sees: the host's own training split."""
    return zoo.scenario.party(host).split("train")


def stitch_setup(
    zoo: Zoo,
    host: str,
    method: str = "double-batched",
    archs: list[str] | None = None,
    seed: int = 0,
    recipe: dict | None = None,
    cache_dir: Path | None = None,
    partners: list[str] | None = None,
) -> StitchSetup:
    """Trace the members, then load or train (host data only) their stitch set, on the zoo's device."""
    if method not in METHODS:
        raise unknown("stitch training method", method, METHODS)
    records = member_records(zoo, host, archs, seed, partners)
    rec = StitchRecipe(**(recipe or {}))
    data = host_training_data(zoo, host)
    members = Members([r.module for r in records], data.x[:4], zoo.device, zoo.eval_batch_size)
    config = {
        "format": STITCH_FORMAT,
        "scenario": zoo.scenario.identity(),
        "host": host,
        "parents": [r.sha256 for r in records],
        "points": members.point_names,
        "method": method,
        "recipe": rec.model_dump(),
        "seed": seed,
        **eval_key(zoo.eval_batch_size),
    }

    def build():
        with one_thread():
            x, y = data.x.to(zoo.device), data.y.to(zoo.device)
            trained = train_stitches(members, x, y, zoo.scenario.task, method, rec, seed)
        return trained.state_dict(), {"host": host, "touched": [host]}

    store = ArtifactStore(cache_dir or default_cache_dir(), "stitches", zoo.device.type)
    artifact = store.get_or_build(config, build)
    with seeded(None):  # its initial weights are replaced: they need not draw from the global RNG
        stitches = StitchSet(members.points, len(members)).to(zoo.device)
    try:
        stitches.load_state_dict(artifact.tensors())
    except RuntimeError as e:
        raise IntegrityError(f"stitch set {artifact.path} does not fit its members: {str(e).splitlines()[0]}") from e
    for p in stitches.parameters():
        p.requires_grad_(False)
    return StitchSetup(zoo, host, records, members, stitches.eval(), method, artifact.manifest, artifact.path)
