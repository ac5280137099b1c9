"""Parameter checks from a factory's own signature (torch-free): each parameter's annotation is its declared
type and range (`Annotated[int, Field(ge=4)]`), checked strictly before anything is built: no int from 20.5,
"x" or True; no inf or nan; a value outside its range is refused. Unannotated parameters take any value.
The registry checks every scenario, architecture, problem and solver parameter this way, and the listing
shows the declarations."""

import inspect
import os
import types
import typing
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, ValidationError, create_model

from stitchbench.errors import InputError, shorten

STRICT = ConfigDict(strict=True, allow_inf_nan=False, arbitrary_types_allowed=True, extra="ignore")
SEED_MAX = 2**32 - 1  # every seed (suites, zoos, scenarios, solvers): numpy's legacy seeding (pymoo's) takes no more
Seed = Annotated[StrictInt, Field(ge=0, le=SEED_MAX)]


def check_seed(value: Any) -> int:
    """`value` if it is a seed (a whole number in 0..SEED_MAX), else an InputError naming it and the range."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        raise InputError(f"seed {shorten(value)} is not a whole number in 0..{SEED_MAX}")
    return value


def lenient(annotation: Any) -> Any:
    """Paths take a str and tuples a list (TOML and JSON have neither); strict elsewhere."""
    args = typing.get_args(annotation)
    if annotation is Path or Path in args or typing.get_origin(annotation) is tuple:
        return Annotated[annotation, Field(strict=False)]
    return annotation


def resolved(annotation: Any, namespace: dict[str, Any]) -> Any:
    """An annotation pydantic can check, or Any: a string annotation is evaluated in the factory's module,
    and one that cannot be resolved or checked (a type only imported for type checkers) takes any value."""
    if annotation is inspect.Parameter.empty:
        return Any
    try:
        if isinstance(annotation, str):
            annotation = eval(annotation, namespace)
        TypeAdapter(annotation, config=STRICT)
    except Exception:
        return Any
    return lenient(annotation)


@cache
def model(factory: Callable) -> type[BaseModel]:
    """A pydantic model of the factory's keyword parameters: their annotations and defaults."""
    target = factory.__init__ if isinstance(factory, type) else factory
    namespace = dict(getattr(target, "__globals__", {}))
    fields: dict[str, Any] = {}
    for name, p in inspect.signature(factory).parameters.items():
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[name] = (resolved(p.annotation, namespace), default)
    return create_model(f"{getattr(factory, '__name__', 'factory')}Params", __config__=STRICT, **fields)


def plain(value: Any) -> Any:
    """A value as a suite would give it: numpy scalars as Python numbers, tuples as lists, paths as str."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def check(what: str, factory: Callable, params: dict[str, Any], skip: Iterable[str] = ()) -> None:
    """Refuse a value of `params` that its declared type or range does not allow (an InputError naming the
    parameter, the value and what is valid). Parameters in `skip` (injected by the framework) are not
    checked; names the factory does not take are the caller's to refuse."""
    m, skip = model(factory), set(skip)
    given = {k: plain(v) for k, v in params.items() if k in m.model_fields and k not in skip}
    try:
        m.model_validate(given)
    except ValidationError as e:
        errors = [x for x in e.errors() if x["type"] != "missing"]  # required ones: the caller passes them
        if not errors:
            return
        first = errors[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        raise InputError(
            f"{what}: parameter {name!r} = {shorten(given.get(name))} is invalid: {first['msg']} "
            f"(declared: {declared(m, name)})"
        ) from e


def shown(factory: Callable, defaults: dict[str, Any]) -> str:
    """Parameters for a listing: `name=default (type, range)`, the declaration where there is one."""
    m = model(factory)
    parts = []
    for k, v in defaults.items():
        d = declared(m, k) if k in m.model_fields else "Any"
        parts.append(f"{k}={v}" + ("" if d == "Any" else f" ({d})"))
    return ", ".join(parts)


def declared(m: type[BaseModel], name: str) -> str:
    """A parameter's declaration in words: its type and range, e.g. `int, >= 4` or `int, >= 1 or None`."""
    info = m.model_fields[name]
    return words(info.annotation, info.metadata)


def words(annotation: Any, metadata: Iterable[Any] = ()) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return words(args[0], [*metadata, *args[1:]])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(words(a, metadata if a is not type(None) else ()) for a in args)
    simple = isinstance(annotation, type) and not args
    text = "None" if annotation is type(None) else annotation.__name__ if simple else str(annotation)
    if origin is list and args:
        text = f"list of ({words(args[0])})"
    signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "min_length": "items >=", "max_length": "items <="}
    for meta in metadata:
        for constraint in getattr(meta, "metadata", [meta]):  # Field(...) holds its constraints
            for attr, sign in signs.items():
                if getattr(constraint, attr, None) is not None:
                    text += f", {sign} {getattr(constraint, attr)}"
    return text
