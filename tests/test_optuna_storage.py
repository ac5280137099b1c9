"""Optuna studies kept in a storage: one SQLite file in the run directory shared by concurrent jobs, studies
named after their jobs with named objectives, and a resumed run replacing a killed job's study."""

import json
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from stitchbench.benchmark._runner import run_suite
from stitchbench.benchmark._suite import load_suite
from stitchbench.errors import InputError
from stitchbench.solvers import create_solver
from stitchbench.solvers._optuna_solvers import resolve_storage

SUITE = """
name = "studies"
seeds = [0, 1]
budget = 12
executor = "process"
workers = 2

[[scenarios]]
name = "example.stripes"

[zoo]
archs = ["example.mlp"]

[[problems]]
family = "example.subset-ensemble"

[[solvers]]
name = "optuna.tpe"
params = { storage = "sqlite:///optuna/studies.db" }
"""


def studies(url: str) -> dict[str, optuna.Study]:
    names = optuna.study.get_all_study_names(url)
    return {n: optuna.load_study(study_name=n, storage=url) for n in names}


def check_studies(out: Path) -> None:
    """Every job's study is there, named after the job, objectives named, trials = the logged evaluations."""
    url = f"sqlite:///{out / 'optuna' / 'studies.db'}"
    found = studies(url)
    evaluations = pd.read_parquet(out / "evaluations.parquet")
    assert sorted(found) == sorted(evaluations.job.unique()) and len(found) == 2
    for job, study in found.items():
        assert study.metric_names == ["wide", "fine"]
        trials = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
        logged = evaluations[evaluations.job == job].sort_values("eval")
        assert len(trials) == len(logged) == 12
        np.testing.assert_allclose([t.values for t in trials], logged[["f.wide", "f.fine"]].to_numpy())


@pytest.mark.slow
def test_two_jobs_share_one_storage_on_the_process_executor_and_a_resumed_run_replaces_a_killed_study(
    tmp_path, cache_dir
):
    (tmp_path / "studies.toml").write_text(SUITE)
    suite = load_suite(str(tmp_path / "studies.toml"))
    out = tmp_path / "run"
    outcome = run_suite(suite, out, cache_dir=cache_dir, quiet=True)
    assert outcome.failed == 0 and outcome.ran == 2
    assert not (Path.cwd() / "optuna").exists()
    check_studies(out)

    # a run killed while its second job was running: the manifest says running, the job pending
    manifest_file = out / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    killed = sorted(manifest["jobs"])[1]
    manifest["status"] = "running"
    manifest["jobs"][killed] = {"status": "pending"}
    manifest_file.write_text(json.dumps(manifest))
    outcome = run_suite(suite, out, cache_dir=cache_dir, quiet=True)
    assert outcome.failed == 0 and outcome.ran == 1
    check_studies(out)  # the killed job's study was replaced, not appended to or refused


def test_storage_urls_resolve_inside_the_run_directory(tmp_path):
    run = tmp_path / "run"
    assert resolve_storage("sqlite:///studies.db", run) == f"sqlite:///{run.resolve() / 'studies.db'}"
    assert resolve_storage("sqlite:////data/all.db", run) == "sqlite:////data/all.db"
    assert resolve_storage("postgresql://u:p@db/optuna", run) == "postgresql://u:p@db/optuna"
    with pytest.raises(InputError, match="storage 'studies.db' is not a database URL"):
        create_solver("optuna.tpe", storage="studies.db")
