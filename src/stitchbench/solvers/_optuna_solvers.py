"""Optuna's samplers through ask-and-tell: each job its own study, in memory or in a database storage.

With `storage` (a database URL) every study is kept for optuna-dashboard: in a run, each job's study is
named after its job id and its objectives after the problem's. A relative SQLite path lands in the run
directory. The driver creates the storage once before any job starts (so concurrent jobs never race to
create its schema), and replaces the study of a job that a killed run left unfinished; SQLite connections
wait up to SQLITE_TIMEOUT seconds for another process's write lock.
"""

import functools
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import sqlalchemy
from pydantic import Field

from stitchbench.errors import InputError
from stitchbench.moo._api import Problem

from ._api import Evaluator, Solver
from ._builtin import space_size

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

SQLITE_TIMEOUT = 60.0

ALL = frozenset({"real", "integer", "categorical", "binary"})
# a trial's generation (and so its parents) depends only on the generations before its own and how many of its
# own have completed: asking what completes the current generation asks the trials one at a time would
GENERATIONAL = frozenset({"nsga2", "nsga3"})


class OneStudyGenerations:
    """Optuna's genetic samplers, with their bookkeeping in O(1) per trial instead of O(trials): the same
    trials (a test compares them with Optuna's own samplers), a third less time in a 1,000-trial job. A new
    trial's generation is the highest generation among the complete trials, or the next where that one has
    `population_size` complete trials; Optuna scans every trial for those two numbers at each ask, this keeps
    them as trials complete (`after_trial`). The relative search space, the intersection of the complete
    trials' spaces (sorted by name, single values left out), is that of the first complete trial where every
    trial asks one fixed space, as `OptunaSolver.solve`'s do; Optuna intersects (and deep-copies) it again
    at each ask. So an instance serves one study, created with it, whose trials all ask the same space."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._study: tuple | None = None  # (storage, study id) of the study served
        self._top = (0, 0)  # the highest generation among the complete trials, and how many have it
        self._space: dict | None = None

    def _serve(self, study) -> None:
        if self._study is None:
            self._study = (study._storage, study._study_id)
        elif self._study[0] is not study._storage or self._study[1] != study._study_id:
            raise ValueError("this sampler serves the one study it was created with")

    def get_trial_generation(self, study, trial) -> int:
        self._serve(study)
        key = self._get_generation_key()
        generation = trial.system_attrs.get(key)
        if generation is None:
            top, count = self._top
            generation = top if count < self._population_size else top + 1
            study._storage.set_trial_system_attr(trial._trial_id, key, generation)
        return generation

    def after_trial(self, study, trial, state, values) -> None:
        import optuna

        self._serve(study)
        if state == optuna.trial.TrialState.COMPLETE:
            generation, (top, count) = trial.system_attrs.get(self._get_generation_key(), -1), self._top
            self._top = (generation, 1) if generation > top else (top, count + (generation == top))
        super().after_trial(study, trial, state, values)

    def infer_relative_search_space(self, study, trial) -> dict:
        self._serve(study)
        if self._space is None:
            space = super().infer_relative_search_space(study, trial)
            if not space:  # no trial complete yet
                return space
            self._space = space
        return dict(self._space)


@functools.cache
def one_study(base: type) -> type:
    """`base` (an Optuna genetic sampler) with `OneStudyGenerations`' bookkeeping."""
    names = {"__module__": __name__, "__qualname__": f"one_study({base.__name__})"}  # not abc's (ABCMeta's)
    return type(base.__name__, (OneStudyGenerations, base), {"__doc__": OneStudyGenerations.__doc__, **names})


def sampler(kind: str, seed: int, population_size: int):
    import optuna

    s = optuna.samplers
    if kind == "nsga2":
        return one_study(s.NSGAIISampler)(population_size=population_size, seed=seed)
    if kind == "nsga3":
        return one_study(s.NSGAIIISampler)(population_size=population_size, seed=seed)
    if kind == "tpe":
        return s.TPESampler(seed=seed, multivariate=True, n_startup_trials=10)
    if kind == "gp":
        return s.GPSampler(seed=seed, n_startup_trials=10)
    if kind == "random":
        return s.RandomSampler(seed=seed)
    if kind == "qmc":
        return s.QMCSampler(seed=seed, scramble=True)
    if kind == "bruteforce":
        return s.BruteForceSampler(seed=seed)
    raise ValueError(kind)


def database_url(storage: str) -> sqlalchemy.engine.URL:
    """The parsed storage URL, or an InputError naming it."""
    try:
        return sqlalchemy.engine.make_url(storage)
    except sqlalchemy.exc.ArgumentError as e:
        raise InputError(
            f"optuna: storage {storage!r} is not a database URL (e.g. sqlite:///studies.db, postgresql://...)"
        ) from e


def check_storage(storage: str) -> None:
    """A storage URL that can be opened: it parses, its database driver imports, and an absolute SQLite
    path's folder exists (a relative one lands in the run directory: it may not leave it). Nothing is
    created or connected."""
    if "\0" in storage:
        raise InputError(f"optuna: storage {storage!r} holds a NUL character, which no database URL can")
    url = database_url(storage)
    try:
        sqlalchemy.create_engine(url).dispose()  # imports the dialect's driver; connects on first use only
    except (ImportError, sqlalchemy.exc.SQLAlchemyError) as e:
        raise InputError(
            f"optuna: storage {storage!r} cannot be used: {type(e).__name__}: {e} (install its database driver)"
        ) from e
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database).expanduser()
        if path.is_absolute() and not path.parent.is_dir():
            raise InputError(f"optuna: storage {storage!r}: folder {path.parent} does not exist")
        if not path.is_absolute() and Path(os.path.normpath(path)).parts[0] == "..":
            raise InputError(
                f"optuna: storage {storage!r}: a relative SQLite path lands in the run directory, and "
                f"{url.database!r} leaves it; give an absolute path to keep the studies elsewhere"
            )


def resolve_storage(storage: str, run_dir: Path) -> str:
    """The storage URL with a relative SQLite path made absolute inside `run_dir`."""
    url = database_url(storage)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return storage
    path = Path(url.database).expanduser()
    if path.is_absolute():
        return storage
    path = run_dir.resolve() / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return url.set(database=str(path)).render_as_string(hide_password=False)


def open_storage(storage: str) -> "optuna.storages.RDBStorage":
    """The database storage at `storage`, its schema created if new."""
    import optuna

    kwargs = (
        {"connect_args": {"timeout": SQLITE_TIMEOUT}} if database_url(storage).get_backend_name() == "sqlite" else {}
    )
    try:
        return optuna.storages.RDBStorage(storage, engine_kwargs=kwargs)
    except sqlalchemy.exc.SQLAlchemyError as e:
        raise InputError(f"optuna: storage {storage!r} cannot be opened: {e}") from e


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """No per-trial log lines and no experimental-feature warnings while a study runs; restored after."""
    import optuna

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(verbosity)


class OptunaSolver(Solver):
    sampler_kind: str
    supports = ALL

    def __init__(
        self,
        population_size: Annotated[int, Field(ge=2, le=100_000)] = 40,
        batch: Annotated[int, Field(ge=1, le=100_000)] | None = None,
        storage: str | None = None,
        study_name: str | None = None,
    ):
        """`batch`: trials asked (and evaluated together) before they are told; default, for the genetic
        samplers, the trials that complete the current generation (its trials then are the one-at-a-time
        ones: a test compares them), else 1. `storage`: a database URL to keep the study in; `study_name`:
        its name (in a run: the job id, set by the runner, replacing any given)."""
        if storage:
            check_storage(storage)
        self.population_size, self.batch = population_size, batch
        self.storage, self.study_name = storage, study_name

    @classmethod
    def job_params(cls, params: dict[str, Any], job_id: str, run_dir: Path) -> dict[str, Any]:
        """Resolve the storage inside the run directory, create it once, name the study after the job, and
        delete the study an unfinished earlier attempt at this job left (its rerun starts from scratch)."""
        if not params.get("storage"):
            return params
        import optuna

        url = resolve_storage(params["storage"], run_dir)
        storage = open_storage(url)
        try:
            optuna.delete_study(study_name=job_id, storage=storage)
            log.info("replaced the study %r an unfinished run left in %s", job_id, url)
        except KeyError:
            pass
        storage.engine.dispose()
        return {**params, "storage": url, "study_name": job_id}

    def solve(self, problem: Problem, evaluator: Evaluator, budget, seed):
        import optuna

        from stitchbench.moo._adapters import optuna_directions, optuna_space

        space = optuna_space(problem)
        with quiet_optuna():
            study = optuna.create_study(
                directions=optuna_directions(problem),
                sampler=sampler(self.sampler_kind, seed, self.population_size),
                storage=open_storage(self.storage) if self.storage else None,
                study_name=self.study_name,
                load_if_exists=False,
            )
            study.set_metric_names([o.name for o in problem.objectives])
            limit = space_size(problem) if self.sampler_kind == "bruteforce" else None
            generational = self.batch is None and self.sampler_kind in GENERATIONAL
            complete = 0  # trials of the current generation told complete (a failed one does not count)
            while evaluator.remaining > 0 and (limit is None or len(evaluator.log) < limit):
                size = self.population_size - complete if generational else self.batch or 1
                trials = [study.ask(space) for _ in range(min(size, evaluator.remaining))]
                F = evaluator([t.params for t in trials])
                for t, f in zip(trials, F, strict=False):
                    told = study.tell(t, [float(v) for v in f])  # NaN: failed
                    complete += told.state == optuna.trial.TrialState.COMPLETE
                for t in trials[len(F) :]:
                    study.tell(t, state=optuna.trial.TrialState.FAIL)
                complete %= self.population_size  # a generation complete: the next one starts


def optuna_solver(kind: str, description: str, supports=ALL) -> type[OptunaSolver]:
    return type(
        f"Optuna_{kind}",
        (OptunaSolver,),
        {"name": f"optuna.{kind}", "sampler_kind": kind, "supports": supports, "__doc__": description},
    )


OPTUNA: dict[str, Callable] = {
    "optuna.nsga2": optuna_solver("nsga2", "Optuna NSGA-II sampler"),
    "optuna.nsga3": optuna_solver("nsga3", "Optuna NSGA-III sampler"),
    "optuna.tpe": optuna_solver("tpe", "Optuna multi-objective TPE (multivariate)"),
    "optuna.gp": optuna_solver("gp", "Optuna Gaussian-process sampler (multi-objective)"),
    "optuna.random": optuna_solver("random", "Optuna random sampler"),
    "optuna.qmc": optuna_solver("qmc", "Optuna quasi-Monte Carlo (scrambled Sobol)"),
    "optuna.bruteforce": optuna_solver(
        "bruteforce", "Optuna brute force over a discrete space", frozenset({"integer", "categorical", "binary"})
    ),
}
