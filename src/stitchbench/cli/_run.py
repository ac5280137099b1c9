"""`stitchbench run`: run a suite (needs torch)."""

from pathlib import Path

from ._base import seed
from ._builders import builders

FRONTS = {"exact": "exact fronts (IGD+ and epsilon exact)", "approximate": "approximate fronts (IGD+ labelled so)"}


def register(sub) -> None:
    run = sub.add_parser("run", help="run a suite (default: quick) and write its results and report")
    run.add_argument("suite", nargs="?", default="quick", help="a shipped suite name or a TOML file")
    run.add_argument("--out", type=Path, help="results directory (default: runs/<suite>)")
    run.add_argument("--executor", choices=["local", "process", "ray"])
    run.add_argument("--workers", type=int)
    run.add_argument("--ray-address", help="address of a running Ray cluster (default: start a local Ray)")
    run.add_argument("--check", action="store_true", help="only validate the suite and --out; write nothing")
    run.add_argument("--seeds", nargs="+", type=seed, help="solver seeds in place of the suite's")
    run.set_defaults(handler=handle)


def handle(args) -> int:
    outcome = builders().run(
        args.suite,
        args.out,
        args.executor,
        args.workers,
        args.ray_address,
        args.cache,
        args.quiet,
        args.check,
        args.device,
        args.seeds,
    )
    if args.check:
        print(f"{args.suite}: valid, {outcome} jobs; nothing was written")
        return 0
    if outcome.rebuilt:
        print(f"{outcome.path}: rebuilt {', '.join(outcome.rebuilt)} (changed since the run wrote them)")
    elif outcome.skipped:
        print(f"{outcome.path} holds a finished run of this suite: nothing to do")
    else:
        print(f"ran {outcome.ran} jobs ({outcome.failed} failed) in {outcome.path}; timings (s): {outcome.timings}")
    for kind, ids in sorted(outcome.fronts().items()):
        print(f"{FRONTS.get(kind, 'no reference front')}: {', '.join(ids)}")
    if others := outcome.not_shipped():
        print(
            f"{len(others)} instances are named as shipped ones but built from other models (trained on another "
            f"CPU, or other parameters), so their tables and reference fronts are not the collection's: "
            f"{', '.join(others)}"
        )
    print(f"report: {outcome.path / 'report.html'}")
    return 1 if outcome.failed else 0
