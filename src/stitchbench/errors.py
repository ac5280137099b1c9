"""Errors the user can fix. The CLI turns them into exit code 2 with their message.

A public module (plugins raise `InputError`); the helpers below it are the library's own."""

from collections.abc import Iterable

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad user input. The message names the bad value and, where there are any, the valid choices."""


def unknown(kind: str, value: object, choices: Iterable[object]) -> InputError:
    """An InputError for a value that is not one of `choices`."""
    valid = ", ".join(sorted(str(c) for c in choices)) or "(none)"
    return InputError(f"unknown {kind} {value!r}; valid {plural(kind)}: {valid}")


def plural(kind: str) -> str:
    """`host party` -> `host parties`, `architecture (of the zoo)` -> `architectures (of the zoo)`."""
    head, sep, tail = kind.partition(" (")
    head = head[:-1] + "ies" if head.endswith("y") and head[-2:-1] not in "aeiou" else head + "s"
    return head + sep + tail


def shorten(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def explain(error: Exception) -> str:
    """A one-paragraph message for an InputError or a pydantic ValidationError."""
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return str(error)
    parts = []
    for e in errors():
        where = ".".join(str(p) for p in e["loc"])
        got = e.get("input")
        # a whole-object check (no field) names its own values; echoing the object would bury the message
        shown = "" if not where or isinstance(got, dict) else f" (got {shorten(got)})"
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}{shown}" if where else msg)
    return f"invalid {getattr(error, 'title', 'input')}: " + "; ".join(parts)
