"""Put several runs side by side: what each run was (suite, budget, seeds, jobs) and its test indicators per
problem instance and solver."""

from pathlib import Path

import pandas as pd

from ._store import RunDir

FORMATS = ("table", "csv", "md")


def run_labels(dirs: list[Path]) -> list[str]:
    """Each run's folder name; where two share one, numbered in the order given (`run`, `run #2`)."""
    names = [Path(d).name or str(d) for d in dirs]
    return [n if names.count(n) == 1 else f"{n} #{names[: i + 1].count(n)}" for i, n in enumerate(names)]


def describe_run(label: str, manifest: dict) -> dict:
    """A run's suite, budget, seed counts and job counts (one row of `compare`'s run table)."""
    suite, jobs = manifest["suite"], manifest["jobs"].values()
    return {
        "run": label,
        "suite": suite.get("name"),
        "budget": suite.get("budget"),
        "solver seeds": len(suite.get("seeds", [])),
        "zoo seeds": len(suite.get("zoo", {}).get("seeds", [0])),
        "jobs done": sum(j["status"] == "done" for j in jobs),
        "jobs failed": sum(j["status"] != "done" for j in jobs),
    }


def compare_runs(dirs: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, results): one row per run, and one row per run, instance and solver with its finished jobs'
    test hypervolume (mean, sd, n) and IGD+ (mean, where the instance's front is known). Every run's job
    files and aggregates are verified first: a changed one is refused, never shown."""
    runs, rows = [], []
    for d, label in zip(dirs, run_labels(dirs), strict=True):
        run = RunDir(d)
        manifest = run.require()
        run.verify(manifest, aggregates=True)
        runs.append(describe_run(label, manifest))
        ind = run.table("indicators")
        ind = ind[ind.split == "test"]
        g = ind.groupby(["instance", "solver"])
        stats = g.hypervolume.agg(hv_mean="mean", hv_sd="std", n="count")
        stats["igd_plus_mean"] = g.igd_plus.mean() if "igd_plus" in ind else float("nan")
        rows.append(stats.reset_index().assign(run=label))
    results = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return pd.DataFrame(runs), results[["run", *[c for c in results.columns if c != "run"]]]


def side_by_side(results: pd.DataFrame) -> pd.DataFrame:
    """The results as one row per instance and solver, a `HV <run>` (mean ± sd, n) and, where known, an
    `IGD+ <run>` column per run."""
    cells = []
    for label, r in results.groupby("run", sort=False):
        r = r.set_index(["instance", "solver"])
        hv = r.hv_mean.map("{:.4f}".format) + " ± " + r.hv_sd.fillna(0).map("{:.4f}".format)
        cells.append((hv + " (n=" + r.n.astype(str) + ")").rename(f"HV {label}"))
        if r.igd_plus_mean.notna().any():
            cells.append(r.igd_plus_mean.dropna().map("{:.4f}".format).rename(f"IGD+ {label}"))
    return pd.concat(cells, axis=1).fillna("—").reset_index()
