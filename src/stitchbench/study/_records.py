"""The claims check's records, as `claims.json` holds them: frozen, strict, unknown keys refused. Written with
`dump` (fields that are None are left out, as the check leaves out what it did not compute) and read with
`ClaimsRecord.read`."""

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, ValidationError

from stitchbench.errors import InputError, explain

from ._bootstrap import FAILS, HOLDS, INCONCLUSIVE, NOT_APPLICABLE, NOT_TESTED, Fraction

Verdict = Literal[HOLDS, FAILS, INCONCLUSIVE, NOT_TESTED, NOT_APPLICABLE]


class Record(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, ser_json_inf_nan="constants")

    def dump(self) -> dict[str, Any]:
        """The record as JSON-able data, without the fields that are None."""
        return self.model_dump(mode="json", exclude_none=True)


class Bootstrap(Record):
    """A bootstrap fraction: the share of resamples on which a condition held, its Monte Carlo SE."""

    fraction: float
    se: float
    resamples: int

    @classmethod
    def of(cls, f: Fraction) -> "Bootstrap":
        return cls(fraction=f.value, se=f.se, resamples=f.resamples)


class Side(Record):
    """One side of a claim 1-3 comparison: a reference model's mean score on a party's test data."""

    reference: str
    on: str
    score: float


class ReferenceCheck(Record):
    """One check of claims 1-3: d = score(a) - score(b) against a rule, or N/A with its reason."""

    party: str
    other: str | None = None  # claim 2: the other party, whose data local `party` is scored on
    on: str | None = None  # claim 3: the party whose data both sides are scored on
    a: Side | None = None
    b: Side | None = None
    diff_points: float | None = None
    rule: str | None = None
    holds_on_point_estimate: bool | None = None
    bootstrap: Bootstrap | None = None
    verdict: Verdict
    reason: str | None = None


class Source(Record):
    """The job that found a live stitched candidate."""

    job: str
    solver: str
    seed: int


class Selected(Record):
    """s*: a stitched candidate's decision (its instance, stitch point, evaluated alpha, member weights, the
    alpha as given and the job that found it where live), its training method and its instance's parameters."""

    instance: str
    point: str
    alpha: float
    weights: dict[str, float]
    alpha_raw: float | None = None
    source: Source | None = None
    method: str
    params: dict[str, Any]


class HeldOutTest(Record):
    """Claim 4's held-out test on one zoo seed against a rival front (`RIVAL` names it in the record's keys);
    only `zoo_seed`, `verdict` and `reason` where it was not tested."""

    RIVAL: ClassVar[str]
    zoo_seed: int
    verdict: Verdict
    reason: str | None = None
    instances: list[str] | None = None
    stitched_points: int | None = None
    eligible: int | None = None
    members: list[str] | None = None
    selected: Selected | None = None
    val_margin: float | None = None
    required_val: dict[str, float] | None = None
    required: dict[str, float] | None = None
    point_val: dict[str, float] | None = None
    point: dict[str, float] | None = None
    holds_on_point_estimate: bool | None = None
    stitched_exact: bool | None = None
    hv_gain: float | None = None  # HV(S ∪ rival) - HV(rival) on test
    hv_rival_gain: float | None = None  # HV(S ∪ rival) - HV(S) on test
    bootstrap: Bootstrap | None = None

    @property
    def rival_points(self) -> int:
        return getattr(self, f"{self.RIVAL}_points")

    @property
    def rival_exact(self) -> bool:
        return getattr(self, f"{self.RIVAL}_exact")


class Claim4Seed(HeldOutTest):
    """Claim 4 on one zoo seed: s* against the weighted output ensembles E."""

    RIVAL: ClassVar[str] = "ensemble"
    ensemble_points: int | None = None
    ensemble_exact: bool | None = None


class FamilyPoint(Record):
    """A one-shot family's own val-chosen point: its decision, test scores and gap to merged data (points)."""

    decision: dict[str, Any]
    point: dict[str, float]
    gap_to_merged_points: dict[str, float]


class Claim5Seed(HeldOutTest):
    """Claim 5 on one zoo seed: s* against a one-shot family's val front, and the family's own point."""

    RIVAL: ClassVar[str] = "family"
    family_points: int | None = None
    family_exact: bool | None = None
    family_point: FamilyPoint | None = None


class Claim4Check(Record):
    """Claim 4 for a host over its zoo seeds."""

    host: str
    verdict: Verdict
    per_seed: list[Claim4Seed]


class Claim5Check(Record):
    """Claim 5 for a host and one-shot family over its zoo seeds."""

    host: str
    family: str
    verdict: Verdict
    per_seed: list[Claim5Seed]


def check_kind(check: Any) -> str:
    """Which check a record (or its JSON) is: claim 5's names a family, claim 4's has zoo seeds, claims 1-3's
    neither; so a bad check's error names the fields of its own kind."""
    keys = check if isinstance(check, dict) else check.__dict__
    return "claim5" if "family" in keys else "claim4" if "per_seed" in keys else "reference"


Check = Annotated[
    Annotated[ReferenceCheck, Tag("reference")]
    | Annotated[Claim4Check, Tag("claim4")]
    | Annotated[Claim5Check, Tag("claim5")],
    Discriminator(check_kind),
]


class Claim(Record):
    """One claim's verdict on a scenario, with its checks (all must hold)."""

    id: int
    name: str
    verdict: Verdict
    checks: list[Check]


class Gap(Record):
    """A method's val-chosen point against merged data for a host and party on test: the mean gap (points),
    its 95% interval and the zoo seeds it averages (the headline figure)."""

    host: str
    method: str
    party: str
    gap: float
    lo: float
    hi: float
    zoo_seeds: int


class ScenarioClaims(Record):
    """A scenario's claims: its zoo seeds, those with reference models (claims 1-3), the claims, the gaps."""

    seeds: list[int]
    reference_seeds: list[int]
    claims: list[Claim]
    gaps: list[Gap] = []

    def claim(self, cid: int) -> Claim | None:
        return next((c for c in self.claims if c.id == cid), None)


class BootstrapSettings(Record):
    resamples: int
    resamples_near: int
    level: float
    near_se: float
    seed: int


class ClaimsRecord(Record):
    """`claims.json`: the claims check of a run, on the test split, per scenario."""

    split: Literal["test"]
    point: float
    alpha_min: float
    bootstrap: BootstrapSettings
    scenarios: dict[str, ScenarioClaims]

    @classmethod
    def read(cls, path: Path) -> "ClaimsRecord":
        """The record in `path`; an InputError naming what is wrong where it holds no claims record."""
        try:
            return cls.model_validate_json(path.read_bytes())
        except ValidationError as e:
            raise InputError(f"{path} is not a claims record ({explain(e)[:300]})") from None
