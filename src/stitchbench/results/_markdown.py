"""Markdown rendering of tables, shared by the report, the leaderboard and the CLI."""

import pandas as pd


def md_table(df: pd.DataFrame) -> str:
    if not len(df):
        return "(no results)"
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "| " + " | ".join("---" for _ in df.columns) + " |"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body])
