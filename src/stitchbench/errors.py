"""Errors the user can fix. The CLI turns them into exit code 2 with their message."""

from collections.abc import Iterable


class InputError(ValueError):
    """Bad user input. The message names the bad value and, where there are any, the valid choices."""


def unknown(kind: str, value: object, choices: Iterable[object]) -> InputError:
    """An InputError for a value that is not one of `choices`."""
    valid = ", ".join(sorted(str(c) for c in choices)) or "(none)"
    return InputError(f"unknown {kind} {value!r}; valid {kind}s: {valid}")


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
        parts.append(f"{where or '(top level)'}: {e['msg']}{shown}")
    return f"invalid {getattr(error, 'title', 'input')}: " + "; ".join(parts)
