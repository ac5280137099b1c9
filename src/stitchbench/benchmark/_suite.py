"""Suites: TOML files validated up front (pydantic), expanded into jobs (instance x solver x seed).

An instance is a problem set on a scenario (its models trained, or found in the cache) or a shipped tabular
instance named in `tables` (served from its table: no model is trained, and it is the same instance on every
CPU). Validation checks everything that can be checked before anything runs: field names and types, scenario,
architecture, problem family, table and solver names and parameters, and that each solver supports the
variable kinds of each problem. Errors name the file, the field path and the valid choices.
"""

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    model_validator,
)

from stitchbench import _devices as devices
from stitchbench._files import INPUT_DEPTH, parse, read_regular
from stitchbench._hashing import config_hash
from stitchbench._params import Seed
from stitchbench.data import SCENARIOS
from stitchbench.errors import InputError, explain, unknown
from stitchbench.moo import instance_id, scenario_key
from stitchbench.problems import PROBLEMS
from stitchbench.problems._registry import contract, variable_kinds
from stitchbench.results._analyses import ANALYSES
from stitchbench.solvers import check_supports, create_solver
from stitchbench.suites import shipped_suites
from stitchbench.tabular._catalog import read_catalog
from stitchbench.tabular._catalog import variable_kinds as table_kinds
from stitchbench.zoo import Recipe, check_archs

SLUG = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # a suite's name is a folder name under runs/: never a path
ID_MAX = 64  # a problem's or solver's id: instance ids name the report's figure files (255 bytes at most)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZooSpec(Strict):
    archs: list[str] | None = Field(None, description="default: each scenario's default architecture")
    seeds: list[Seed] = Field([0], min_length=1)
    recipe: dict[str, Any] = {}


class ScenarioSpec(Strict):
    name: str
    params: dict[str, Any] = {}
    id: str | None = Field(
        None,
        pattern=SLUG,
        description="its key in results, and what problems' `scenarios` name (default: its name, with a digest "
        "of the parameters that differ from their defaults)",
    )
    zoo: ZooSpec | None = Field(None, description="this scenario's zoo settings, in place of the suite's [zoo]")

    @property
    def label(self) -> str:
        """What problems' `scenarios` lists call it: its `id`, else its name."""
        return self.id or self.name


class ProblemSpec(Strict):
    family: str
    hosts: list[str] | None = Field(None, description="stitching families: one problem per host (default: all)")
    scenarios: list[str] | None = Field(None, description="the suite's scenarios it is set on (default: all)")
    params: dict[str, Any] = {}
    cost: StrictBool = False
    id: str | None = Field(None, min_length=1, max_length=ID_MAX, description="its label in instance ids")


class SolverSpec(Strict):
    name: str
    params: dict[str, Any] = {}
    id: str | None = Field(
        None, min_length=1, max_length=ID_MAX, description="its label in results (default: its name)"
    )
    budget: StrictInt | None = Field(
        None, gt=0, description="its own budget, below the suite's, where a full one costs it too much"
    )

    @property
    def label(self) -> str:
        """What jobs and results call it: its `id`, else its name (one solver with two parameter sets needs
        an id for each)."""
        return self.id or self.name


class Suite(Strict):
    name: str = Field(
        pattern=SLUG,
        description="letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters",
    )
    description: str = ""
    scenarios: list[ScenarioSpec] = Field([], description="what problems are set on (needed by problems)")
    zoo: ZooSpec = ZooSpec()
    problems: list[ProblemSpec] = Field([], description="problems built from the scenarios' models")
    tables: list[str] = Field(
        [],
        description="shipped tabular instances by name (`stitchbench table list`), served from their tables: no "
        "model is trained, and each is the same instance on every CPU",
    )
    solvers: list[SolverSpec] = Field(min_length=1)
    seeds: list[Seed] = Field(min_length=1, description="solver seeds")
    budget: StrictInt = Field(gt=0, le=1_000_000)
    time_limit: StrictFloat | StrictInt = Field(
        1800.0, gt=0, le=604_800, allow_inf_nan=False, description="seconds per job (<= 7 days)"
    )
    executor: Literal["local", "process", "ray"] = "local"
    workers: StrictInt = Field(2, ge=1, le=256)
    analyses: list[str] = Field([], description="analyses layered over the run (`stitchbench list analyses`)")
    device: Annotated[str, AfterValidator(devices.check)] = Field(
        "auto",
        description="where torch work runs: auto (the first CUDA device torch sees, else the CPU), cpu, cuda (every "
        "GPU) or cuda:N; --device overrides it",
    )

    @model_validator(mode="after")
    def _distinct(self):
        """Each list names each thing once (a repeat would make two jobs of one id)."""
        repeats = {
            "seeds": self.seeds,
            "zoo.seeds": self.zoo.seeds,
            "scenarios": [s.id or (s.name, sorted(s.params.items(), key=str)) for s in self.scenarios],
            "tables": self.tables,
            "solvers": [s.label for s in self.solvers],
            "analyses": self.analyses,
        }
        repeats |= {f"hosts of problem {p.id or p.family!r}": p.hosts or [] for p in self.problems}
        repeats |= {f"zoo.seeds of scenario {s.label!r}": s.zoo.seeds for s in self.scenarios if s.zoo}
        for field, values in repeats.items():
            twice = next((v for i, v in enumerate(values) if v in values[:i]), None)
            if twice is not None:
                hint = "; give each solver a distinct 'id'" if field == "solvers" else ""
                shown = twice
                if field == "scenarios" and isinstance(twice, tuple):
                    shown = twice[0] + (" (same params; give each a distinct 'id')" if twice[1] else "")
                raise ValueError(f"{field}: {shown!r} appears twice{hint}")
        return self

    @model_validator(mode="after")
    def _instances(self):
        """A suite has instances: problems (set on its scenarios) or tables."""
        if not self.problems and not self.tables:
            raise ValueError("no instances: give problems (with the scenarios they are set on) or tables")
        if self.problems and not self.scenarios:
            raise ValueError("problems need scenarios to be set on: give [[scenarios]]")
        if "zoo" in self.model_fields_set and not self.scenarios:
            raise ValueError("zoo is set, but there is no scenario for it to train: give [[scenarios]] or leave it out")
        return self

    @model_validator(mode="after")
    def _names(self):
        shipped = read_catalog()
        for name in self.tables:
            if name not in shipped:
                raise unknown("table", name, shipped)
        for s in self.scenarios:
            zoo, where = self.zoo_of(s), f"zoo of scenario {s.label!r}" if s.zoo else "zoo"
            check_archs(SCENARIOS.entry(s.name).tags.get("task"), zoo.archs or [])
            try:
                Recipe(**zoo.recipe)
            except ValidationError as e:
                raise ValueError(f"{where}.recipe: {explain(e).removeprefix('invalid Recipe: ')}") from e
        for name in self.analyses:
            if getattr(ANALYSES.entry(name).factory, "reads_models", False) and not self.problems:
                raise ValueError(
                    f"analysis {name!r} reads the models of problems built from scenarios, and tables hold none: "
                    "give problems, or leave it out"
                )
        names = [s.label for s in self.scenarios]
        for p in self.problems:
            PROBLEMS.entry(p.family)
            for name in p.scenarios or []:
                if name not in names:
                    raise unknown(f"scenario of problem {p.family!r} (the suite's scenarios)", name, names)
        used = {name for p in self.problems for name in (p.scenarios or names)}
        for name in names:
            if name not in used:
                raise ValueError(f"scenario {name!r} has no problem set on it: set one on it, or leave it out")
        for s in self.solvers:
            if s.budget is not None and s.budget > self.budget:
                raise ValueError(f"solver {s.label!r}: budget {s.budget} exceeds the suite's {self.budget}")
            create_solver(s.name, **s.params).check_budget(s.budget or self.budget)  # the name and parameters
            for p in self.problems:
                check_supports(s.name, set(variable_kinds(p.family, p.params)))
            for name in self.tables:
                try:
                    check_supports(s.name, table_kinds(shipped[name]))
                except InputError as e:
                    raise InputError(f"table {name!r}: {e}") from e
        return self

    def zoo_of(self, scenario: ScenarioSpec) -> ZooSpec:
        """The zoo settings a scenario's models train with: its own `zoo`, else the suite's."""
        return scenario.zoo or self.zoo

    @property
    def key(self) -> str:
        """The configuration's hash (a table's name with its manifest's sha256); a scenario's unset `id` and
        `zoo`, a solver's unset budget, no analyses, no tables and the default device are left out, so suites
        written before they existed keep their key (and their runs resume)."""
        left_out = {name for name in ("analyses", "tables") if not getattr(self, name)}
        data = self.model_dump(exclude=left_out | ({"device"} if self.device == "auto" else set()))
        if self.tables:  # and what they hold: a run does not resume on rebuilt tables
            data["tables"] = {name: read_catalog()[name]["manifest_sha256"] for name in self.tables}
        data["scenarios"] = [{k: v for k, v in s.items() if v is not None} for s in data["scenarios"]]
        data["solvers"] = [{k: v for k, v in s.items() if k != "budget" or v is not None} for s in data["solvers"]]
        return config_hash(data)


class Job(Strict):
    """One unit of work: a solver with a seed on one problem instance, of one scenario and zoo seed (a
    problem's: `scenario`, `zoo`, `problem_params`) or a shipped table (`table`: its name)."""

    id: str
    instance: str  # the problem instance id: SCENARIO[~PARAMS-DIGEST]/z<ZOO_SEED>/<problem id>
    scenario: ScenarioSpec | None  # None: a table's
    scenario_key: str
    zoo: ZooSpec | None  # None: a table's
    zoo_seed: int
    problem_id: str
    family: str
    problem_params: dict[str, Any]
    solver: SolverSpec
    seed: int
    budget: int
    time_limit: float
    analyses: list[str] = []  # what the job keeps for them beyond its evaluations and front
    table: str | None = None  # the shipped tabular instance it runs on (`stitchbench.tabular.load`)


def load_suite(ref: str, seeds: list[int] | None = None) -> Suite:
    """A shipped suite by name, or a TOML file by path; with `seeds` in place of its own."""
    path = Path(ref)
    if not path.suffix:
        suites = shipped_suites()
        if ref not in suites:
            raise unknown("suite", ref, suites)
        path = suites[ref]
    try:
        data = parse(tomllib.loads, read_regular(path), str(path), INPUT_DEPTH)
    except FileNotFoundError as e:
        raise InputError(f"suite file {path} not found; shipped suites: {', '.join(sorted(shipped_suites()))}") from e
    except OSError as e:  # a folder, unreadable, ...
        raise InputError(f"cannot read suite file {path}: {e.strerror or e}") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid TOML: {e}") from e
    try:
        suite = Suite(**data | ({"seeds": seeds} if seeds else {}))
        expand(suite)  # scenario parameters and hosts are checked here
        return suite
    except ValidationError as e:
        raise InputError(f"{path}: {explain(e)}") from e
    except (InputError, TypeError) as e:
        raise InputError(f"{path}: {e}") from e


def problem_instances(suite: Suite, spec: ProblemSpec, party_names: list[str]) -> list[tuple[str, dict]]:
    """(problem id, parameters) for each instance of a problem spec; stitching families one per host."""
    params = dict(spec.params)
    if spec.cost:
        params["cost"] = True
    if not contract(spec.family).hosted:
        if spec.hosts:
            raise InputError(f"problem {spec.family!r} takes no hosts")
        return [(spec.id or spec.family + ("+cost" if spec.cost else ""), params)]
    if "host" in spec.params:
        raise InputError(f"problem {spec.family!r}: set its hosts with hosts = [...], not params.host")
    hosts = spec.hosts or party_names
    for h in hosts:
        if h not in party_names:
            raise unknown("host party", h, party_names)
    base = spec.id or spec.family
    return [(f"{base}@{h}" + ("+cost" if spec.cost else ""), {**params, "host": h}) for h in hosts]


def check_problem(family: str, scenario, zoo_archs: list[str], params: dict[str, Any]) -> None:
    """A problem's parameter names and values, checked without building or training anything."""
    entry = PROBLEMS.entry(family)
    entry.check(params, skip=("zoo", *contract(family).injected.values()))
    check = getattr(entry.factory, "check_params", None)  # a Problem subclass's; plain factories have none
    if check is not None:
        check(scenario, zoo_archs, params)


def expand(suite: Suite) -> list[Job]:
    """Every job of the suite, in a fixed order: its problems' on each scenario and zoo seed, then its
    tables'."""
    from stitchbench.data import get_scenario
    from stitchbench.zoo._build import scenario_recipe

    jobs: dict[str, Job] = {}

    def add(instance: str, **fields) -> None:
        for solver in suite.solvers:
            for seed in suite.seeds:
                jid = f"{instance}/{solver.label}/s{seed}"
                if jid in jobs:
                    raise InputError(
                        f"job {jid!r} appears twice (two problems, or a problem and a table, of one instance id); "
                        "give the problems distinct 'id's"
                    )
                budget = solver.budget or suite.budget
                jobs[jid] = Job(
                    id=jid,
                    instance=instance,
                    solver=solver,
                    seed=seed,
                    budget=budget,
                    **fields,
                    time_limit=suite.time_limit,
                    analyses=suite.analyses,
                )

    for sc in suite.scenarios:
        try:
            scenario = get_scenario(sc.name, **sc.params)
        except InputError:
            raise
        except (ValueError, TypeError) as e:  # a plugin scenario refusing its parameters its own way
            raise InputError(f"scenario {sc.name!r} refused params {sc.params}: {type(e).__name__}: {e}") from e
        zoo = suite.zoo_of(sc)
        scenario_recipe(scenario, zoo.recipe)  # the recipe the zoo trains with, checked as merged
        parties = scenario.party_names
        zoo_archs = zoo.archs or [scenario.arch]
        skey = sc.id or scenario_key(sc.name, sc.params, SCENARIOS.entry(sc.name).parameters())
        for zoo_seed in zoo.seeds:
            for spec in (p for p in suite.problems if not p.scenarios or sc.label in p.scenarios):
                for pid, params in problem_instances(suite, spec, parties):
                    check_problem(spec.family, scenario, zoo_archs, params)
                    add(
                        instance_id(skey, zoo_seed, pid),
                        scenario=sc,
                        scenario_key=skey,
                        zoo=zoo,
                        zoo_seed=zoo_seed,
                        problem_id=pid,
                        family=spec.family,
                        problem_params=params,
                    )
    shipped = read_catalog()
    for name in suite.tables:
        entry = shipped[name]
        skey, _, pid = entry["instance"].split("/")
        add(
            entry["instance"],
            scenario=None,
            scenario_key=skey,
            zoo=None,
            zoo_seed=entry["provenance"]["zoo_seed"],
            problem_id=pid,
            family=entry["family"],
            problem_params={},
            table=name,
        )
    return list(jobs.values())
