"""`stitchbench table`: tabular instances. `list`, `show` and `check` need no torch; `export` and
`build-collection` build tables and need it."""

from pathlib import Path

from stitchbench._hashing import file_sha256
from stitchbench.tabular._catalog import catalog_summary, catalog_view, entry_view
from stitchbench.tabular._load import SCORE_SAMPLE, TABLE_MANIFEST, check_scores, load

from ._base import Listing, Parser, add_format, emit
from ._builders import builders


def register(sub) -> None:
    tb = sub.add_parser("table", help="export a tabular instance, or check an export")
    tsub = tb.add_subparsers(dest="table_command", required=True, parser_class=Parser)
    te = tsub.add_parser("export", help="write a tabular instance as Parquet tables + manifest (loads without torch)")
    te.add_argument("instance", help="its instance id, SCENARIO[~DIGEST]/z<SEED>/<problem id>")
    te.add_argument("--out", type=Path, required=True, help="a new or empty directory")
    te.add_argument("--suite", default="quick", help="the suite that holds the instance (name or TOML file)")
    te.set_defaults(handler=export)

    tl = tsub.add_parser(
        "list", help="list the shipped tabular instances (load one with stitchbench.tabular.load(NAME))"
    )
    tl.add_argument("--summary", action="store_true", help="a row per family and objective count")
    add_format(tl)
    tl.set_defaults(handler=listing)

    tw = tsub.add_parser("show", help="show a shipped tabular instance: variables, objectives, provenance")
    tw.add_argument("name")
    add_format(tw, "table: one line per field")
    tw.set_defaults(handler=show)

    tbc = tsub.add_parser("build-collection", help="rebuild the shipped instances from the collection suite")
    tbc.add_argument("--out", type=Path, help="default: the installed package's collection folder")
    tbc.add_argument("--only", nargs="+", help="build these instances only (by name); the others that --out holds stay")
    tbc.add_argument(
        "--calibration",
        type=Path,
        help="a finished run on the calibration seeds: of the collection suite for a rebuild (the same machine's "
        "models), of the solvers suite (its tables) with --keep-tables; record it",
    )
    tbc.add_argument("--confirmation", type=Path, help="a finished run of it on the confirmation seeds")
    tbc.add_argument(
        "--keep-tables", action="store_true", help="only record the calibration in the collection built at --out"
    )
    tbc.set_defaults(handler=build_collection)

    tc = tsub.add_parser(
        "check", help="verify an export's (or a shipped instance's) sha256s, load it and score a sample of decisions"
    )
    tc.add_argument("dir", help="an export folder, or a shipped instance's name (stitchbench table list)")
    tc.add_argument("--sha256", help="the manifest's sha256 as published with the export (pins the manifest too)")
    tc.set_defaults(handler=check)


def listing(args) -> None:
    if args.summary:
        emit(Listing({"the shipped collection, by family and objectives": catalog_summary()}), args.format)
    else:
        emit(Listing({"shipped tabular instances (stitchbench.tabular.load(NAME))": catalog_view()}), args.format)


def show(args) -> None:
    emit(Listing({args.name: entry_view(args.name)}, blocks=True), args.format)


def check(args) -> None:
    problem = load(args.dir, args.sha256)
    check_scores(problem)
    digest = file_sha256(problem.directory / TABLE_MANIFEST)
    shipped = not Path(args.dir).exists()  # `load` took it for a shipped name
    pin = "as pinned" if args.sha256 else "pinned by the catalog" if shipped else "pass it as --sha256 to pin it"
    print(
        f"{args.dir}: every sha256 matches, {SCORE_SAMPLE} decisions score in range; {problem.instance.id} "
        f"({problem.name}, front {problem.front_kind()}); manifest sha256 {digest} ({pin})"
    )


def export(args) -> None:
    manifest, seconds = builders().table_export(args.instance, args.suite, args.out, args.cache, args.device)
    size = sum((args.out / f).stat().st_size for f in [*manifest["files"], "manifest.json"])
    print(
        f"exported {manifest['instance']['id']} ({manifest['family']}) to {args.out}: "
        f"{len(manifest['files']) + 1} files, {size / 1e6:.1f} MB, in {seconds:.1f} s"
    )


def build_collection(args) -> None:
    entries = builders().build_collection(
        args.out, args.only, args.calibration, args.cache, args.device, args.confirmation, args.keep_tables
    )
    total = sum(e["bytes"] for e in entries)
    done = "recorded the calibration of" if args.keep_tables else "built"
    print(f"{done} {len(entries)} instances, {total / 1e6:.1f} MB")
