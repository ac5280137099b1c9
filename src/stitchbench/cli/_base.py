"""What every command group shares: the parser, argument types and the one output formatter.

A group module registers its commands with `register(sub)`; each command's parser names its handler
(`set_defaults(handler=...)`), which takes the parsed arguments and returns the exit code (None: 0)."""

import argparse
import functools
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stitchbench import _devices as devices
from stitchbench._files import INPUT_DEPTH, parse
from stitchbench._params import check_seed
from stitchbench.errors import InputError
from stitchbench.results._markdown import md_table

FORMATS = ("table", "csv", "md")
T = TypeVar("T")


class Parser(argparse.ArgumentParser):
    """argparse's parser, its errors InputErrors (exit 2), taking no abbreviated option (`run --c` is refused,
    not taken for `--check`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{"allow_abbrev": False, **kwargs})

    def error(self, message: str):  # argparse's own errors are bad input too
        raise InputError(f"{self.prog}: {message}")


def argument(check: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a check that raises InputError (argparse would drop any other ValueError's message)."""

    @functools.wraps(check)
    def checked(text: str) -> T:
        try:
            return check(text)
        except InputError as e:
            raise argparse.ArgumentTypeError(str(e)) from e

    return checked


@argument
def seed(text: str) -> int:
    """A --seed(s) value: a whole number in the range every seed shares (`stitchbench._params.SEED_MAX`)."""
    return check_seed(int(text))


device = argument(devices.check)  # a --device value, checked without importing torch


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


def positive_int(text: str) -> int:
    """An argument that must be a whole number >= 1 (argparse exits 2 naming it otherwise)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return int(text)


def add_format(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """The --format option every listing command takes."""
    parser.add_argument("--format", choices=FORMATS, default="table", help=help)


@dataclass(frozen=True)
class Listing:
    """What a listing command prints: titled frames, then a summary. `rows` is its CSV (default: its first frame),
    `md` its Markdown where a library function renders it; with `blocks`, the table form is one block per row
    (for long prose columns) instead of a table."""

    frames: dict[str, pd.DataFrame]
    summary: str = ""
    rows: pd.DataFrame | None = None
    md: str | None = None
    blocks: bool = False


def emit(listing: Listing, fmt: str = "table") -> None:
    """`listing` in one of FORMATS: a terminal table, CSV (no summary) or Markdown."""
    if fmt == "csv":
        rows = listing.rows if listing.rows is not None else next(iter(listing.frames.values()))
        sys.stdout.write(rows.to_csv(index=False))
    elif fmt == "md":
        print(listing.md or markdown(listing))
    else:
        for title, frame in listing.frames.items():
            if listing.blocks:
                print_blocks(frame)
            else:
                print_table(frame, title)
        if listing.summary:
            print(listing.summary)


def markdown(listing: Listing) -> str:
    """One Markdown table per frame (under its title where there are several), then the summary."""
    several = len(listing.frames) > 1
    parts = [f"## {title}\n\n{md_table(f)}" if several else md_table(f) for title, f in listing.frames.items()]
    return "\n\n".join([*parts, listing.summary] if listing.summary else parts)


def console() -> Console:
    """The terminal's width on a terminal; wide when piped, so tables are not folded for machines."""
    return Console() if sys.stdout.isatty() else Console(width=240)


def print_table(df: pd.DataFrame, title: str) -> None:
    table = Table(title=title)
    for c in df.columns:
        table.add_column(escape(str(c)), overflow="fold")
    for row in df.itertuples(index=False):
        table.add_row(*(f"{v:.4f}" if isinstance(v, float) else escape(str(v)) for v in row))
    console().print(table)


def print_blocks(df: pd.DataFrame) -> None:
    """One block per row: the name, then `column: value` lines (reads well at any terminal width)."""
    out = console()
    for row in df.to_dict("records"):
        out.print(f"[bold]{escape(str(row.pop('name')))}[/bold]")
        for k, v in row.items():
            out.print(f"  {k}: {v}", highlight=False, markup=False)
