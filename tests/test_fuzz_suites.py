"""Fuzzing suites: one field or declared parameter of a valid suite is mutated at a time, over every field of
the suite's schema (suite, zoo, recipe, scenario, problem, stitch recipe, solver) and every declared
parameter of every registered scenario, problem family and solver. A value that breaks its declaration
(type or range) must exit 2 with a one-line message; any other mutation may be valid (`run --check` then
exits 0). Never a traceback, never another exit code, and nothing written: neither --out nor the cache.

`make test` runs FUZZ_EXAMPLES examples (default 300); the figure in the docs is from
`STITCHBENCH_FUZZ_EXAMPLES=1500 pytest tests/test_fuzz_suites.py`."""

import contextlib
import io
import json
import math
import os
import typing
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stitchbench._params import model
from stitchbench.benchmark._suite import ProblemSpec, ScenarioSpec, SolverSpec, Suite, ZooSpec
from stitchbench.cli import main
from stitchbench.data import SCENARIOS
from stitchbench.problems import PROBLEMS
from stitchbench.problems._registry import contract
from stitchbench.solvers import SOLVERS
from stitchbench.stitching import StitchRecipe
from stitchbench.zoo import Recipe

FUZZ_EXAMPLES = int(os.environ.get("STITCHBENCH_FUZZ_EXAMPLES", "300"))

VALID = {
    "name": "fuzz",
    "seeds": [0],
    "budget": 10,
    "scenarios": [{"name": "digits-shift"}],
    "problems": [{"family": "ensemble-weights"}],
    "solvers": [{"name": "random"}],
}


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def to_toml(d: dict) -> str:
    scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in d.items() if isinstance(v, dict)}
    text = "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in scalars.items())
    return text + "".join(f"[{json.dumps(k)}]\n" + to_toml(v) for k, v in tables.items())


def bounds(info) -> dict[str, Any]:
    out = {}
    for meta in info.metadata:
        for attr in ("ge", "gt", "le", "lt"):
            if getattr(meta, attr, None) is not None:
                out[attr] = getattr(meta, attr)
    return out


def core_type(annotation) -> Any:
    """The declared type less Optional and Annotated: int, float, str, bool, list, dict, Literal, ..."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return core_type(args[0]) if len(args) == 1 else annotation
    if typing.get_origin(annotation) is typing.Annotated:
        return core_type(args[0])
    return annotation


def breaking(info) -> list[Any]:
    """Values that surely break a field's declaration (type or range), as TOML can write them."""
    t, b = core_type(info.annotation), bounds(info)
    origin = typing.get_origin(t) or t
    if t is bool:
        return ["yes", 0.5, [True]]
    if t is int:
        out = [1.5, "3", "x", math.nan, math.inf, [1]]
        out += [b["ge"] - 1] if "ge" in b else []
        out += [b["gt"]] if "gt" in b else []
        out += [int(b["le"]) + 1, 10**18] if "le" in b else []
        out += [int(b["lt"])] if "lt" in b else []
        return out
    if t is float:
        out = ["x", math.nan, math.inf, -math.inf, [0.5]]
        out += [b["ge"] - 0.5] if "ge" in b else []
        out += [b["gt"]] if "gt" in b else []
        out += [b["le"] * 2 + 1] if "le" in b else []
        return out
    if t is str:
        return [3, 1.5, ["a"], {"a": 1}]
    if origin is typing.Literal:
        return ["not-one-of-them", 3]
    if origin in (list, tuple, typing.get_origin(typing.Sequence[str])):
        element = (typing.get_args(t) or (Any,))[0]
        bad = [1] if core_type(element) is str else ["a"]
        return ["a", 3, {"a": 1}] + (bad if element is not Any else [])
    if origin is dict:
        return ["x", 3, [1]]
    return []


def free(info) -> list[Any]:
    """Values of any kind for an undeclared (Any) field: some may be valid."""
    return ["x", 3, -1, 0.5, math.nan, [], [1, "a"], ["cnn"], {"a": 1}, True, ""]


def field_mutations(schema, path: tuple, suite: dict | None = None) -> list[tuple[tuple, list, list, dict]]:
    """(path, breaking values, free values, base suite) for every field of a pydantic schema."""
    out = []
    for name, info in schema.model_fields.items():
        out.append(((*path, name), breaking(info), free(info), suite or VALID))
    return out


def with_value(suite: dict, path: tuple, value) -> dict:
    suite = json.loads(json.dumps(suite))
    node = suite
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
    node[path[-1]] = value
    return suite


def targets() -> list[tuple[tuple, list, list, dict]]:
    out = field_mutations(Suite, ())
    out += field_mutations(ZooSpec, ("zoo",))
    out += field_mutations(Recipe, ("zoo", "recipe"))
    out += field_mutations(ScenarioSpec, ("scenarios", 0))
    out += field_mutations(ProblemSpec, ("problems", 0))
    out += field_mutations(SolverSpec, ("solvers", 0))
    for e in SCENARIOS:
        base = with_value(VALID, ("scenarios", 0, "name"), e.name)
        out += field_mutations(model(e.factory), ("scenarios", 0, "params"), base)
    for e in PROBLEMS:
        base = with_value(VALID, ("problems", 0, "family"), e.name)
        if e.name != "ensemble-weights":
            base = with_value(base, ("problems", 0, "hosts"), ["mnist"])
            out += field_mutations(StitchRecipe, ("problems", 0, "params", "recipe"), base)
        skip = {"zoo", *contract(e.name).injected.values()}
        out += [m for m in field_mutations(model(e.factory), ("problems", 0, "params"), base) if m[0][-1] not in skip]
    for e in SOLVERS:
        base = with_value(VALID, ("solvers", 0, "name"), e.name)
        out += field_mutations(model(e.factory), ("solvers", 0, "params"), base)
    return out


TARGETS = targets()


@st.composite
def mutated_suites(draw):
    path, broken, anything, base = draw(st.sampled_from(TARGETS))
    surely = bool(broken) and draw(st.booleans())
    value = draw(st.sampled_from(broken if surely else anything))
    return with_value(base, path, value), surely, path


def run_cli(argv):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_every_field_and_declared_parameter_is_a_target():
    paths = {t[0] for t in TARGETS}
    assert ("solvers", 0, "params", "pop_size") in paths and ("problems", 0, "params", "memo_size") in paths
    assert ("scenarios", 0, "params", "alpha") in paths and ("zoo", "recipe", "lr") in paths
    assert ("problems", 0, "params", "recipe", "match_epochs") in paths and ("time_limit",) in paths
    assert len(TARGETS) > 80


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutated_suites())
def test_mutated_suites_exit_2_with_a_message_and_write_nothing(case, tmp_path_factory):
    suite, surely_invalid, path = case
    tmp = tmp_path_factory.mktemp("fuzz")
    (tmp / "suite.toml").write_text(to_toml(suite), encoding="utf-8")
    out, cache = tmp / "out", tmp / "cache"
    code, _, err = run_cli(
        ["--quiet", "--cache", str(cache), "run", str(tmp / "suite.toml"), "--out", str(out), "--check"]
    )
    assert code in ((2,) if surely_invalid else (0, 2)), (path, suite, err)
    if code == 2:
        assert err.startswith("error: ") and "Traceback" not in err and err.count("\n") == 1, err
    assert not out.exists() and not cache.exists()


@pytest.mark.parametrize("path", [("solvers", 0, "params", "pop_size"), ("zoo", "recipe", "lr"), ("budget",)])
def test_run_refuses_what_check_refuses_before_writing(path, tmp_path, capsys):
    """`run` validates as `run --check` does, before its first write."""
    solver = with_value(VALID, ("solvers", 0, "name"), "pymoo.nsga2")
    suite = with_value(solver, path, math.inf)
    (tmp_path / "s.toml").write_text(to_toml(suite))
    args = [
        "--quiet",
        "--cache",
        str(tmp_path / "cache"),
        "run",
        str(tmp_path / "s.toml"),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main([*args, "--check"]) == 2
    check_err = capsys.readouterr().err
    assert main(args) == 2
    assert capsys.readouterr().err == check_err and check_err.startswith("error: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]
