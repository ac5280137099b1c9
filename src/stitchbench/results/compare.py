"""Put several runs side by side: indicator tables and the best front point per party."""

from pathlib import Path

import pandas as pd

from .store import RunDir


def compare(dirs: list[Path]) -> pd.DataFrame:
    """Mean ± sd normalized test hypervolume (and IGD+ where known) per problem instance and solver, one column
    per run."""
    frames = []
    for d in dirs:
        run = RunDir(d)
        run.verify(run.require(), aggregates=True)  # a changed aggregate is refused, never shown
        ind = run.table("indicators")
        ind = ind[ind.split == "test"]
        g = ind.groupby(["instance", "solver"]).hypervolume.agg(["mean", "std"])
        cell = g["mean"].map("{:.4f}".format) + " ± " + g["std"].fillna(0).map("{:.4f}".format)
        frames.append(cell.rename(f"HV {d.name or d}"))
        if "igd_plus" in ind:
            igd = ind.groupby(["instance", "solver"]).igd_plus.mean().dropna()
            if len(igd):
                frames.append(igd.map("{:.4f}".format).rename(f"IGD+ {d.name or d}"))
    table = pd.concat(frames, axis=1).fillna("—").reset_index()
    return table
