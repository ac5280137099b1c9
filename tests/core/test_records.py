"""Typed results: the run manifest's results format is checked on read (a newer one exits 2 naming both
formats), every record survives a round trip through JSON and refuses a wrong type or an unknown key with a
clear error, and the rendered thresholds follow their constants."""

import io
import json

import pandas as pd
import pytest
from pydantic import ValidationError

from stitchbench.cli import main
from stitchbench.errors import InputError
from stitchbench.results._calibration import CalibrationRecord
from stitchbench.results._leaderboard import Friedman, LeaderboardRow
from stitchbench.results._store import RESULTS_FORMAT, RUN_MANIFEST, RunDir, RunManifest
from stitchbench.study._records import Claim, Claim4Check, ClaimsRecord

from .test_claim5 import run_claims
from .test_claims import claim4_of, claims_of, synthetic

MANIFEST = {
    "suite": {"name": "s", "seeds": [0], "budget": 10, "solvers": [{"name": "random"}]},
    "suite_key": "k",
    "jobs": {},
    "status": "complete",
    "instances": {},
}
SETTINGS = {"resamples": 2000, "resamples_near": 20_000, "level": 0.95, "near_se": 3.0, "seed": 0}


def run_folder(tmp_path, manifest: dict) -> RunDir:
    (tmp_path / RUN_MANIFEST).write_text(json.dumps(manifest))
    return RunDir(tmp_path)


def test_a_manifest_without_a_format_is_format_1_and_every_write_stamps_the_format(tmp_path):
    run = run_folder(tmp_path, MANIFEST)
    assert RunManifest.model_validate(run.require()).results_format == 1
    run.save_manifest(run.require())
    assert json.loads(run.file(RUN_MANIFEST).read_text())["results_format"] == RESULTS_FORMAT


def test_a_run_of_a_newer_results_format_exits_2_naming_both_formats(tmp_path, capsys):
    future = RESULTS_FORMAT + 1
    run = run_folder(tmp_path, MANIFEST | {"results_format": future, "a_field_of_the_future": 1})
    with pytest.raises(InputError, match=f"results format {future}; this stitchbench reads results format 1 and"):
        run.require()
    assert main(["leaderboard", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"results format {future}" in err and f"reads results format {RESULTS_FORMAT} and older" in err


@pytest.mark.parametrize("bad", [0, "1", True])
def test_a_results_format_of_a_wrong_value_or_type_is_refused(tmp_path, bad):
    with pytest.raises(InputError, match="results_format"):
        run_folder(tmp_path, MANIFEST | {"results_format": bad}).require()


def claims_record() -> ClaimsRecord:
    """A claims record with every kind of check: claims 1-3 (one N/A), claim 4 and claim 5 with a family point."""
    claims = [*claims_of(0.94, {"A": "mnist", "B": "mnist"}).values()]
    seed = claim4_of(synthetic([(0.96, 0.85)]))
    four = Claim(
        id=4, name="", verdict=seed.verdict, checks=[Claim4Check(host="A", verdict=seed.verdict, per_seed=[seed])]
    )
    five = run_claims(synthetic([(0.97, 0.88)]), families=("distill", "finetune"))
    data = {"seeds": [0], "reference_seeds": [0], "claims": [*claims[:3], four, five]}
    return ClaimsRecord(split="test", point=0.01, alpha_min=0.05, bootstrap=SETTINGS, scenarios={"s": data})


def calibration_record() -> CalibrationRecord:
    solvers = {
        "random": {"hv": 0.7, "at_front": 0, "area": float("nan")},
        "fast": {"hv": 0.8, "at_front": 3, "area": 0.6},
    }
    first = {"instance": "i0", "front": "exact front", "front_hv": 0.8, "seeds": [0, 1], "solvers": solvers}
    first |= {"weakest": None, "separated": [["fast", "random"]], "verdict": "calibrated"}
    return CalibrationRecord.model_validate(first | {"confirmation": first | {"seeds": [2, 3]}, "budget": 10})


def test_claims_records_round_trip_through_json_with_the_keys_claims_json_had():
    record = claims_record()
    text = json.dumps(record.dump())
    assert ClaimsRecord.model_validate_json(text) == record
    four = json.loads(text)["scenarios"]["s"]["claims"][3]["checks"][0]["per_seed"][0]
    assert {"ensemble_points", "ensemble_exact", "selected", "bootstrap"} <= set(four) and "reason" not in four
    five = json.loads(text)["scenarios"]["s"]["claims"][4]["checks"][0]["per_seed"][0]
    assert {"family_points", "family_exact", "family_point"} <= set(five) and "ensemble_points" not in five
    na = json.loads(text)["scenarios"]["s"]["claims"][1]["checks"][0]
    assert set(na) == {"party", "other", "verdict", "reason"}


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        (calibration_record, CalibrationRecord),
        (
            lambda: Friedman(solvers=3, instances=4, statistic=1.0, p=0.5, F=float("inf"), F_df=(2, 6), F_p=0.0),
            Friedman,
        ),
        (lambda: Friedman(solvers=2, instances=1, reason="too few"), Friedman),
    ],
)
def test_calibration_and_leaderboard_records_round_trip_through_json(record, kind):
    r = record()
    back = kind.model_validate_json(json.dumps(r.model_dump(mode="json")))
    assert back.model_dump_json() == r.model_dump_json()  # NaN != NaN: compared as JSON


def test_a_leaderboard_row_round_trips_through_leaderboard_csv():
    row = LeaderboardRow(
        instance="i0", solver="random", seeds=3, area=float("nan"), area_se=0.0, rank=1.5, nhv=0.9, nhv_se=0.01,
        igd_plus=0.02, reference="exact front",
    )  # fmt: skip
    table = pd.read_csv(io.StringIO(pd.DataFrame([row.model_dump()]).to_csv(index=False)))
    back = LeaderboardRow.model_validate(table.to_dict("records")[0])
    assert back.model_dump_json() == row.model_dump_json()


def test_a_claims_record_with_an_unknown_key_or_a_wrong_type_is_refused_naming_it(tmp_path):
    data = claims_record().dump()
    four = data["scenarios"]["s"]["claims"][3]["checks"][0]["per_seed"][0]
    four["eligble"] = 1
    path = tmp_path / "claims.json"
    path.write_text(json.dumps(data))
    with pytest.raises(
        InputError, match=r"claims.json is not a claims record .*eligble.*Extra inputs are not permitted"
    ):
        ClaimsRecord.read(path)
    del four["eligble"]
    four["zoo_seed"] = "0"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"zoo_seed.*Input should be a valid integer"):
        ClaimsRecord.read(path)


@pytest.mark.parametrize(
    ("kind", "good", "bad", "needle"),
    [
        (CalibrationRecord, lambda: calibration_record().model_dump(), {"verdict": 1}, "verdict"),
        (CalibrationRecord, lambda: calibration_record().model_dump(), {"solvers_": {}}, "Extra inputs"),
        (Friedman, lambda: {"solvers": 3, "instances": 4}, {"p": "0.5"}, "valid number"),
        (Friedman, lambda: {"solvers": 3, "instances": 4}, {"chi2": 1.0}, "Extra inputs"),
    ],
)
def test_calibration_and_leaderboard_records_refuse_wrong_types_and_unknown_keys(kind, good, bad, needle):
    kind.model_validate(good())
    with pytest.raises(ValidationError, match=needle):
        kind.model_validate(good() | bad)


def test_records_are_frozen():
    with pytest.raises(ValidationError, match="frozen"):
        claims_record().scenarios["s"].claims[0].verdict = "HOLDS"


def test_the_rendered_thresholds_follow_their_constants(monkeypatch):
    """The claims methods note, claim 4's per-seed line and the headline's interval state the constants they
    are decided by: changing a constant changes the text."""
    from stitchbench.study import _sections as sections

    assert "at least 95% of resamples, FAILS at 5% or less" in sections.claims_methods()
    assert "within 3 SE of a cut is re-estimated with 20,000 resamples" in sections.claims_methods()
    monkeypatch.setattr(sections, "LEVEL", 0.9)
    monkeypatch.setattr(sections, "RESAMPLES_NEAR", 50_000)
    assert "at least 90% of resamples, FAILS at 10% or less" in sections.claims_methods()
    assert "re-estimated with 50,000 resamples" in sections.claims_methods()
    four = claims_record().scenarios["s"].claim(4).checks[0]
    assert "(90% needed)" in sections.describe_check(four)


def test_the_rule_text_of_claims_1_to_3_follows_its_bound():
    from stitchbench.study._claims import LOCAL_VS_MERGED, Rule

    assert LOCAL_VS_MERGED.text() == "|difference| ≤ 3 points"
    assert (
        Rule("abs", 2.5).text() == "|difference| ≤ 2.5 points" and Rule("le", -10).text() == "difference ≤ -10 points"
    )


def test_a_runs_job_tables_unite_the_jobs_columns(tmp_path):
    """Jobs of different instances have different columns: joined, each keeps its values, a column a job
    lacks is missing there, an integer column next to a float one becomes float, and a job without `finite`
    counts as finite (the aggregation reads it so)."""
    run = RunDir(tmp_path)
    run.save_job("a", {"evaluations": pd.DataFrame({"job": ["a", "a"], "x.p": [1, 2], "finite": [True, False]})})
    run.save_job("b", {"evaluations": pd.DataFrame({"job": ["b"], "x.p": [0.5], "x.q": [3.0]})})
    ev = run.job_tables(["a", "b"], "evaluations")
    assert ev.job.tolist() == ["a", "a", "b"] and ev["x.p"].tolist() == [1.0, 2.0, 0.5]
    assert ev["x.q"].isna().tolist() == [True, True, False]
    assert ev.finite.fillna(True).astype(bool).tolist() == [True, False, True]


@pytest.mark.parametrize("join", [1, 64])
def test_a_job_table_written_a_few_jobs_at_a_time_is_the_joined_table(tmp_path, monkeypatch, join):
    """`write_job_tables` (a large run's evaluations never whole in memory) writes what `job_tables` joins, a
    row group per JOIN_FILES jobs: the column a job lacks null there, an integer column next to a float one
    float, in the jobs' order; no job file: an empty table."""
    import pyarrow.parquet as pq

    import stitchbench.results._store as store

    monkeypatch.setattr(store, "JOIN_FILES", join)
    run = RunDir(tmp_path)
    run.save_job("a", {"evaluations": pd.DataFrame({"job": ["a", "a"], "x.p": [1, 2], "finite": [True, False]})})
    run.save_job("e", {"evaluations": pd.DataFrame({"job": [], "x.p": [], "f.y": []})})  # failed at once: float64
    run.save_job("b", {"evaluations": pd.DataFrame({"job": ["b"], "x.p": [0.5], "x.q": [3.0], "f.y": [0.25]})})
    run.write_job_tables(["a", "e", "b", "never-ran"], "evaluations", "evaluations.parquet")
    written = pd.read_parquet(tmp_path / "evaluations.parquet")
    pd.testing.assert_frame_equal(written, run.job_tables(["a", "e", "b"], "evaluations"), check_like=False)
    assert pq.ParquetFile(tmp_path / "evaluations.parquet").num_row_groups == (2 if join == 1 else 1)
    assert run.table("evaluations", lambda c: c == "f.y")["f.y"].isna().tolist() == [True, True, False]
    run.write_job_tables(["never-ran"], "evaluations", "none.parquet")
    assert pd.read_parquet(tmp_path / "none.parquet").empty and not list(tmp_path.glob(".*.tmp"))


def test_a_job_table_that_cannot_be_written_whole_leaves_no_file(tmp_path, monkeypatch):
    """The disk fills while `write_job_tables` writes its second row group: it raises, and neither the run
    file nor a temporary one is left (the next run's aggregation writes it again)."""
    import errno

    import pyarrow.parquet as pq

    import stitchbench.results._store as store

    monkeypatch.setattr(store, "JOIN_FILES", 1)
    run = RunDir(tmp_path)
    for j in ("a", "b"):
        run.save_job(j, {"evaluations": pd.DataFrame({"job": [j], "f.y": [0.5]})})
    write_table, calls = pq.ParquetWriter.write_table, []

    def full(writer, table, *args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_table(writer, table, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    with pytest.raises(OSError, match="No space left"):
        run.write_job_tables(["a", "b"], "evaluations", "evaluations.parquet")
    assert not (tmp_path / "evaluations.parquet").exists() and not list(tmp_path.glob(".*.tmp"))
