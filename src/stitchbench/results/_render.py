"""The report's pieces (`Block`s) rendered to markdown and, through the template, to self-contained HTML."""

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from ._markdown import md_table


@dataclass
class Block:
    """One piece of the report, rendered to markdown and (through the template) to HTML."""

    kind: str  # heading | para | claims | figure | table
    text: str = ""
    level: int = 2
    note: bool = False
    items: list = field(default_factory=list)
    path: Path | None = None
    table: pd.DataFrame | None = None


def block_of(item: str | Path | pd.DataFrame) -> Block:
    """A paragraph, a figure or a table, by the item's type."""
    if isinstance(item, str):
        return Block("para", item)
    if isinstance(item, Path):
        return Block("figure", path=item)
    return Block("table", table=item)


def inline(text: str) -> Markup:
    """The report's inline markup (**bold**, `code`) as escaped HTML."""
    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return Markup(re.sub(r"`(.+?)`", r"<code>\1</code>", out))


def to_markdown(title: str, blocks: list[Block]) -> str:
    md = [f"# {title}", ""]
    for b in blocks:
        if b.kind == "heading":
            md.append("#" * b.level + " " + b.text)
        elif b.kind == "para":
            md.append(f"**Note:** {b.text}" if b.note else b.text)
        elif b.kind == "claims":
            for c in b.items:
                md.append(f"- **Claim {c['id']}: {c['name']}: {c['verdict']}**")
                md += [f"  - {line}" for line in c["checks"]]
        elif b.kind == "figure":
            md.append(f"![{b.path.stem}](figures/{b.path.name})")
        else:
            md.append(md_table(b.table))
        md.append("")
    return "\n".join(md)


def to_html(title: str, blocks: list[Block]) -> str:
    env = Environment(loader=PackageLoader("stitchbench.results"), autoescape=select_autoescape(["j2", "html"]))
    env.filters["inline"] = inline
    rendered = []
    for b in blocks:
        view = {"kind": b.kind, "text": b.text, "level": b.level, "note": b.note, "entries": b.items}
        if b.kind == "figure":
            view |= {"name": b.path.stem, "data": base64.b64encode(b.path.read_bytes()).decode()}
        elif b.kind == "table":
            view["html"] = Markup(
                b.table.to_html(index=False, border=0, classes="t") if len(b.table) else "<p>(no results)</p>"
            )
        rendered.append(view)
    return env.get_template("report.html.j2").render(title=title, blocks=rendered)
