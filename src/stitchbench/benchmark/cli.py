"""The `stitchbench` command line. Exit codes: 0 success, 2 bad input, 1 failure inside a run."""

import argparse
import errno
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stitchbench import devices
from stitchbench.errors import InputError, explain
from stitchbench.files import INPUT_DEPTH, parse
from stitchbench.params import check_seed
from stitchbench.processes import interruptible

from .listings import TORCH_FREE, listing

log = logging.getLogger("stitchbench")
LISTABLE = ("scenarios", "architectures", "problems", "solvers", "suites")
# a path the user gave that cannot be used: bad input (exit 2), not a failure (a full disk stays one)
PATH_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.EEXIST}


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors are bad input too
        raise InputError(f"{self.prog}: {message}")


def parse_params(pairs: Sequence[str]) -> dict:
    """`key=value` pairs; values are read as JSON where they parse (numbers, lists), else as strings."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"parameter {pair!r} is not of the form key=value")
        try:
            out[key] = parse(json.loads, value, f"parameter {key!r}", INPUT_DEPTH)
        except json.JSONDecodeError:
            out[key] = value
    return out


def seed(text: str) -> int:
    """A --seed(s) value: a whole number in the range every seed shares (`stitchbench.params.SEED_MAX`)."""
    try:
        return check_seed(int(text))
    except InputError as e:  # argparse would drop the message of any other ValueError
        raise argparse.ArgumentTypeError(str(e)) from e


def device(text: str) -> str:
    """A --device value (`stitchbench.devices.check`), checked without importing torch."""
    try:
        return devices.check(text)
    except InputError as e:  # argparse would drop the message of any other ValueError
        raise argparse.ArgumentTypeError(str(e)) from e


def build_parser() -> Parser:
    p = Parser(prog="stitchbench", description=__doc__)
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--verbose", action="store_true", help="debug logging, with the traceback of every failure")
    p.add_argument("--cache", type=Path, help="artifact cache (default $STITCHBENCH_CACHE or ~/.cache/stitchbench)")
    p.add_argument(
        "--device",
        type=device,
        help="where torch work runs: auto (the first CUDA device torch sees, else the CPU), cpu, cuda (every GPU) "
        "or cuda:N (default: the suite's device, else auto; build-collection: cpu)",
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    run = sub.add_parser("run", help="run a suite (default: quick) and write its results and report")
    run.add_argument("suite", nargs="?", default="quick", help="a shipped suite name or a TOML file")
    run.add_argument("--out", type=Path, help="results directory (default: runs/<suite>)")
    run.add_argument("--executor", choices=["local", "process", "ray"])
    run.add_argument("--workers", type=int)
    run.add_argument("--ray-address", help="address of a running Ray cluster (default: start a local Ray)")
    run.add_argument("--check", action="store_true", help="only validate the suite and --out; write nothing")
    run.add_argument("--seeds", nargs="+", type=seed, help="solver seeds in place of the suite's")

    rep = sub.add_parser("report", help="(re)write DIR/report.html and DIR/report.md")
    rep.add_argument("dir", type=Path)

    cmp = sub.add_parser("compare", help="put several runs side by side: suite, budget, seeds and indicators")
    cmp.add_argument("dirs", type=Path, nargs="+")
    cmp.add_argument(
        "--format", choices=["table", "csv", "md"], default="table", help="csv: one row per run, instance, solver"
    )

    lb = sub.add_parser("leaderboard", help="rank solvers across the instances of one or more runs")
    lb.add_argument("dirs", type=Path, nargs="+")
    lb.add_argument(
        "--split", choices=["val", "test"], default="val", help="of the HV and IGD+ columns (ranks: ECDF areas on val)"
    )
    lb.add_argument(
        "--format", choices=["table", "csv", "md"], default="table", help="csv: one row per instance, solver"
    )
    lb.add_argument("--out", type=Path, help="also write leaderboard.md, leaderboard.csv and the figures here")

    cal = sub.add_parser(
        "calibrate", help="which instances of a run separate its solvers (the collection's rule), per instance"
    )
    cal.add_argument("dir", type=Path)
    cal.add_argument("--confirm", type=Path, help="a run of the same suite on other seeds: confirm each verdict")
    cal.add_argument("--format", choices=["table", "csv", "md"], default="table")

    ls = sub.add_parser("list", help="list scenarios, architectures, problems, solvers or suites")
    ls.add_argument("what", choices=LISTABLE)

    zoo = sub.add_parser("zoo", help="build or show a model zoo")
    zsub = zoo.add_subparsers(dest="zoo_command", required=True, parser_class=Parser)
    zb = zsub.add_parser("build", help="train (or reuse) a scenario's models and evaluate them")
    zb.add_argument("scenario")
    zb.add_argument("-p", "--param", action="append", default=[], help="scenario parameter key=value")
    zb.add_argument("--arch", action="append", help="architecture (repeatable; default: the scenario's)")
    zb.add_argument("--kinds", nargs="+", default=["local", "merged", "fedavg", "fedprox"])
    zb.add_argument("--seeds", nargs="+", type=seed, default=[0])
    zb.add_argument("--recipe", action="append", default=[], help="recipe override key=value")
    zb.add_argument("--out", type=Path, help="write the evaluation matrix and records here")
    st = sub.add_parser("stitch", help="stitching tools")
    ssub = st.add_subparsers(dest="stitch_command", required=True, parser_class=Parser)
    sp = ssub.add_parser("points", help="list the stitch points matched between two architectures")
    sp.add_argument("scenario")
    sp.add_argument("-p", "--param", action="append", default=[], help="scenario parameter key=value")
    sp.add_argument("--arch", help="default: the scenario's default architecture")
    sp.add_argument("--arch-b", help="second architecture (default: same as --arch)")

    ze = zsub.add_parser("export", help="hand out a model: safetensors + JSON manifest")
    ze.add_argument("scenario")
    ze.add_argument("-p", "--param", action="append", default=[], help="scenario parameter key=value")
    ze.add_argument("--kind", required=True, help="e.g. local:mnist")
    ze.add_argument("--arch", help="default: the scenario's default architecture")
    ze.add_argument("--seed", type=seed, default=0)
    ze.add_argument("--out", type=Path, required=True)
    zi = zsub.add_parser("import", help="bring in a model trained elsewhere (verified before use)")
    zi.add_argument("file", type=Path, help="the .safetensors weights")
    zi.add_argument("--manifest", type=Path, required=True)

    zs = zsub.add_parser("show", help="print a zoo's evaluation matrix")
    zs.add_argument("dir", type=Path)
    zs.add_argument("--format", choices=["table", "csv"], default="table")

    tb = sub.add_parser("table", help="export a tabular instance, or check an export")
    tsub = tb.add_subparsers(dest="table_command", required=True, parser_class=Parser)
    te = tsub.add_parser("export", help="write a tabular instance as Parquet tables + manifest (loads without torch)")
    te.add_argument("instance", help="its instance id, SCENARIO[~DIGEST]/z<SEED>/<problem id>")
    te.add_argument("--out", type=Path, required=True, help="a new or empty directory")
    te.add_argument("--suite", default="quick", help="the suite that holds the instance (name or TOML file)")
    tl = tsub.add_parser(
        "list", help="list the shipped tabular instances (load one with stitchbench.tabular.load(NAME))"
    )
    tl.add_argument("--format", choices=["table", "csv", "md"], default="table")
    tw = tsub.add_parser("show", help="show a shipped tabular instance: variables, objectives, provenance")
    tw.add_argument("name")
    tbc = tsub.add_parser("build-collection", help="rebuild the shipped instances from the solvers suite")
    tbc.add_argument("--out", type=Path, help="default: the installed package's collection folder")
    tbc.add_argument("--only", nargs="+", help="build these instances only (by name)")
    tbc.add_argument(
        "--calibration", type=Path, help="a finished run of the solvers suite on the calibration seeds: record it"
    )
    tbc.add_argument("--confirmation", type=Path, help="a finished run of it on the confirmation seeds")
    tc = tsub.add_parser(
        "check", help="verify an export's (or a shipped instance's) sha256s, load it and score a sample of decisions"
    )
    tc.add_argument("dir", help="an export folder, or a shipped instance's name (stitchbench table list)")
    tc.add_argument("--sha256", help="the manifest's sha256 as published with the export (pins the manifest too)")
    return p


def console() -> Console:
    """The terminal's width on a terminal; wide when piped, so tables are not folded for machines."""
    return Console() if sys.stdout.isatty() else Console(width=240)


def print_frame(df, title: str) -> None:
    table = Table(title=title)
    for c in df.columns:
        table.add_column(escape(str(c)), overflow="fold")
    for row in df.itertuples(index=False):
        table.add_row(*(f"{v:.4f}" if isinstance(v, float) else escape(str(v)) for v in row))
    console().print(table)


def emit(df, fmt: str, title: str) -> None:
    """A listing in the chosen format: a terminal table, CSV or a markdown table."""
    from stitchbench.results.markdown import md_table

    if fmt == "csv":
        sys.stdout.write(df.to_csv(index=False))
    elif fmt == "md":
        print(md_table(df))
    else:
        print_frame(df, title)


def print_listing(df) -> None:
    """One block per row: the name, then `column: value` lines (reads well at any terminal width)."""
    out = console()
    for row in df.to_dict("records"):
        out.print(f"[bold]{escape(str(row.pop('name')))}[/bold]")
        for k, v in row.items():
            out.print(f"  {k}: {v}", highlight=False, markup=False)


def builders():
    """The commands that build, train or run (they need the `torch` extra), or an InputError saying so."""
    try:
        import torch  # noqa: F401
    except ImportError as e:
        raise InputError(
            "this command builds zoos, stitches or runs suites and needs torch, which is not installed; "
            "install the extra: pip install 'stitchbench[torch]' (report, compare, leaderboard, calibrate, table list, "
            "show and check, list solvers and list suites work without it)"
        ) from e
    from . import commands

    return commands


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "report":
        from stitchbench.results import RunDir, rebuild

        html, md = rebuild(RunDir(args.dir))
        print(f"wrote {html} and {md}")
        return 0
    if args.command == "compare":
        from stitchbench.results.compare import compare_runs, side_by_side
        from stitchbench.results.markdown import md_table

        runs, results = compare_runs(args.dirs)
        if args.format == "csv":
            sys.stdout.write(results.merge(runs, on="run").to_csv(index=False))
        elif args.format == "md":
            print(f"## Runs\n\n{md_table(runs)}\n\n## Test indicators\n\n{md_table(side_by_side(results))}")
        else:
            print_frame(runs, "runs")
            print_frame(side_by_side(results), "test indicators (hypervolume mean ± sd over finished jobs)")
        return 0
    if args.command == "leaderboard":
        from stitchbench.results import leaderboard as lbm

        lb = lbm.of_runs(args.dirs, args.split)
        written = lbm.write_files(lb, args.out) if args.out else []  # a bad --out exits 2 before any output
        if args.format == "csv":
            sys.stdout.write(lb.per_instance.to_csv(index=False))
        elif args.format == "md":
            print(lbm.markdown(lb))
        else:
            print_frame(lbm.board_view(lb), f"solver leaderboard: average rank of ECDF area (val); HV on {args.split}")
            print_frame(lbm.pairs_view(lb), "pairwise: Wilcoxon signed-rank over instances, Holm-corrected")
            print(lbm.summary(lb))
        if written:
            print(f"wrote {', '.join(map(str, written))}", file=sys.stderr)
        return 0
    if args.command == "calibrate":
        from stitchbench.results.calibration import calibration_of_run, calibration_table, summary
        from stitchbench.results.markdown import md_table

        records = calibration_of_run(args.dir, args.confirm)
        emit(
            calibration_table(records), args.format, "calibration (val): mean ECDF area per solver (seeds at the front)"
        )
        if args.format != "csv":
            print(summary(records))
        return 0
    if args.command == "table" and args.table_command in ("list", "show"):
        from stitchbench.tabular.catalog import catalog_view, entry_view

        if args.table_command == "list":
            emit(catalog_view(), args.format, "shipped tabular instances (stitchbench.tabular.load(NAME))")
        else:
            print_listing(entry_view(args.name))
        return 0
    if args.command == "table" and args.table_command == "check":
        from stitchbench.hashing import file_sha256
        from stitchbench.tabular.load import SCORE_SAMPLE, TABLE_MANIFEST, check_scores, load

        problem = load(args.dir, args.sha256)
        check_scores(problem)
        digest = file_sha256(problem.directory / TABLE_MANIFEST)
        shipped = not Path(args.dir).exists()  # `load` took it for a shipped name
        pin = (
            " (as pinned)"
            if args.sha256
            else " (pinned by the catalog)"
            if shipped
            else " (pass it as --sha256 to pin it)"
        )
        print(
            f"{args.dir}: every sha256 matches, {SCORE_SAMPLE} decisions score in range; {problem.instance.id} "
            f"({problem.name}, front {problem.front_kind()}); manifest sha256 {digest}{pin}"
        )
        return 0
    if args.command == "list" and args.what in TORCH_FREE:
        print_listing(listing(args.what))
        return 0
    commands = builders()
    if args.command == "list":
        print_listing(commands.listing(args.what))
    elif args.command == "run":
        outcome = commands.run(
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
        what = {
            "exact": "exact fronts (IGD+ and epsilon exact)",
            "approximate": "approximate fronts (IGD+ labelled so)",
        }
        for kind, ids in sorted(outcome.fronts().items()):
            print(f"{what.get(kind, 'no reference front')}: {', '.join(ids)}")
        print(f"report: {outcome.path / 'report.html'}")
        return 1 if outcome.failed else 0
    elif args.command == "zoo" and args.zoo_command == "build":
        matrix = commands.zoo_build(
            args.scenario,
            parse_params(args.param),
            args.arch,
            args.kinds,
            args.seeds,
            parse_params(args.recipe),
            args.out,
            args.cache,
            args.quiet,
            args.device,
        )
        print_frame(commands.matrix_view(matrix), f"{args.scenario}: evaluation matrix (test)")
    elif args.command == "stitch":
        points = commands.stitch_points(args.scenario, parse_params(args.param), args.arch, args.arch_b)
        print_frame(points, f"stitch points {points.columns[1]} <-> {points.columns[3]}")
    elif args.command == "zoo" and args.zoo_command == "export":
        weights, manifest = commands.zoo_export(
            args.scenario, parse_params(args.param), args.kind, args.arch, args.seed, args.out, args.cache, args.device
        )
        print(f"wrote {weights} and {manifest}")
    elif args.command == "zoo" and args.zoo_command == "import":
        received = commands.zoo_import(args.file, args.manifest, args.cache)
        r = received.record
        what = "imported" if received.new else "already in the cache with the same weights; nothing imported:"
        print(f"{what} {r.kind}/{r.arch}/seed{r.seed} (sha256 {r.sha256[:12]}...) at {r.artifact.path}")
    elif args.command == "table" and args.table_command == "export":
        manifest, seconds = commands.table_export(args.instance, args.suite, args.out, args.cache, args.device)
        size = sum((args.out / f).stat().st_size for f in [*manifest["files"], "manifest.json"])
        print(
            f"exported {manifest['instance']['id']} ({manifest['family']}) to {args.out}: "
            f"{len(manifest['files']) + 1} files, {size / 1e6:.1f} MB, in {seconds:.1f} s"
        )
    elif args.command == "table" and args.table_command == "build-collection":
        entries = commands.build_collection(
            args.out, args.only, args.calibration, args.cache, args.device, args.confirmation
        )
        total = sum(e["bytes"] for e in entries)
        print(f"built {len(entries)} instances, {total / 1e6:.1f} MB")
    elif args.command == "zoo" and args.zoo_command == "show":
        matrix = commands.zoo_show(args.dir)
        if args.format == "csv":
            sys.stdout.write(matrix.to_csv(index=False))
        else:
            print_frame(commands.matrix_view(matrix), f"{args.dir}: evaluation matrix (test)")
    return 0


def setup_logging(verbose: bool) -> None:
    """Warnings on stderr; with `verbose`, stitchbench's debug messages too (failed jobs' tracebacks)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.DEBUG if verbose else logging.NOTSET)


def main(argv: Sequence[str] | None = None) -> int:
    with interruptible():  # a second Ctrl-C exits at once
        try:
            args = build_parser().parse_args(argv)
            setup_logging(args.verbose)
            return dispatch(args)
        except (InputError, ValidationError) as e:
            print(f"error: {explain(e)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except Exception as e:  # a failure inside a run: say what, not a traceback
            if isinstance(e, OSError) and e.errno in PATH_ERRORS and e.filename:  # a path given cannot be used
                print(f"error: cannot use {e.filename}: {e.strerror or e}", file=sys.stderr)
                return 2
            log.debug("failure", exc_info=True)
            print(f"failed: {type(e).__name__}: {e}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
