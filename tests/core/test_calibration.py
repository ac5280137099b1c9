"""Calibrated difficulty: an instance passes only where the best solver beats random search significantly,
does not always reach the exact front, and the solvers' means spread over 100 SEs of the best; each way
of failing is shown on data built to fail it."""

import numpy as np
import pandas as pd

from stitchbench.results.calibration import calibrate, calibration_table

from .test_leaderboard import exact_table, record


def jobs(means: dict[str, float], sd: dict[str, float], seeds: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = [
        {"instance": "i0", "solver": s, "seed": k, "split": "val", "hypervolume": m + sd[s] * rng.standard_normal()}
        for s, m in means.items()
        for k in range(seeds)
    ]
    return pd.DataFrame(rows)


def verdict(ind: pd.DataFrame, corner: float = 0.8) -> dict:
    (r,) = calibrate(ind, exact_table(["i0"], corner), {"i0": record("i0")})
    return r


def test_a_separated_instance_is_calibrated():
    r = verdict(jobs({"random": 0.50, "good": 0.70}, {"random": 0.01, "good": 0.0005}))
    assert r["verdict"] == "calibrated" and r["best"] == "good" and r["spread_in_se"] > 100
    assert r["front_hv"] == 0.8 and r["solvers"]["good"]["p_holm"] < 1e-6 and r["solvers"]["good"]["A12"] == 1.0
    table = calibration_table([r])
    assert table.loc[0, "front HV"] == "0.8000 (exact)" and table.loc[0, "verdict"] == "calibrated"


def test_each_way_of_failing_calibration():
    equal = verdict(jobs({"random": 0.7, "other": 0.7}, {"random": 0.01, "other": 0.01}))
    assert equal["verdict"] == "saturated: the best is not significantly better than random"
    narrow = verdict(jobs({"random": 0.70, "good": 0.72}, {"random": 0.01, "good": 0.01}))
    assert narrow["verdict"] == "saturated: the spread is under 100 SE of the best"
    few = verdict(jobs({"random": 0.5, "good": 0.7}, {"random": 0.01, "good": 0.0005}, seeds=3))
    assert few["verdict"] == "undecided: too few seeds (3; 4 would decide)"
    solved = verdict(jobs({"random": 0.5, "good": 0.8}, {"random": 0.01, "good": 0.0}))
    assert solved["verdict"] == "saturated: the best solver reaches the exact front on every seed"


def test_a_run_without_random_search_cannot_be_calibrated():
    import pytest

    from stitchbench.errors import InputError

    with pytest.raises(InputError, match="no finished 'random' jobs to calibrate against; solvers: good"):
        verdict(jobs({"good": 0.7}, {"good": 0.01}))
    with pytest.raises(InputError, match="no finished jobs to calibrate"):
        verdict(pd.DataFrame())


def test_an_instance_missing_random_search_or_every_other_solver_is_undecided():
    """Decided per instance: one instance's failed jobs leave the others' verdicts standing."""
    ind = jobs({"random": 0.50, "good": 0.70}, {"random": 0.01, "good": 0.0005})
    alone = ind[ind.solver == "random"].assign(instance="i1")
    orphan = ind[ind.solver == "good"].assign(instance="i2")
    records = calibrate(
        pd.concat([ind, alone, orphan]),
        exact_table(["i0", "i1", "i2"], 0.8),
        {i: record(i) for i in ("i0", "i1", "i2")},
    )
    assert [r["verdict"] for r in records] == [
        "calibrated",
        "undecided: no solver but 'random' finished",
        "undecided: no finished 'random' jobs",
    ]
    table = calibration_table(records)
    assert table.loc[1, "front HV"] == "—" and table.loc[2, "spread / SE(best)"] == "—"
