"""The report's headline: per scenario and host, claim 4's stitched point against merged, FedAvg, FedProx and
the uniform ensemble, mean ± SE over zoo seeds, and the plain-words verdict generated from those numbers."""

import pandas as pd

from stitchbench.study._headline import headline, verdicts
from stitchbench.study._records import ClaimsRecord

from .test_leaderboard import record

SELECTED = {"point": "p", "alpha": 0.5, "weights": {}, "method": "", "params": {}}  # what the headline does not read
SETTINGS = {"resamples": 2000, "resamples_near": 20_000, "level": 0.95, "near_se": 3.0, "seed": 0}


def typed(claims: dict) -> ClaimsRecord:
    """The tests' partial claims as a record, the fields the headline does not read filled in."""

    def seed_of(r: dict) -> dict:
        return r | ({"selected": SELECTED | r["selected"]} if "selected" in r else {})

    def claim_of(c: dict) -> dict:
        checks = [{"host": "A"} | k | {"per_seed": [seed_of(r) for r in k.get("per_seed", [])]} for k in c["checks"]]
        return {"name": "", "verdict": "HOLDS"} | c | {"checks": checks}

    scenarios = {
        name: {"seeds": [0], "reference_seeds": [], "claims": [claim_of(c) for c in data.get("claims", [])]}
        | {"gaps": data.get("gaps", [])}
        for name, data in claims["scenarios"].items()
    }
    record = {"split": "test", "point": 0.01, "alpha_min": 0.05, "bootstrap": SETTINGS, "scenarios": scenarios}
    return ClaimsRecord.model_validate(record)


BASE = {"merged": (0.96, 0.93), "fedavg": (0.94, 0.89), "fedprox": (0.96, 0.85), "ensemble": (0.90, 0.90)}


def seed(zoo_seed: int, point: tuple[float, float], holds: bool) -> dict:
    return {
        "verdict": "HOLDS" if holds else "FAILS",
        "zoo_seed": zoo_seed,
        "selected": {"instance": f"i{zoo_seed}"},
        "point": {"A": point[0], "B": point[1]},
        "bootstrap": {"fraction": 0.99 if holds else 0.03, "se": 0.002 if holds else 0.004, "resamples": 2000},
        "hv_gain": 0.01,
    }


def inputs(points, holds):
    per_seed = [seed(k, p, h) for k, (p, h) in enumerate(zip(points, holds, strict=True))]
    claims = {
        "scenarios": {"S": {"claims": [{"id": 4, "checks": [{"host": "A", "verdict": "HOLDS", "per_seed": per_seed}]}]}}
    }
    rows = [
        (f"i{k}", "test", name, o, v[j])
        for k in range(len(points))
        for name, v in BASE.items()
        for j, o in enumerate("AB")
    ]
    baselines = pd.DataFrame(rows, columns=["instance", "split", "baseline", "objective", "value"])
    return claims, baselines, {f"i{k}": record(f"i{k}") for k in range(len(points))}


def test_the_headline_compares_the_stitched_point_with_every_reference():
    claims, baselines, instances = inputs([(0.95, 0.90), (0.97, 0.92)], [True, True])
    row = headline(typed(claims), baselines, instances).iloc[0]
    assert row["stitched on A (test)"] == "0.960 ± 0.010" and row["zoo seeds"] == 2
    assert row["gap to merged on A (points)"] == "0.0 ± 1.0" and row["gap to merged on B (points)"] == "-2.0 ± 1.0"
    assert row["strictly dominates fedavg"] == "2/2" and row["strictly dominates fedprox"] == "1/2"
    assert row["strictly dominates ensemble"] == "2/2" and row["claim 4"] == "HOLDS (2 HOLDS of 2 zoo seeds)"
    text = verdicts(typed(claims), baselines, instances)["S"]
    assert "scores A 0.960, B 0.910 on test, 2.0 points below merged data on B" in text
    assert "strictly dominates fedavg and ensemble on every zoo seed; fedprox on some zoo seeds only." in text
    assert "Claim 4 HOLDS (2 HOLDS of 2 zoo seeds; bootstrap fractions 99.0% ± 0.2%, 99.0% ± 0.2%)." in text


def test_the_headline_says_fail_and_what_is_not_dominated():
    claims, baselines, instances = inputs([(0.93, 0.88)], [False])
    row = headline(typed(claims), baselines, instances).iloc[0]
    assert row["claim 4"] == "FAILS (1 FAILS of 1 zoo seed)" and row["strictly dominates fedavg"] == "0/1"
    text = verdicts(typed(claims), baselines, instances)["S"]
    assert "It strictly dominates none of fedavg, fedprox, ensemble." in text
    assert "Claim 4 FAILS (1 FAILS of 1 zoo seed; bootstrap fractions 3.0% ± 0.4%)." in text


def test_an_untested_zoo_seed_is_counted_and_hides_no_failure():
    claims, baselines, instances = inputs([(0.95, 0.90), (0.97, 0.92)], [True, True])
    per_seed = claims["scenarios"]["S"]["claims"][0]["checks"][0]["per_seed"]
    per_seed.append({"verdict": "NOT TESTED", "zoo_seed": 2, "reason": "no stitched candidate"})
    row = headline(typed(claims), baselines, instances).iloc[0]
    assert row["zoo seeds"] == 3 and row["claim 4"] == "HOLDS (2 HOLDS, 1 NOT TESTED of 3 zoo seeds)"
    assert row["strictly dominates fedavg"] == "2/2"
    text = verdicts(typed(claims), baselines, instances)["S"]
    assert "(2 zoo seeds tested of 3)" in text and "no stitched candidate" in text
    per_seed[0] = seed(0, (0.93, 0.88), False)
    assert headline(typed(claims), baselines, instances).iloc[0]["claim 4"].startswith("FAILS (1 FAILS, 1 HOLDS")


def test_a_host_tested_on_no_zoo_seed_has_a_row_and_says_why():
    claims, baselines, instances = inputs([(0.95, 0.90)], [True])
    check = claims["scenarios"]["S"]["claims"][0]["checks"][0]
    check["per_seed"] = [{"verdict": "NOT TESTED", "zoo_seed": 0, "reason": "every job failed"}]
    row = headline(typed(claims), baselines, instances).iloc[0]
    assert row["claim 4"] == "NOT TESTED (1 NOT TESTED of 1 zoo seed)" and row["bootstrap fraction ± SE"] == "—"
    assert verdicts(typed(claims), baselines, instances)["S"] == (
        "Host A: claim 4 is not tested on any of its 1 zoo seeds (every job failed)."
    )


def test_parties_of_another_scenario_neither_show_as_nan_nor_hide_the_largest_gap():
    """In a run with scenarios of different parties, each row has NaN columns for the other scenario's
    parties; a NaN gap must not win the comparison and turn a 20-point gap into 'at or above merged'."""
    import numpy as np
    import pandas as pd

    from stitchbench.study._headline import host_sentences

    rows = pd.DataFrame(
        {
            "tested": [True, True],
            "verdict": ["HOLDS", "HOLDS"],
            "bootstrap": [1.0, 1.0],
            "bootstrap_se": [0.0, 0.0],
            "score.other-a": [np.nan, np.nan],
            "score.a": [0.95, 0.96],
            "score.b": [0.70, 0.72],
            "gap_merged.other-a": [np.nan, np.nan],
            "gap_merged.a": [0.01, 0.0],
            "gap_merged.b": [-0.20, -0.22],
        }
    )
    text = host_sentences("a", rows)
    assert "nan" not in text and "21.0 points below merged data on b" in text


def test_each_scenario_gets_its_own_table_without_the_other_scenarios_parties(tmp_path):
    """Scenarios with different parties: one headline table each, holding only its own parties' columns (a
    single table had a "—" column per party of every other scenario)."""
    from stitchbench.study._sections import headline_blocks

    claims, baselines, instances = inputs([(0.95, 0.90)], [True])
    per_seed = [seed(0, (0.91, 0.88), False) | {"selected": {"instance": "j0"}, "point": {"C": 0.91, "D": 0.88}}]
    claims["scenarios"]["T"] = {
        "claims": [{"id": 4, "checks": [{"host": "C", "verdict": "FAILS", "per_seed": per_seed}]}]
    }
    more = baselines.assign(instance="j0", objective=baselines.objective.map({"A": "C", "B": "D"}))
    instances["j0"] = record("j0").model_copy(update={"parties": ["C", "D"], "objectives": ["C", "D"]})
    blocks = headline_blocks(typed(claims), pd.concat([baselines, more]), instances, tmp_path)
    tables = [b.table for b in blocks if b.kind == "table"]
    assert [t.scenario.tolist() for t in tables] == [["S"], ["T"]]
    assert "stitched on A (test)" in tables[0] and not any("C" in c for c in tables[0].columns)
    assert "stitched on C (test)" in tables[1] and not any(" A " in c or " B " in c for c in tables[1].columns)
    scenario_paragraphs = [b.text.split(".**")[0] for b in blocks if b.kind == "para" and ".**" in b.text]
    assert scenario_paragraphs == ["**S", "**T"]


def test_the_answers_count_hosts_per_question():
    from stitchbench.study._sections import answers

    def check(verdict, family=None):
        return {"verdict": verdict} | ({"family": family} if family else {})

    claims = {
        "scenarios": {
            "S": {"claims": [{"id": 4, "checks": [check("HOLDS"), check("FAILS")]}, {"id": 5, "checks": []}]},
            "T": {
                "claims": [
                    {"id": 4, "checks": [check("INCONCLUSIVE")]},
                    {"id": 5, "checks": [check("FAILS", "merge"), check("FAILS", "merge"), check("HOLDS", "distill")]},
                ]
            },
        }
    }
    four, five = answers(typed(claims))
    assert four.endswith("?** Of 3 hosts, 1 holds, 1 fails, 1 is inconclusive.")
    assert five.endswith("?** Against merge, of 2 hosts, 2 fail; against distill, of 1 host, 1 holds.")


def test_the_gap_figure_is_drawn_per_scenario(tmp_path):
    from stitchbench.study._sections import gap_figures

    rows = [
        {"host": h, "method": m, "party": p, "gap": g, "lo": g - 1, "hi": g + 1, "zoo_seeds": 1}
        for h in ("A", "B")
        for m, g in (("stitch s*", -3.0), ("merge", -20.0), ("FedAvg", -1.0))
        for p in ("A", "B")
    ]
    claims = {"scenarios": {"S": {"gaps": rows}, "T": {"gaps": []}}}
    (figure,) = gap_figures(typed(claims), tmp_path)
    assert figure.path == tmp_path / "headline_S.png" and figure.path.stat().st_size > 10_000
