"""Run one solver on one problem under a budget and a time limit; failures stay inside the job."""

import threading
import time
import traceback as tb
from dataclasses import dataclass, field

from stitchbench.moo._api import Problem

from ._api import BudgetExhausted, Evaluation, Evaluator, Solver

STALL_GRACE = 5.0  # seconds past its time limit before a solver that does not return is left behind


@dataclass
class SolverRun:
    log: list[Evaluation]
    status: str  # "done" | "failed"
    error: str | None = None
    seconds: float = 0.0
    traceback: str = field(default="", repr=False)  # of a solver that raised


def run_solver(
    solver: Solver,
    problem: Problem,
    budget: int,
    seed: int,
    split: str = "val",
    time_limit: float | None = None,
) -> SolverRun:
    """Run `solver` in a worker thread. A solver that raises, feeds malformed decisions, or stalls past
    `time_limit` (+ STALL_GRACE) fails this run only; every evaluation logged before that is kept. The limit
    counts from the solver's start (building the problem is not charged) and is checked before every batch
    and at the end: a batch that has started is not interrupted, but a run that ends past its limit has
    failed."""
    evaluator = Evaluator(problem, budget, split, time_limit)
    outcome: dict = {}

    def target():
        try:
            solver.solve(problem, evaluator, budget, seed)
        except BudgetExhausted:
            pass
        except BaseException as e:
            outcome["error"] = f"{type(e).__name__}: {e}"
            outcome["traceback"] = tb.format_exc()

    start = time.perf_counter()
    thread = threading.Thread(target=target, name=f"solver-{solver.name}", daemon=True)
    thread.start()
    thread.join(None if time_limit is None else time_limit + STALL_GRACE)
    seconds = time.perf_counter() - start
    log = list(evaluator.log)  # a snapshot: a stalled thread may still be running
    if thread.is_alive():
        return SolverRun(log, "failed", f"solver stalled: no result within {time_limit} s", seconds)
    if "error" in outcome:
        return SolverRun(log, "failed", outcome["error"], seconds, outcome["traceback"])
    if evaluator.past_deadline():  # the last batch ran past the limit: kept, but the job did not make it
        error = f"JobTimeout: time limit of {time_limit} s exceeded during the last batch (a batch is not interrupted)"
        return SolverRun(log, "failed", error, seconds)
    return SolverRun(log, "done", None, seconds)
