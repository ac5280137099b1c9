"""`stitchbench stitch points`: stitching tools (need torch)."""

from ._base import Listing, Parser, add_format, emit, parse_params
from ._builders import builders


def register(sub) -> None:
    st = sub.add_parser("stitch", help="stitching tools")
    ssub = st.add_subparsers(dest="stitch_command", required=True, parser_class=Parser)
    sp = ssub.add_parser("points", help="list the stitch points matched between two architectures")
    sp.add_argument("scenario")
    sp.add_argument("-p", "--param", action="append", default=[], help="scenario parameter key=value")
    sp.add_argument("--arch", help="default: the scenario's default architecture")
    sp.add_argument("--arch-b", help="second architecture (default: same as --arch)")
    add_format(sp)
    sp.set_defaults(handler=points)


def points(args) -> None:
    frame = builders().stitch_points(args.scenario, parse_params(args.param), args.arch, args.arch_b)
    emit(Listing({f"stitch points {frame.columns[1]} <-> {frame.columns[3]}": frame}), args.format)
