"""The `stitchbench` command line: one module per command group (`_run`, `_results`, `_list`, `_zoo`, `_stitch`,
`_table`), one output formatter (`_base.emit`: table, csv or md). The commands that need no torch import none of
the builders; the others reach them through `_builders` when they run."""

from ._main import main

__all__ = ["main"]
