"""The paper's sections of a run's report: the headline (claim 4's s* against every reference) and the claims
check, each claim with its verdict and the numbers behind it."""

from pathlib import Path

import pandas as pd

from stitchbench.moo._instance import ProblemInstance
from stitchbench.results._render import Block
from stitchbench.results._tables import fmt

from ._bootstrap import FAILS, HOLDS, INCONCLUSIVE, INTERVAL, LEVEL, NEAR, NOT_APPLICABLE, NOT_TESTED, RESAMPLES_NEAR
from ._claim4 import POINT
from ._figures import gaps_figure
from ._headline import headline, verdicts
from ._records import (
    Bootstrap,
    Claim4Check,
    Claim5Check,
    Claim5Seed,
    ClaimsRecord,
    HeldOutTest,
    ReferenceCheck,
    ScenarioClaims,
)
from .claim4_size import methods_note


def claims_methods() -> str:
    """How the claims are decided, its thresholds read from `bootstrap`'s constants."""
    return (
        "Each claim is HOLDS, FAILS or INCONCLUSIVE from a paired bootstrap of the test samples (and of the zoo "
        f"seeds, for claims 1-3): HOLDS where its condition is met on at least {LEVEL:.0%} of resamples, FAILS at "
        f"{1 - LEVEL:.0%} or less (claim 4 also where no stitched candidate is eligible on val or its selected one "
        f"fails on test), with each fraction's Monte Carlo SE; a fraction within {NEAR:g} SE of a cut is "
        f"re-estimated with {RESAMPLES_NEAR:,} resamples and, still that close, INCONCLUSIVE. Claim 4 selects one "
        "stitched candidate on val and tests only it on test; claim 5 does the same against each one-shot family's "
        "val-chosen front in place of the output ensembles."
    )


CSS = {HOLDS: "pass", FAILS: "fail", INCONCLUSIVE: "inconclusive", NOT_TESTED: "untested", NOT_APPLICABLE: "untested"}


def claim_items(data: ScenarioClaims) -> list[dict]:
    """One scenario's claims as items: id, name, verdict, css class, and one line per check."""
    return [
        {
            "id": c.id,
            "name": c.name,
            "verdict": c.verdict,
            "css": CSS[c.verdict],
            "checks": [describe_check(chk) for chk in c.checks],
        }
        for c in data.claims
    ]


def fraction_text(boot: Bootstrap) -> str:
    return f"{boot.fraction:.1%} ± {boot.se:.1%} of {boot.resamples:,} bootstrap resamples"


def describe_check(c: ReferenceCheck | Claim4Check | Claim5Check) -> str:
    if isinstance(c, Claim4Check):
        return f"host {c.host}: {c.verdict}. " + "; ".join(describe_claim4_seed(r) for r in c.per_seed)
    if isinstance(c, Claim5Check):
        seeds = "; ".join(describe_claim5_seed(r, c.family) for r in c.per_seed)
        return f"host {c.host} against {c.family}: {c.verdict}. {seeds}"
    who = c.party + (f" vs {c.other}" if c.other else "") + (f" on {c.on}" if c.on else "")
    if c.verdict == NOT_APPLICABLE:
        return f"{who}: not applicable ({c.reason})"
    a, b = c.a, c.b
    return (
        f"{who}: {a.reference} on {a.on} {fmt(a.score)} − {b.reference} on {b.on} {fmt(b.score)} "
        f"= {c.diff_points:+.1f} points; needs {c.rule}; met in {fraction_text(c.bootstrap)}: {c.verdict}"
    )


def describe_claim4_seed(r: HeldOutTest, E: str = "E") -> str:
    """One zoo seed of claim 4 (of claim 5 with `E` naming the family's front)."""
    if r.selected is None:
        return f"zoo seed {r.zoo_seed}: {r.verdict} ({r.reason})"
    d = r.selected
    need = ", ".join(f"{k} ≥ {fmt(v)}" for k, v in r.required.items())
    got = ", ".join(f"{k} {fmt(v)}" for k, v in r.point.items())
    w = ", ".join(f"{k} {v:.2f}" for k, v in d.weights.items())
    found = f"{d.source.solver} seed {d.source.seed}" if d.source else "the exact enumeration"
    boot = f"; held in {fraction_text(r.bootstrap)} ({LEVEL:.0%} needed)" if r.bootstrap else ""
    why = f" ({r.reason})" if r.reason else ""
    return (
        f"zoo seed {r.zoo_seed}: {r.verdict}{why}. s* = {d.instance}, point {d.point}, evaluated alpha "
        f"{d.alpha:.3f}, weights {w}, {d.method or 'stitches'}, found by {found}; val margin "
        f"{r.val_margin / POINT:+.2f} points ({r.eligible} eligible of {r.stitched_points} val-chosen "
        f"stitched candidates; {E}: {r.rival_points} points, "
        f"{'exact' if r.rival_exact else 'approximate'}); on test {got}, needs {need}, "
        f"{f'met with no point of {E} dominating it' if r.holds_on_point_estimate else 'not met'}{boot}; "
        f"HV(S ∪ {E}) − HV({E}) on test {r.hv_gain:.4f}, HV(S ∪ {E}) − HV(S) {r.hv_rival_gain:.4f}"
    )


def describe_claim5_seed(r: Claim5Seed, family: str) -> str:
    text = describe_claim4_seed(r, family)
    if r.family_point is None:
        return text
    b = r.family_point
    got = ", ".join(f"{k} {fmt(v)}" for k, v in b.point.items())
    gap = ", ".join(f"{k} {v:+.1f}" for k, v in b.gap_to_merged_points.items())
    return f"{text}; {family}'s own val-chosen point {b.decision}: on test {got} (gap to merged: {gap} points)"


def tally(verdicts: list[str]) -> str:
    """E.g. "of 4 hosts, 1 holds, 2 fail, 1 is inconclusive"."""
    words = {HOLDS: ("holds", "hold"), FAILS: ("fails", "fail"), INCONCLUSIVE: ("is inconclusive", "are inconclusive")}
    words |= {NOT_TESTED: ("is not tested", "are not tested")}
    parts = [f"{n} {words[v][n != 1]}" for v in words if (n := verdicts.count(v))]
    return f"of {len(verdicts)} host{'s' if len(verdicts) != 1 else ''}, " + ", ".join(parts)


def answers(claims: ClaimsRecord) -> list[str]:
    """One sentence per question the study asks (claims 4 and 5), counting hosts over every scenario."""
    checks: dict[int, list] = {4: [], 5: []}
    for data in claims.scenarios.values():
        for c in data.claims:
            checks.get(c.id, []).extend(c.checks)
    out = []
    if checks[4]:
        four = tally([c.verdict for c in checks[4]])
        out.append(f"**Do stitches improve on output ensembles (claim 4)?** {four[0].upper()}{four[1:]}.")
    families = list(dict.fromkeys(c.family for c in checks[5]))
    if families:
        each = [f"against {f}, {tally([c.verdict for c in checks[5] if c.family == f])}" for f in families]
        out.append(f"**Do stitches improve on the one-shot alternatives (claim 5)?** Against {'; '.join(each)[8:]}.")
    return out


def gap_figures(claims: ClaimsRecord, figdir: Path) -> list[Block]:
    """Per scenario with gaps, its headline figure (`figures.gaps_figure`)."""
    return [
        Block("figure", path=gaps_figure(scenario, pd.DataFrame([g.model_dump() for g in data.gaps]), figdir))
        for scenario, data in claims.scenarios.items()
        if data.gaps
    ]


def headline_blocks(claims: ClaimsRecord, baselines: pd.DataFrame, instances, figdir: Path) -> list[Block]:
    """The headline: the answers, the gap figures, then (claim 4's stitched point against every reference, mean
    ± SE over zoo seeds) per scenario its table, without the columns of other scenarios' parties, and its
    paragraph; nothing where no stitch-ensemble was tested."""
    table = headline(claims, baselines, instances)
    if not len(table):
        return []
    text = verdicts(claims, baselines, instances)
    blocks = [
        Block("heading", "Headline"),
        *(Block("para", sentence) for sentence in answers(claims)),
        Block(
            "para",
            "Each method's val-chosen point against merged data, per host and party on test (s*: claim 4's stitched "
            "point; a one-shot family's: its val-front point of highest mean val score), averaged over zoo seeds "
            f"per test sample, with {INTERVAL[1] - INTERVAL[0]:g}% percentile intervals from resampling the test "
            "samples.",
        ),
        *gap_figures(claims, figdir),
        Block(
            "para",
            "Per scenario and host, the stitched candidate s* claim 4 selects on val (the eligible one of largest "
            "val margin, or the closest where none is eligible), scored on test: its gap to merged data per party "
            "(in points), whether it strictly dominates FedAvg, FedProx and the uniform ensemble (zoo seeds where "
            "it does), claim 4's verdict with each zoo seed's bootstrap fraction and Monte Carlo SE, and the "
            "hypervolume S adds to E on test; mean ± SE over zoo seeds.",
        ),
    ]
    for scenario, rows in table.groupby("scenario", sort=False):
        rows = rows.loc[:, (rows != "—").any()]  # another scenario's parties: no value here
        blocks += [Block("table", table=rows)]
        if scenario in text:
            blocks.append(Block("para", f"**{scenario}.** {text[scenario]}"))
    return blocks


def claims_blocks(
    claims: ClaimsRecord, baselines: pd.DataFrame, instances: dict[str, ProblemInstance], figdir: Path
) -> list[Block]:
    """The headline, then the claims check per scenario with its methods note."""
    blocks = headline_blocks(claims, baselines, instances, figdir)
    blocks.append(Block("heading", "Claims check"))
    blocks.append(Block("para", claims_methods() + " " + methods_note(), note=True))
    for scenario, data in claims.scenarios.items():
        blocks.append(Block("heading", f"Claims on {scenario} (test split, zoo seeds {data.seeds})", level=3))
        blocks.append(Block("claims", items=claim_items(data)))
    return blocks
