"""A suite's `tables`: shipped tabular instances run from their tables, so a run trains nothing and benchmarks
the shipped instances on any CPU (the `solvers` suite); bad tables are refused before anything is written."""

import numpy as np
import pandas as pd
import pytest

from stitchbench.benchmark._runner import run_suite
from stitchbench.benchmark._suite import load_suite
from stitchbench.cli import main
from stitchbench.solvers import create_solver, run_solver
from stitchbench.tabular._catalog import read_catalog
from stitchbench.tabular._load import load_shipped

APPROXIMATE = "digits-shift.weights-4"  # an ensemble-weights table: a best-known front
EXACT = "digits-shift.graph-7@uci-digits+cost"  # a stitch graph: an exact front

SUITE = """
name = "tables"
seeds = [0]
budget = 60
tables = {tables}

[[solvers]]
name = "random"
"""


def write(tmp_path, text: str, name: str = "suite.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_suite_of_tables_runs_the_shipped_instances_and_trains_nothing(tmp_path, monkeypatch):
    """With an empty cache: no model, stitch set or table is built or stored; every instance is the shipped
    record, from the installed collection (not a folder of its name where the run starts); the references are
    the shipped fronts (best-known where approximate); a job's evaluations are those of its solver on the
    loaded table."""
    import shutil

    from stitchbench.tabular._catalog import COLLECTION

    monkeypatch.chdir(tmp_path)
    shutil.copytree(COLLECTION / "digits-shift.weights-5", tmp_path / APPROXIMATE)  # a decoy of its name
    cache = tmp_path / "cache"
    suite = load_suite(str(write(tmp_path, SUITE.format(tables=f'["{APPROXIMATE}", "{EXACT}"]'))))
    outcome = run_suite(suite, tmp_path / "out", cache_dir=cache, quiet=True)
    assert (outcome.ran, outcome.failed) == (2, 0)
    assert not cache.exists() or not any(cache.rglob("*.safetensors"))  # nothing trained, built or stored
    tables = {name: load_shipped(name) for name in (APPROXIMATE, EXACT)}
    assert outcome.instances == {t.instance.id: t.instance.model_dump() for t in tables.values()}
    assert outcome.not_shipped() == []
    fronts = pd.read_parquet(tmp_path / "out" / "exact_fronts.parquet")
    sources = fronts.groupby("instance").source.first().to_dict()
    assert sources == {
        tables[APPROXIMATE].instance.id: "best-known front (collection)",
        tables[EXACT].instance.id: "exact front",
    }
    for table in tables.values():
        rows = fronts.query("instance == @table.instance.id and split == 'val'")
        front = rows.pivot(index="point", columns="objective", values="value")[table.instance.objectives]
        np.testing.assert_array_equal(front.to_numpy(), table.exact_front("val"))
    evals = pd.read_parquet(tmp_path / "out" / "evaluations.parquet")
    table = tables[APPROXIMATE]
    mine = evals.query("instance == @table.instance.id").sort_values("eval")
    alone = run_solver(create_solver("random"), table, 60, 0)
    F = np.array([e.f for e in alone.log])
    np.testing.assert_array_equal(mine[[f"f.{o.name}" for o in table.objectives]].to_numpy(), F)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SUITE.format(tables='["no-such-table"]'), "unknown table 'no-such-table'; valid tables: cross-arch"),
        (SUITE.format(tables=f'["{EXACT}", "{EXACT}"]'), f"tables: '{EXACT}' appears twice"),
        (SUITE.format(tables="[]"), "no instances: give problems (with the scenarios they are set on) or tables"),
        (
            SUITE.format(tables=f'["{APPROXIMATE}"]').replace('"random"', '"exhaustive"'),
            "solver 'exhaustive' does not support real variables",
        ),
        (
            SUITE.format(tables="[]") + '\n[[problems]]\nfamily = "ensemble-weights"\n',
            "problems need scenarios to be set on: give [[scenarios]]",
        ),
        (
            SUITE.format(tables=f'["{APPROXIMATE}"]')
            + '\n[[scenarios]]\nname = "digits-shift"\n\n[[problems]]\nid = "weights-4"\nfamily = "ensemble-weights"'
            '\nparams = { members = ["local", "fedavg", "fedprox"] }\n',
            "job 'digits-shift/z0/weights-4/random/s0' appears twice (two problems, or a problem and a table",
        ),
        (  # a misspelt scenario is named as such (not as the scenario the problem then leaves bare)
            SUITE.format(tables="[]") + '\n[[scenarios]]\nname = "digits-shift"\n\n[[problems]]\n'
            'family = "ensemble-weights"\nscenarios = ["digits"]\n',
            "unknown scenario of problem 'ensemble-weights' (the suite's scenarios) 'digits'",
        ),
        (  # nothing is set on it: its zoo would be trained for nothing, or silently not at all
            SUITE.format(tables=f'["{APPROXIMATE}"]') + '\n[[scenarios]]\nname = "digits-shift"\n',
            "scenario 'digits-shift' has no problem set on it: set one on it, or leave it out",
        ),
        (
            SUITE.format(tables=f'["{APPROXIMATE}"]') + "\n[zoo]\nseeds = [0, 1]\n",
            "zoo is set, but there is no scenario",
        ),
        (  # claim 4's pools come from models: a verdict on tables would be an empty one
            SUITE.format(tables=f'["{APPROXIMATE}"]\nanalyses = ["claims"]'),
            "analysis 'claims' reads the models of problems built from scenarios, and tables hold none",
        ),
    ],
)
def test_bad_tables_exit_2_naming_them_and_write_nothing(tmp_path, capsys, text, message):
    out = tmp_path / "out"
    assert main(["run", str(write(tmp_path, text)), "--out", str(out), "--check"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_a_table_is_not_exported_again(tmp_path):
    from stitchbench.benchmark._export import export_instance
    from stitchbench.errors import InputError

    name = next(iter(read_catalog()))
    with pytest.raises(InputError, match=rf"is the shipped table '{name}' already: load it with stitchbench"):
        export_instance(read_catalog()[name]["instance"], tmp_path / "x", suite_ref="solvers")
    assert not (tmp_path / "x").exists()


def test_a_tables_suite_key_holds_its_tables_sha256s(tmp_path, monkeypatch):
    """A run resumes only on the tables it started with: a rebuilt table (another manifest sha256) is another
    suite; a suite without tables keeps its key (`Suite.key`)."""
    suite = load_suite(str(write(tmp_path, SUITE.format(tables=f'["{APPROXIMATE}", "{EXACT}"]'))))
    key = suite.key
    rebuilt = {name: dict(entry) for name, entry in read_catalog().items()}
    rebuilt[EXACT]["manifest_sha256"] = "0" * 64
    monkeypatch.setattr("stitchbench.benchmark._suite.read_catalog", lambda: rebuilt)
    assert suite.key != key
    rebuilt[EXACT] = read_catalog()[EXACT]
    assert suite.key == key


def test_rebuilding_a_report_gives_the_runs_own(tmp_path):
    """A run's report and `stitchbench report`'s rebuild of it are the same, byte for byte, where the suite's
    order of jobs is not the order the manifest keeps them in (sorted)."""
    text = SUITE.format(tables=f'["{APPROXIMATE}", "{EXACT}"]').replace("seeds = [0]", "seeds = [0, 1]")
    suite = load_suite(str(write(tmp_path, text + '\n[[solvers]]\nname = "pymoo.nsga2"\nparams = { pop_size = 10 }\n')))
    out = tmp_path / "out"
    assert run_suite(suite, out, cache_dir=tmp_path / "cache", quiet=True).failed == 0
    first = (out / "report.md").read_bytes()
    assert main(["report", str(out)]) == 0
    assert (out / "report.md").read_bytes() == first
