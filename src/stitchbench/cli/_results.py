"""`report`, `compare`, `leaderboard`, `calibrate`: what a finished run's directory holds (no torch)."""

import sys
from pathlib import Path

from stitchbench.results import RunDir, rebuild
from stitchbench.results import _leaderboard as lbm
from stitchbench.results._calibration import calibration_of_run, calibration_table, size_of_run, summary
from stitchbench.results._compare import compare_runs, side_by_side

from ._base import Listing, add_format, emit, positive_int


def register(sub) -> None:
    rep = sub.add_parser("report", help="(re)write DIR/report.html and DIR/report.md")
    rep.add_argument("dir", type=Path)
    rep.set_defaults(handler=report)

    cmp = sub.add_parser("compare", help="put several runs side by side: suite, budget, seeds and indicators")
    cmp.add_argument("dirs", type=Path, nargs="+")
    add_format(cmp, "csv: one row per run, instance, solver")
    cmp.set_defaults(handler=compare)

    lb = sub.add_parser("leaderboard", help="rank solvers across the instances of one or more runs")
    lb.add_argument("dirs", type=Path, nargs="+")
    lb.add_argument(
        "--split", choices=["val", "test"], default="val", help="of the HV and IGD+ columns (ranks: ECDF areas on val)"
    )
    add_format(lb, "csv: one row per instance, solver")
    lb.add_argument("--out", type=Path, help="also write leaderboard.md, leaderboard.csv and the figures here")
    lb.set_defaults(handler=leaderboard)

    cal = sub.add_parser(
        "calibrate", help="which instances of a run separate its solvers (the collection's rule), per instance"
    )
    cal.add_argument("dir", type=Path)
    what = cal.add_mutually_exclusive_group()
    what.add_argument("--confirm", type=Path, help="a run of the same suite on other seeds: confirm each verdict")
    what.add_argument(
        "--size",
        type=positive_int,
        metavar="N",
        help="instead: the rule's false-positive rate on N null instances per area pool of the run",
    )
    add_format(cal)
    cal.set_defaults(handler=calibrate)


def report(args) -> None:
    html, md = rebuild(RunDir(args.dir))
    print(f"wrote {html} and {md}")


def compare(args) -> None:
    runs, results = compare_runs(args.dirs)
    frames = {"Runs": runs, "Test indicators (hypervolume mean ± sd over finished jobs)": side_by_side(results)}
    emit(Listing(frames, rows=results.merge(runs, on="run")), args.format)


def leaderboard(args) -> None:
    lb = lbm.of_runs(args.dirs, args.split)
    written = lbm.write_files(lb, args.out) if args.out else []  # a bad --out exits 2 before any output
    frames = {
        f"solver leaderboard: average rank of ECDF area (val); HV on {args.split}": lbm.board_view(lb),
        "pairwise: Wilcoxon signed-rank over instances, Holm-corrected": lbm.pairs_view(lb),
    }
    emit(Listing(frames, lbm.summary(lb), rows=lb.per_instance, md=lbm.markdown(lb)), args.format)
    if written:
        print(f"wrote {', '.join(map(str, written))}", file=sys.stderr)


def calibrate(args) -> None:
    if args.size:
        size = size_of_run(args.dir, args.size)
        line = (
            f"rule (b) called {size.complete.mean():.2%} (worst pool {size.complete.max():.0%}) of the complete-null "
            f"and {size.partial.mean():.2%} (worst {size.partial.max():.0%}) of the partial-null instances "
            f"calibrated; {len(size)} pools x {args.size}; 5% allowed"
        )
        emit(Listing({"rule (b)'s size: null instances from each pool of run areas": size}, line), args.format)
        return
    records = calibration_of_run(args.dir, args.confirm)
    title = "calibration (val): mean ECDF area per solver (seeds at the front)"
    emit(Listing({title: calibration_table(records)}, summary(records)), args.format)
