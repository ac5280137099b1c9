"""A small name -> factory registry with parameter checking, shared by every pluggable kind."""

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from stitchbench.errors import InputError, unknown

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: Callable[..., T]
    description: str
    tags: dict[str, Any] = field(default_factory=dict)

    def parameters(self) -> dict[str, Any]:
        """The factory's keyword parameters and their defaults."""
        sig = inspect.signature(self.factory)
        return {
            n: (None if p.default is inspect.Parameter.empty else p.default)
            for n, p in sig.parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }


class Registry(Generic[T]):
    """Named factories of one kind (scenario, architecture, problem, solver)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, description: str = "", **tags: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator; `tags` are free-form facts about the entry (e.g. task="segmentation")."""

        def add(factory: Callable[..., T]) -> Callable[..., T]:
            self.add(name, factory, description or (factory.__doc__ or "").strip().splitlines()[0], **tags)
            return factory

        return add

    def add(self, name: str, factory: Callable[..., T], description: str = "", **tags: Any) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = Entry(name, factory, description, tags)

    def entry(self, name: str) -> Entry[T]:
        if name not in self._entries:
            raise unknown(self.kind, name, self._entries)
        return self._entries[name]

    def create(self, name: str, *args: Any, **params: Any) -> T:
        """Build `name` with `params`, rejecting parameters the factory does not take."""
        entry = self.entry(name)
        valid = entry.parameters()
        bad = sorted(set(params) - set(valid))
        if bad:
            raise InputError(
                f"unknown parameter {bad[0]!r} for {self.kind} {name!r}; valid parameters: "
                + (", ".join(sorted(valid)) or "(none)")
            )
        return entry.factory(*args, **params)

    def names(self) -> list[str]:
        return list(self._entries)

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries
