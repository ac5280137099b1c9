"""The splits a problem is scored on: solvers see val, reports test."""

from stitchbench.errors import InputError

EVAL_SPLITS = ("val", "test")


def check_split(split: str) -> None:
    if split not in EVAL_SPLITS:
        raise InputError(f"unknown split {split!r}; valid splits: {', '.join(EVAL_SPLITS)}")
