import hashlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from stitchbench.benchmark._runner import run_suite
from stitchbench.benchmark._suite import load_suite
from stitchbench.cli import main
from stitchbench.moo._instance import ProblemInstance
from stitchbench.tabular._catalog import read_catalog

TINY = """
name = "tiny"
seeds = [0, 1]
budget = {budget}
analyses = ["claims"]

[[scenarios]]
name = "digits-shift"

[[problems]]
family = "ensemble-weights"

[[problems]]
family = "stitch-ensemble"
hosts = ["uci-digits"]

[[solvers]]
name = "random"

[[solvers]]
name = "pymoo.nsga2"
params = {{ pop_size = 8 }}
"""


def write_suite(path, budget=16):
    path.write_text(TINY.format(budget=budget))
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, zoo, setup_db, cache_dir):
    root = tmp_path_factory.mktemp("tiny")
    suite_file = write_suite(root / "tiny.toml")
    out = root / "run"
    outcome = run_suite(load_suite(str(suite_file)), out, cache_dir=cache_dir, quiet=True)
    return suite_file, out, outcome


def snapshot(directory):
    return {
        str(p.relative_to(directory)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def comparable(directory, table):
    df = pd.read_parquet(directory / f"{table}.parquet")
    df = df.drop(columns=[c for c in ("seconds",) if c in df])
    keys = [c for c in ("job", "split", "eval", "point") if c in df]
    return df.sort_values(keys).reset_index(drop=True)


def test_run_writes_the_contract_tables(tiny):
    _, out, outcome = tiny
    assert outcome.ran == 8 and outcome.failed == 0
    ev = pd.read_parquet(out / "evaluations.parquet")
    for col in (
        "problem",
        "solver",
        "seed",
        "eval",
        "split",
        "f.uci-digits",
        "f.mnist",
        "seconds",
        "x.w.local:uci-digits",
        "x.point",
        "x.alpha",
    ):
        assert col in ev.columns, col
    assert len(ev) == 8 * 16 and set(ev.split) == {"val"}
    assert ev.groupby("job").eval.max().eq(16).all()
    fronts = pd.read_parquet(out / "fronts.parquet")
    assert set(fronts.split) == {"val", "test"}
    ind = pd.read_parquet(out / "indicators.parquet")
    assert (ind.hypervolume > 0.5).all() and ind.hv_reference.eq("[0.0, 0.0]").all()
    assert set(ind.instance) == {"digits-shift/z0/ensemble-weights", "digits-shift/z0/stitch-ensemble@uci-digits"}
    ew = ind[(ind.problem == "ensemble-weights") & (ind.split == "val")]
    assert ew.igd_plus.notna().all() and (ew.igd_plus < 0.1).all()
    assert ind[ind.problem == "stitch-ensemble@uci-digits"].igd_plus.isna().all()
    for table in ("evaluations", "fronts", "baselines", "exact_fronts", "ensemble_fronts", "anytime", "statistics"):
        assert "instance" in pd.read_parquet(out / f"{table}.parquet").columns, table
    base = pd.read_parquet(out / "baselines.parquet")
    assert {"local:uci-digits", "local:mnist", "merged", "fedavg", "fedprox", "ensemble"} <= set(base.baseline)
    claims = json.loads((out / "claims.json").read_text())["scenarios"]["digits-shift"]["claims"]
    assert [c["id"] for c in claims] == [1, 2, 3, 4, 5]
    assert all(c["verdict"] in ("HOLDS", "FAILS", "INCONCLUSIVE") for c in claims[:4])
    assert claims[4]["verdict"] == "NOT TESTED" and claims[4]["checks"] == []  # no one-shot family in this run
    host = next(c for c in claims[3]["checks"] if c["host"] == "uci-digits")["per_seed"][0]
    # claim 4 (live: the jobs' stitched candidates) names the stitched candidate s* it selects on val
    assert host["selected"]["alpha"] >= 0.05 and host["stitched_points"] > 0 and host["ensemble_points"] > 0
    assert host["selected"]["source"]["solver"] in {"random", "pymoo.nsga2"}
    assert host["selected"]["instance"] == "digits-shift/z0/stitch-ensemble@uci-digits"
    assert "bootstrap" not in host or 0 <= host["bootstrap"]["fraction"] <= 1
    stitched = pd.read_parquet(out / "claim_pools.parquet").pool.unique().tolist()
    assert sorted(stitched) == ["ensembles", "references"]  # live: no enumeration
    assert (fronts[fronts.problem == "stitch-ensemble@uci-digits"]["alpha_evaluated"] >= 0).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and all(j["status"] == "done" for j in manifest["jobs"].values())
    assert manifest["versions"]["torch"] and "timings" in manifest
    rec = manifest["instances"]["digits-shift/z0/stitch-ensemble@uci-digits"]
    assert rec["host"] == "uci-digits" and rec["params"]["method"] == "double-batched" and rec["front"] == "none"
    assert set(rec["artifacts"]) == {"local:uci-digits", "local:mnist", "stitches"}
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and "Claim 4" in page and "<img" in page
    md = (out / "report.md").read_text()
    figure = "front_digits-shift_z0_ensemble-weights.png"
    assert f"figures/{figure}" in md and (out / "figures" / figure).is_file()


def test_rerun_on_a_finished_directory_changes_nothing(tiny, cache_dir, capsys):
    suite_file, out, _ = tiny
    before = snapshot(out)
    assert main(["--quiet", "--cache", str(cache_dir), "run", str(suite_file), "--out", str(out)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert snapshot(out) == before


def test_process_and_ray_executors_give_the_same_tables(tiny, tmp_path, cache_dir):
    suite_file, out, _ = tiny
    suite = load_suite(str(suite_file))
    for executor in ("process", "ray"):
        other = tmp_path / executor
        outcome = run_suite(suite, other, executor=executor, workers=2, cache_dir=cache_dir, quiet=True)
        assert outcome.failed == 0
        phases = {"models", "problems", "search", "report"}
        assert phases <= set(outcome.timings)  # problems built in a pool of 2 processes, then loaded here
        for table in ("evaluations", "fronts"):
            pd.testing.assert_frame_equal(comparable(out, table), comparable(other, table))
        assert json.loads((other / "claims.json").read_text()) == json.loads((out / "claims.json").read_text())


@pytest.mark.parametrize(
    "edit,needle",
    [
        (lambda s: s.replace('name = "random"', 'name = "randomm"'), "unknown solver 'randomm'"),
        (lambda s: s.replace("budget =", "budgett ="), "budgett"),
        (lambda s: s.replace("budget = 16", "budget = 0"), "budget"),
        (lambda s: s.replace('name = "random"', 'name = "exhaustive"'), "does not support real"),
        (lambda s: s.replace('family = "ensemble-weights"', 'family = "ensemble"'), "unknown problem 'ensemble'"),
        (lambda s: s.replace('name = "digits-shift"', 'name = "digits-shift"\nparams = { k = 3 }'), "k=3"),
        (lambda s: s.replace("pop_size = 8", "population = 8"), "unknown parameter 'population'"),
        (lambda s: s + "\n[[[", "not valid TOML"),
        (
            lambda s: s.replace('hosts = ["uci-digits"]', 'hosts = ["uci-digits"]\nparams = { alpha_grid = 1 }'),
            "alpha_grid must be 0 (alpha continuous) or a whole number >= 2, got 1",
        ),
        (
            lambda s: s.replace('family = "ensemble-weights"', 'family = "ensemble-weights"\nscenarios = ["digits"]'),
            "unknown scenario of problem 'ensemble-weights' (the suite's scenarios) 'digits'",
        ),
    ],
)
def test_malformed_suites_exit_2_and_write_nothing(edit, needle, tmp_path, capsys):
    suite = tmp_path / "bad.toml"
    suite.write_text(edit(TINY.format(budget=16)))
    out = tmp_path / "out"
    assert main(["--quiet", "run", str(suite), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "bad.toml" in err and "Traceback" not in err
    assert not out.exists()


def test_unknown_suite_and_non_run_directories(tmp_path, capsys):
    assert main(["run", "nosuch"]) == 2
    assert "unknown suite 'nosuch'; valid suites:" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "not a stitchbench run directory" in capsys.readouterr().err


MULTI = """
name = "multi"
seeds = [0]
budget = 6
analyses = ["claims"]

[[scenarios]]
name = "digits-shift"

[[scenarios]]
name = "digits-shift"
params = { seed = 1 }

[zoo]
seeds = [0, 1]
recipe = { epochs = 1 }

[[problems]]
family = "ensemble-weights"

[[problems]]
family = "stitch-ensemble"
hosts = ["mnist"]
params = { method = "feature-match", recipe = { match_epochs = 1 } }

[[solvers]]
name = "random"
"""


def test_instances_keep_scenario_and_zoo_seed_apart(tmp_path, cache_dir):
    """Two scenarios of one family and two zoo seeds: four instances, each with its own baselines, and
    claims that see every zoo seed."""
    (tmp_path / "multi.toml").write_text(MULTI)
    out = tmp_path / "run"
    outcome = run_suite(load_suite(str(tmp_path / "multi.toml")), out, cache_dir=cache_dir, quiet=True)
    assert outcome.failed == 0 and outcome.ran == 8
    manifest = json.loads((out / "manifest.json").read_text())
    scenarios = {i.split("/")[0] for i in manifest["instances"]}
    assert len(scenarios) == 2 and "digits-shift" in scenarios
    other = next(s for s in scenarios if s != "digits-shift")
    assert other.startswith("digits-shift~") and manifest["instances"][f"{other}/z1/ensemble-weights"]["zoo_seed"] == 1
    base = pd.read_parquet(out / "baselines.parquet")
    local = base[(base.baseline == "local:mnist") & (base.split == "test") & (base.objective == "mnist")]
    per_instance = local.groupby("instance").value.first()
    assert len(per_instance) == 8 and per_instance.nunique() >= 4  # four zoos, four different models
    claims = json.loads((out / "claims.json").read_text())["scenarios"]
    assert set(claims) == scenarios
    for data in claims.values():
        assert data["seeds"] == [0, 1]
        c4 = next(c for c in data["claims"][3]["checks"] if c["host"] == "mnist")
        assert c4["verdict"] != "NOT TESTED" and [r["zoo_seed"] for r in c4["per_seed"]] == [0, 1]
    ind = pd.read_parquet(out / "indicators.parquet")
    assert ind.groupby("instance").job.nunique().eq(1).all() and ind.instance.nunique() == 8


def test_report_and_compare_commands(tiny, capsys):
    _, out, _ = tiny
    assert main(["report", str(out)]) == 0
    assert (out / "report.html").is_file()
    capsys.readouterr()
    assert main(["compare", str(out), str(out)]) == 0
    text = capsys.readouterr().out
    assert "ensemble-weights" in text and "pymoo.nsga2" in text and "budget" in text and "solver seeds" in text
    suite = load_suite(str(tiny[0]))
    assert main(["compare", str(out), "--format", "csv"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    ind = pd.read_parquet(out / "indicators.parquet").query("split == 'test'")
    mean = ind.groupby(["instance", "solver"]).hypervolume.mean()
    for row in table.itertuples():
        assert row.hv_mean == pytest.approx(mean[row.instance, row.solver])
        assert row.n == len(suite.seeds) and row.budget == suite.budget and row.suite == suite.name
    assert main(["compare", str(out), "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("## Runs\n\n| run | suite | budget |") and f"| HV {out.name} |" in md


def test_shipped_suites_validate(capsys):
    from stitchbench.benchmark._suite import expand
    from stitchbench.suites import shipped_suites

    assert main(["list", "suites"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in shipped_suites())
    jobs = {name: expand(load_suite(name)) for name in shipped_suites()}
    assert all(jobs.values())
    # the collection's suite, its tables' and the pool's: measured the same way
    runs = [load_suite(name) for name in ("collection", "solvers", "solvers-candidates")]
    settings = [(s.solvers, s.seeds, s.budget, s.time_limit, s.executor, s.workers) for s in runs]
    assert settings[1:] == settings[:1] * 2
    assert {j.instance for j in jobs["collection"]} <= {j.instance for j in jobs["solvers-candidates"]}  # the pool
    assert {j.instance for j in jobs["collection"]} == {j.instance for j in jobs["solvers"]}
    assert {j.table for j in jobs["solvers"]} == set(read_catalog())  # the shipped tables, nothing trained


def test_problems_can_be_set_on_some_scenarios_only():
    from stitchbench.benchmark._suite import expand

    instances = {j.instance for j in expand(load_suite("collection"))}

    def ids(prefix: str) -> set[str]:
        return {i.split("/", 2)[2] for i in instances if i.startswith(prefix)}

    weights = {"weights-4", "weights-4-switches", "weights-5", "weights-5-switches", "weights-6", "weights-6-switches"}
    assert ids("digits-shift-4/") == weights | {
        "weights-7",
        "weights-7-switches",
        "stitch-switches@mnist-1+cost",
        "stitch@uci-digits-1",
    }
    assert ids("digits-shift/") == {
        "weights-3-switches",
        "weights-4",
        "weights-5",
        "weights-5-switches",
        "stitch-switches@uci-digits+cost",
        "graph-7@uci-digits+cost",
    }
    sizes = ("4", "6", "8", "10")
    assert ids("cross-arch/") == {f"weights-{m}" for m in sizes} | {f"weights-{m}-switches" for m in sizes} | {
        "graph-6@mnist+cost"
    }
    assert ids("cross-arch-4/") == {
        "weights-8",
        "weights-8-switches",
        "weights-10",
        "weights-10-switches",
        "weights-12",
        "weights-14",
        "weights-14-switches",
    }
    assert ids("deep/") == {f"graph-{k}@uci-digits+cost" for k in (11, 13, 15)}
    assert ids("deep-4/") == {"graph-11@uci-digits-1+cost"}
    assert len(instances) == 36


def test_leaderboard_command_and_report_section(tiny, capsys, tmp_path):
    """The leaderboard ranks by runtime-ECDF area, its normalized hypervolume is each job's hypervolume over
    the exact front's (val); the report lists each solver's parameters and its verdict per instance, and
    draws the run's runtime ECDF and each instance's, with its area table."""
    from stitchbench.results._calibration import calibration_of_run
    from stitchbench.results._figures import safe
    from stitchbench.results._indicators import hypervolume, long_front
    from stitchbench.results._leaderboard import of_runs

    _, out, _ = tiny
    capsys.readouterr()
    assert main(["leaderboard", str(out), "--format", "csv", "--out", str(tmp_path / "lb")]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    manifest = json.loads((out / "manifest.json").read_text())
    ind = pd.read_parquet(out / "indicators.parquet").query("split == 'val'")
    exact = pd.read_parquet(out / "exact_fronts.parquet")
    for row in table.itertuples():
        rec = ProblemInstance(**manifest["instances"][row.instance])
        jobs = ind[ind.instance == row.instance]
        if rec.front == "exact":
            ref, kind = hypervolume(long_front(exact, rec, "val", rec.objectives), rec), "exact front"
        else:
            ref, kind = jobs.hypervolume.max(), "best known"
        hv = jobs[jobs.solver == row.solver].hypervolume
        assert row.nhv == pytest.approx(hv.mean() / ref) and row.nhv <= 1 + 1e-12 and row.reference == kind
    assert len(table) == 4 and set(table.solver) == {"random", "pymoo.nsga2"}
    scored = table.dropna(subset=["area"])
    assert scored.area.between(0, 1).all() and len(scored)
    for _, g in scored.groupby("instance"):  # rank 1: the larger mean area
        assert g.loc[g["rank"].idxmin(), "area"] == g.area.max()
    assert {p.name for p in (tmp_path / "lb").iterdir()} >= {"leaderboard.md", "leaderboard.csv"}
    assert of_runs([out, out]).per_instance.seeds.max() == 2  # the same run twice: the same seeds, not four
    import shutil

    from stitchbench._hashing import file_sha256

    other = tmp_path / "other"  # the same run, its reference fronts moved (as another machine's models would)
    shutil.copytree(out, other)
    fronts = pd.read_parquet(other / "exact_fronts.parquet")
    (other / "exact_fronts.parquet").write_bytes(fronts.assign(value=fronts.value * 0.99).to_parquet(index=False))
    recorded = json.loads((other / "manifest.json").read_text())
    recorded["references"]["exact_fronts.parquet"] = file_sha256(other / "exact_fronts.parquet")
    (other / "manifest.json").write_text(json.dumps(recorded))
    assert main(["leaderboard", str(out), str(other)]) == 2
    assert "reference fronts of" in capsys.readouterr().err
    assert main(["report", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "## Solvers" in report and '| pymoo.nsga2 | pymoo.nsga2 | {"pop_size": 8} |' in report
    assert "### Runtime ECDF (val)" in report and "(figures/leaderboard_ecdf.png)" in report
    lb = of_runs([out])
    for iid in manifest["instances"]:
        shown = f"No runtime ECDF: {lb.unscored[iid]}." if iid in lb.unscored else f"(figures/ecdf_{safe(iid)}.png)"
        assert shown in report, iid
    header = "| solver | runs | ECDF area mean ± sd | rank | p vs best (MWU, Holm) | A12 vs best | significantly"
    assert report.count(header) == table.dropna(subset=["area"]).instance.nunique()
    assert "too few seeds to decide" in report  # two seeds per solver decide nothing
    assert "### Calibration (val)" in report and "0 of 2 instances calibrated at the run's budget" in report
    capsys.readouterr()
    assert main(["calibrate", str(out), "--format", "md"]) == 0
    printed = capsys.readouterr().out
    for r in calibration_of_run(out):  # two seeds decide nothing, unless a solver reaches the front on both
        solved = max(v.at_front for v in r.solvers.values()) == 2
        assert solved == r.verdict.startswith("solved: "), r.verdict
        expected = r.verdict if solved else "undecided: too few seeds (2; 4 would decide)"
        assert r.verdict == expected and f"| {expected} |" in printed
    assert "0 of 2 instances calibrated" in printed
    assert main(["calibrate", str(out / "nowhere")]) == 2
    capsys.readouterr()
    assert main(["calibrate", str(out), "--size", "10"]) == 2  # random and one solver: no null to draw
    assert "no instance with random and at least two other solvers to draw nulls from" in capsys.readouterr().err
    assert main(["calibrate", str(out), "--size", "0"]) == 2
    assert "argument --size: '0' is not a whole number >= 1" in capsys.readouterr().err
    assert main(["calibrate", str(out), "--size", "10", "--confirm", str(out)]) == 2  # one or the other
    assert "not allowed with argument" in capsys.readouterr().err
    capsys.readouterr()  # unconfirmed, or confirmed on its own seeds: refused before any build
    assert main(["table", "build-collection", "--calibration", str(out), "--out", str(tmp_path / "col")]) == 2
    assert "--calibration needs --confirmation" in capsys.readouterr().err and not (tmp_path / "col").exists()
    again = ["--confirmation", str(out), "--out", str(tmp_path / "col")]
    assert main(["table", "build-collection", "--calibration", str(out), *again]) == 2
    assert "the confirmation's seeds must be disjoint" in capsys.readouterr().err and not (tmp_path / "col").exists()
    check_other_instances_are_refused(out, tmp_path / "same-names")
    assert main(["leaderboard", str(out / "nowhere")]) == 2
    capsys.readouterr()
    (tmp_path / "file").write_text("")
    assert main(["leaderboard", str(out), "--out", str(tmp_path / "file" / "lb")]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and "is a file, not a folder" in printed.err


def check_other_instances_are_refused(out, other):
    """Runs of instances of the same names but other records (as another CPU's models give) are not one
    calibration, nor a calibration of a collection's tables: refused, naming the instance."""
    import re
    import shutil

    from stitchbench.benchmark._collection import check_run_of_tables
    from stitchbench.errors import InputError
    from stitchbench.results._calibration import calibration_of_run
    from stitchbench.tabular._catalog import collection_name

    shutil.copytree(out, other)
    manifest = json.loads((other / "manifest.json").read_text())
    iid = next(iter(manifest["instances"]))
    record = manifest["instances"][iid]
    manifest["instances"][iid] = record | {"artifacts": {k: "0" * 64 for k in record["artifacts"]}}
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=f"ran other instances than .* the same names .*: {re.escape(iid)}; conf"):
        calibration_of_run(out, other)
    tables = other.parent / "tables"
    (tables / collection_name(iid)).mkdir(parents=True)
    (tables / collection_name(iid) / "manifest.json").write_text(json.dumps({"instance": record}))
    check_run_of_tables(out, tables)  # the run's instances are the tables'
    with pytest.raises(InputError, match=f"ran other instances than the tables in .*: {re.escape(iid)}; record the"):
        check_run_of_tables(other, tables)


FOUR = ["uci-digits-1", "uci-digits-2", "mnist-1", "mnist-2"]


def test_scenarios_with_ids_and_zoos_of_their_own():
    """The paper suite: one scenario twice (cnn; cnn with resnet as `cross-arch`, its own zoo), brain-mri with
    one zoo seed; each problem only on the scenarios it names; results keyed by the scenario's id."""
    from stitchbench.benchmark._suite import expand

    jobs = expand(load_suite("paper"))
    zoos = {j.scenario_key: (j.zoo.archs, j.zoo.seeds) for j in jobs}
    assert zoos == {
        "digits-shift": (["cnn"], [0, 1, 2]),
        "digits-shift-4": (["cnn"], [0, 1, 2]),
        "cross-arch": (["cnn", "resnet"], [0, 1, 2]),
        "brain-mri": (["unet"], [0]),
    }
    cross = {j.instance: j.problem_params["archs"] for j in jobs if j.scenario_key == "cross-arch"}
    assert cross["cross-arch/z2/stitch-ensemble-db@mnist"] == ["resnet", "cnn"] and len(cross) == 18
    assert cross["cross-arch/z1/distill@uci-digits"] == cross["cross-arch/z1/finetune@uci-digits"] == ["cnn", "resnet"]
    assert {j.scenario.name for j in jobs if j.scenario_key == "cross-arch"} == {"digits-shift"}
    per = {k: {j.instance.split("/", 2)[2] for j in jobs if j.scenario_key == k} for k in zoos}
    one_shot = {f"{f}@{p}" for f in ("distill", "merge", "finetune") for p in FOUR}
    assert per["digits-shift-4"] == {"ensemble-weights"} | {f"stitch-ensemble-db@{p}" for p in FOUR} | one_shot
    assert len(per["digits-shift"]) == 14  # 8 with stitches and ensembles, 6 one-shot (3 families x 2 hosts)
    assert {p.split("@")[0] for p in per["cross-arch"]} == {"stitch-ensemble-db", "distill", "finetune"}  # no merge
    assert len(per["brain-mri"]) == 9 and "merge@site-b" in per["brain-mri"]
    assert len(jobs) == 120 * 10 * 3 and all(j.budget == 500 for j in jobs)
    assert all(j.problem_params.get("alpha_grid") == 11 for j in jobs if j.family == "stitch-ensemble")


def test_a_suite_without_scenario_ids_or_zoos_keeps_its_key():
    """Runs written before scenarios could have an `id` and a `zoo`, and suites could declare analyses, still
    resume (the key is the same)."""
    import tomllib

    from stitchbench.benchmark._suite import Suite

    plain = TINY.format(budget=16).replace('analyses = ["claims"]\n', "")
    assert Suite(**tomllib.loads(plain)).key == "148071b0fb228215"


def test_a_solver_runs_its_own_budget_and_a_run_takes_other_seeds(tmp_path, capsys):
    """A solver's `budget` (at most the suite's) is its jobs' budget and leaves other suites' keys alone;
    `run --seeds` replaces the suite's seeds."""
    import tomllib

    from stitchbench.benchmark._suite import Suite, expand, load_suite

    data = tomllib.loads(TINY.format(budget=16))
    data["solvers"] = [*data["solvers"], {"id": "cheap", "name": "random", "budget": 8}]
    budgets = {(j.solver.label, j.budget) for j in expand(Suite(**data))}
    assert budgets == {(s["name"], 16) for s in data["solvers"][:-1]} | {("cheap", 8)}
    data["solvers"][-1]["budget"] = 32
    with pytest.raises(ValueError, match="solver 'cheap': budget 32 exceeds the suite's 16"):
        Suite(**data)
    assert {j.seed for j in expand(load_suite("quick", [7, 9]))} == {7, 9}
    (tmp_path / "t.toml").write_text(TINY.format(budget=16))
    assert main(["--quiet", "run", str(tmp_path / "t.toml"), "--check", "--seeds", "7", "9", "11"]) == 0
    jobs = len(expand(Suite(**tomllib.loads(TINY.format(budget=16)))))
    assert f"valid, {jobs // len(data['seeds']) * 3} jobs" in capsys.readouterr().out


@pytest.mark.parametrize(
    "scenarios,needle",
    [
        ('[[scenarios]]\nid = "a"\nname = "digits-shift"\n' * 2, "scenarios: 'a' appears twice"),
        (
            '[[scenarios]]\nname = "digits-shift"\n[[scenarios]]\nname = "digits-shift"\n',
            "scenarios: 'digits-shift' appears twice",
        ),
        ('[[scenarios]]\nid = "a/b"\nname = "digits-shift"\n', "scenarios.0.id"),
        (
            '[[scenarios]]\nname = "digits-shift"\nzoo = { archs = ["unet"] }\n',
            "'unet'",
        ),
        (
            '[[scenarios]]\nname = "digits-shift"\nzoo = { recipe = { epochs = 0 } }\n',
            "zoo of scenario 'digits-shift'.recipe",
        ),
        ('[[scenarios]]\nname = "digits-shift"\nzoo = { seeds = [1, 1] }\n', "zoo.seeds of scenario 'digits-shift'"),
    ],
)
def test_bad_scenario_ids_and_zoos_exit_2(scenarios, needle, tmp_path, capsys):
    text = TINY.format(budget=16).replace('[[scenarios]]\nname = "digits-shift"\n', scenarios)
    (tmp_path / "bad.toml").write_text(text)
    assert main(["--quiet", "run", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


def test_results_are_keyed_by_a_scenario_id(tmp_path, zoo, cache_dir):
    """A scenario with an `id`: its instances, baselines and claims go by the id; its problems are the ones
    that name it."""
    text = TINY.format(budget=8).replace('name = "digits-shift"\n', 'id = "mine"\nname = "digits-shift"\n', 1)
    text = text.replace('family = "ensemble-weights"\n', 'family = "ensemble-weights"\nscenarios = ["mine"]\n')
    text = text.replace('family = "stitch-ensemble"\n', 'family = "stitch-ensemble"\nscenarios = ["mine"]\n')
    (tmp_path / "s.toml").write_text(text)
    outcome = run_suite(load_suite(str(tmp_path / "s.toml")), tmp_path / "run", cache_dir=cache_dir, quiet=True)
    assert outcome.failed == 0
    assert set(outcome.instances) == {"mine/z0/ensemble-weights", "mine/z0/stitch-ensemble@uci-digits"}
    rec = outcome.instances["mine/z0/ensemble-weights"]
    assert rec["scenario"] == "mine" and rec["scenario_name"] == "digits-shift"
    claims = json.loads((tmp_path / "run" / "claims.json").read_text())["scenarios"]
    assert list(claims) == ["mine"]
    assert set(pd.read_parquet(tmp_path / "run" / "baselines.parquet").instance) == set(outcome.instances)


def test_references_are_stored_once_and_read_back_as_computed(tiny, cache_dir, monkeypatch):
    """A warm run reads each instance's references from the cache: the same tables, samples and all, as
    computing them again; and it does not compute them again."""
    from stitchbench.benchmark import _prepare as prepare
    from stitchbench.benchmark._suite import expand
    from stitchbench.benchmark._workspace import Workspace

    suite_file, _, _ = tiny
    job = next(j for j in expand(load_suite(str(suite_file))) if j.family == "stitch-ensemble")
    ws = Workspace(cache_dir)
    fresh = prepare.references(ws.instance(job), ws.problem(job), job.analyses)
    monkeypatch.setattr(prepare, "references", lambda *a: pytest.fail("references computed again"))
    rec, stored = prepare.stored_references(ws, job)
    assert rec == ws.instance(job) and set(stored) == set(fresh) and len(stored["claim_pools"])
    for name, df in fresh.items():
        got = stored[name]
        if name == "claim_pools":  # per-sample arrays: compared as arrays
            assert all(np.array_equal(a, b) for a, b in zip(got.pop("samples"), df["samples"], strict=True))
            df = df.drop(columns="samples")
        pd.testing.assert_frame_equal(got, df, check_dtype=False)


def test_process_chunks_keep_an_instances_jobs_together():
    """Each chunk a process worker takes holds jobs of one instance (its problem loads once), four chunks per
    worker at least; every job once, in order."""
    from stitchbench.benchmark._executors import chunks
    from stitchbench.benchmark._suite import expand

    jobs = expand(load_suite("paper"))
    c = chunks(jobs, 2)
    assert [j for chunk in c for j in chunk] == jobs
    assert len(c) == 120 and all(len({j.instance for j in chunk}) == 1 for chunk in c)
    few = chunks(jobs[:16], 2)  # one instance's 16 jobs: at most 2 per chunk
    assert [len(chunk) for chunk in few] == [2] * 8


def test_a_suite_without_analyses_runs_reports_and_writes_no_study_files(tmp_path, zoo, setup_db, cache_dir):
    """The library without the paper's study: the same jobs and tables, no claims.json, no claim pools or
    reference samples, no job's stitched candidates, and a report without the headline or the claims check;
    an unknown analysis is refused before anything is written."""
    text = TINY.format(budget=8).replace('analyses = ["claims"]\n', "")
    (tmp_path / "plain.toml").write_text(text)
    out = tmp_path / "run"
    outcome = run_suite(load_suite(str(tmp_path / "plain.toml")), out, cache_dir=cache_dir, quiet=True)
    assert outcome.failed == 0 and outcome.ran == 8
    names = {p.name for p in out.rglob("*") if p.is_file()}
    assert "claims.json" not in names and "claim_pools.parquet" not in names
    assert not any(n.endswith(".stitched.parquet") for n in names) and "reference_samples.parquet" not in names
    assert {"evaluations.parquet", "indicators.parquet", "report.html"} <= names
    report = (out / "report.md").read_text()
    assert "Claims check" not in report and "Headline" not in report and "Solvers" in report
    assert main(["report", str(out)]) == 0
    (tmp_path / "bad.toml").write_text(text.replace("budget = 8", 'budget = 8\nanalyses = ["claimz"]'))
    assert main(["--quiet", "run", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "bad")]) == 2
    assert not (tmp_path / "bad").exists()
