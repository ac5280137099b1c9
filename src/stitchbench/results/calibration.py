"""Calibrated difficulty of a collection's instances, from a finished run of its suite: an instance is
*calibrated* where, at the suite's budget on val, the best solver (highest mean hypervolume) is
significantly better than random search (two-sided Mann-Whitney U over seeds, Holm-corrected over the
instance's solver-vs-random tests), does not reach the exact front on every seed, and the spread of the
solvers' mean hypervolumes exceeds SPREAD times the seed standard error of the best: neither saturated
(every solver ends at the same value, or the best always at the optimum) nor unreachable (no solver gets
anywhere random search does not)."""

from pathlib import Path

import numpy as np
import pandas as pd

from stitchbench.errors import InputError

from .indicators import hypervolume, long_front
from .statistics import ALPHA, a12, holm, seeds_to_decide, smallest_p
from .store import RunDir, instances_of

SPREAD = 100  # the solvers' mean hypervolumes must spread over more than SPREAD seed SEs of the best
BASELINE = "random"


def calibrate(indicators: pd.DataFrame, exact: pd.DataFrame, instances: dict, baseline: str = BASELINE) -> list[dict]:
    """One record per instance: the exact (or approximate) front's hypervolume on val, each solver's mean,
    SE, Holm p and A12 against `baseline`, the best solver, the spread and the verdict."""
    from scipy.stats import mannwhitneyu

    out = []
    val = indicators[indicators.split == "val"] if len(indicators) else indicators
    if not len(val):
        raise InputError("no finished jobs to calibrate")
    if baseline not in set(val.solver):
        raise InputError(
            f"no finished {baseline!r} jobs to calibrate against; solvers: {', '.join(sorted(set(val.solver)))}"
        )
    for iid, g in val.groupby("instance", sort=True):
        rec = instances[iid]
        front = long_front(exact, rec, "val", rec.objectives)
        hv = {s: h.hypervolume.to_numpy(dtype=float) for s, h in g.groupby("solver", sort=True)}
        others = [s for s in hv if s != baseline]
        if baseline not in hv or not others:
            missing = f"no finished {baseline!r} jobs" if baseline not in hv else f"no solver but {baseline!r} finished"
            out.append(
                {
                    "instance": iid,
                    "front": rec.front,
                    "front_hv": float("nan"),
                    "seeds": 0,
                    "solvers": {},
                    "best": None,
                    "spread": float("nan"),
                    "spread_in_se": float("nan"),
                    "verdict": f"undecided: {missing}",
                }
            )
            continue
        p = np.array([mannwhitneyu(hv[s], hv[baseline], alternative="two-sided").pvalue for s in others])
        p_holm = dict(zip(others, holm(np.nan_to_num(p, nan=1.0)), strict=True))
        means = {s: float(v.mean()) for s, v in hv.items()}
        se = {s: float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan") for s, v in hv.items()}
        best = max(means, key=means.get)
        spread = max(means.values()) - min(means.values())
        front_hv = hypervolume(front, rec) if front is not None else float("nan")
        beats = best != baseline and p_holm[best] <= ALPHA and a12(hv[best], hv[baseline]) > 0.5
        solved = rec.front == "exact" and bool((hv[best] >= front_hv - 1e-12).all())
        decidable = len(others) * smallest_p(len(hv[best]), len(hv[baseline])) <= ALPHA if best != baseline else True
        if not decidable:
            verdict = f"undecided: too few seeds ({len(hv[best])}; {seeds_to_decide(len(others))} would decide)"
        elif not beats:
            verdict = f"saturated: the best is not significantly better than {baseline}"
        elif solved:
            verdict = "saturated: the best solver reaches the exact front on every seed"
        elif not spread > SPREAD * se[best]:
            verdict = f"saturated: the spread is under {SPREAD} SE of the best"
        else:
            verdict = "calibrated"
        out.append(
            {
                "instance": iid,
                "front": rec.front,
                "front_hv": front_hv,
                "seeds": int(min(len(v) for v in hv.values())),
                "solvers": {
                    s: {
                        "mean": means[s],
                        "se": se[s],
                        **({"p_holm": float(p_holm[s]), "A12": a12(hv[s], hv[baseline])} if s != baseline else {}),
                    }
                    for s in hv
                },
                "best": best,
                "spread": spread,
                "spread_in_se": spread / se[best] if se[best] > 0 else float("inf"),
                "verdict": verdict,
            }
        )
    return out


def calibration_of_run(run_dir: Path) -> list[dict]:
    run = RunDir(run_dir)
    manifest = run.require()
    run.verify(manifest, aggregates=True)
    records = calibrate(run.table("indicators"), run.table("exact_fronts"), instances_of(manifest))
    suite = manifest["suite"]
    measured = {
        "budget": suite["budget"],
        "solver_params": {s.get("id") or s["name"]: s.get("params", {}) for s in suite["solvers"]},
    }
    return [r | measured for r in records]


def calibration_table(records: list[dict]) -> pd.DataFrame:
    """The calibration as a table: per instance the front's HV, each solver's mean ± SE (p and A12 against
    random), the spread in SEs of the best, the verdict."""
    rows = []
    for r in records:
        hv = r["front_hv"]
        row = {"instance": r["instance"], "front HV": "—" if np.isnan(hv) else f"{hv:.4f} ({r['front']})"}
        for s, v in r["solvers"].items():
            cell = f"{v['mean']:.4f} ± {v['se']:.4f}"
            if "p_holm" in v:
                cell += f" (p {v['p_holm']:.2g}, A12 {v['A12']:.2f})"
            row[s] = cell
        ratio = r["spread_in_se"]
        row["spread / SE(best)"] = "—" if np.isnan(ratio) else f"{ratio:.0f}" if ratio < 1e6 else "∞ (SE ≈ 0)"
        row["verdict"] = r["verdict"]
        rows.append(row)
    return pd.DataFrame(rows)


def summary(records: list[dict]) -> str:
    """How many instances are calibrated, and the ones that are not."""
    off = [r["instance"] for r in records if r["verdict"] != "calibrated"]
    line = f"{len(records) - len(off)} of {len(records)} instances calibrated at the run's budget"
    return line + (f"; not: {', '.join(off)}" if off else "")
