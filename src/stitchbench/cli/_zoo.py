"""`stitchbench zoo build|show|export|import`: model zoos (need torch)."""

from pathlib import Path

from ._base import Listing, Parser, add_format, emit, parse_params, seed
from ._builders import builders


def register(sub) -> None:
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
    zb.set_defaults(handler=build)

    ze = zsub.add_parser("export", help="hand out a model: safetensors + JSON manifest")
    ze.add_argument("scenario")
    ze.add_argument("-p", "--param", action="append", default=[], help="scenario parameter key=value")
    ze.add_argument("--kind", required=True, help="e.g. local:mnist")
    ze.add_argument("--arch", help="default: the scenario's default architecture")
    ze.add_argument("--seed", type=seed, default=0)
    ze.add_argument("--out", type=Path, required=True)
    ze.set_defaults(handler=export)

    zi = zsub.add_parser("import", help="bring in a model trained elsewhere (verified before use)")
    zi.add_argument("file", type=Path, help="the .safetensors weights")
    zi.add_argument("--manifest", type=Path, required=True)
    zi.set_defaults(handler=receive)

    zs = zsub.add_parser("show", help="print a zoo's evaluation matrix")
    zs.add_argument("dir", type=Path)
    add_format(zs, "csv: the whole matrix, one row per model, party, split")
    zs.set_defaults(handler=show)


def matrix_listing(commands, frame, where: str) -> Listing:
    return Listing({f"{where}: evaluation matrix (test)": commands.matrix_view(frame)}, rows=frame)


def build(args) -> None:
    commands = builders()
    frame = commands.zoo_build(
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
    emit(matrix_listing(commands, frame, args.scenario))


def show(args) -> None:
    commands = builders()
    emit(matrix_listing(commands, commands.zoo_show(args.dir), str(args.dir)), args.format)


def export(args) -> None:
    weights, manifest = builders().zoo_export(
        args.scenario, parse_params(args.param), args.kind, args.arch, args.seed, args.out, args.cache, args.device
    )
    print(f"wrote {weights} and {manifest}")


def receive(args) -> None:
    received = builders().zoo_import(args.file, args.manifest, args.cache)
    r = received.record
    what = "imported" if received.new else "already in the cache with the same weights; nothing imported:"
    print(f"{what} {r.kind}/{r.arch}/seed{r.seed} (sha256 {r.sha256[:12]}...) at {r.artifact.path}")
