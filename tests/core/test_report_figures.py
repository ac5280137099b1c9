"""The report's front figure shows what a reader needs at a glance (the exact front and E as reference
lines, claim 4's deciding point, a zoomed panel beside the full view), and every figure draws a solver in
one colour; checked on the figures' artists."""

import numpy as np
import pandas as pd
from matplotlib.colors import to_hex

from stitchbench.results._figures import solver_colours
from stitchbench.results._instance_figures import FrontRefs, draw_fronts, draw_hv, projected_front

from .test_leaderboard import record

SOLVERS = ("random", "pymoo.nsga2", "optuna.tpe")


def fronts_table(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for solver in SOLVERS:
        for s in range(3):
            a = np.sort(rng.uniform(0.6, 0.95, 6))
            for x, y in zip(a, 1.55 - a + rng.normal(0, 0.01, 6), strict=True):
                rows.append({"instance": "i0", "split": "test", "solver": solver, "seed": s, "f.A": x, "f.B": y})
    return pd.DataFrame(rows)


def refs() -> FrontRefs:
    front = np.array([[0.6, 0.99], [0.8, 0.9], [0.97, 0.7], [0.7, 0.8]])  # the last is dominated
    ensembles = np.array([[0.7, 0.85], [0.9, 0.7]])
    base = {"merged": np.array([0.9, 0.91]), "ensemble": np.array([0.85, 0.88]), "local:A": np.array([0.97, 0.3])}
    return FrontRefs(front, "exact", ensembles, [("claim 4 deciding point (zoo seed 0)", np.array([0.88, 0.9]))], base)


def test_the_front_figure_draws_the_references_the_deciding_point_and_zooms():
    colours = solver_colours(SOLVERS)
    fig = draw_fronts(record("i0"), fronts_table(), refs(), colours)
    zoomed, full = fig.axes[:2]
    lines = {line.get_label(): line for line in zoomed.get_lines()}
    exact = lines["exact front"]
    np.testing.assert_allclose(np.column_stack([exact.get_xdata(), exact.get_ydata()]), refs().front[:3])
    assert "E: weighted output ensembles (val-chosen)" in lines
    for solver in SOLVERS:
        assert to_hex(lines[f"{solver} (median; quartiles dotted)"].get_color()) == colours[solver]
    star = next(c for c in zoomed.collections if c.get_label().startswith("claim 4 deciding point"))
    np.testing.assert_allclose(star.get_offsets(), [[0.88, 0.9]])
    (x0, x1), (y0, y1) = zoomed.get_xlim(), zoomed.get_ylim()
    assert x1 - x0 < (full.get_xlim()[1] - full.get_xlim()[0]) / 2  # zoomed in ...
    assert x0 < 0.85 and x1 >= 0.97 and y0 < 0.88 and y1 >= 0.99  # ... around the references and up to the best
    assert full.get_ylim()[0] < 0.3  # the full view keeps every baseline


def test_a_solver_has_one_colour_in_every_figure():
    colours = solver_colours(SOLVERS)
    anytime = pd.DataFrame(
        [
            {"job": f"{s}{k}", "instance": "i0", "solver": s, "seed": k, "eval": e, "hypervolume": e / 100}
            for s in SOLVERS
            for k in range(2)
            for e in (1, 10, 100)
        ]
    )
    hv = {
        line.get_label(): to_hex(line.get_color())
        for line in draw_hv(record("i0"), anytime, colours).axes[0].get_lines()
    }
    assert {s: hv[s] for s in SOLVERS} == colours
    fronts = draw_fronts(record("i0"), fronts_table(), refs(), colours).axes[0].get_lines()
    drawn = {
        line.get_label().split(" ")[0]: to_hex(line.get_color()) for line in fronts if "median" in line.get_label()
    }
    assert drawn == colours
    assert len(set(colours.values())) == len(SOLVERS)
    assert solver_colours(["optuna.tpe", "random", "pymoo.nsga2", "random"]) == colours  # order-free


def test_projected_front_keeps_the_nondominated_projection():
    F = np.array([[0.9, 0.5, 3.0], [0.5, 0.9, 1.0], [0.4, 0.4, 0.0]])
    np.testing.assert_array_equal(projected_front(F, 0, 1, [True, True, False]), [[0.5, 0.9], [0.9, 0.5]])


def test_front_references_of_a_cost_instance_take_e_on_its_parties():
    import json

    from stitchbench.results._instance_figures import front_refs

    rec = record("i0").model_copy(update={"objectives": ["A", "B", "cost"], "maximize": [True, True, False]})
    rows = [
        ("i0", "test", k, o, v) for k, (a, b) in enumerate([(0.7, 0.85), (0.9, 0.7)]) for o, v in (("A", a), ("B", b))
    ]
    ensembles = pd.DataFrame(rows, columns=["instance", "split", "point", "objective", "value"])
    base = pd.DataFrame(columns=["instance", "split", "baseline", "objective", "value"])
    refs = front_refs(rec, pd.DataFrame(), ensembles, base, json.loads("{}"))
    np.testing.assert_array_equal(refs.ensembles[:, :2], [[0.7, 0.85], [0.9, 0.7]])
    assert np.isnan(refs.ensembles[:, 2]).all() and refs.front is None and refs.deciding == []
