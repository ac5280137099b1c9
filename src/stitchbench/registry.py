"""The one name -> factory registry shared by every pluggable kind: built-ins plus entry-point plugins.

Built-ins register at import. Plugins come from the entry point group `stitchbench.<kind>s`
(`stitchbench.scenarios`, `stitchbench.architectures`, `stitchbench.problems`, `stitchbench.solvers`) and
are loaded on the registry's first lookup, never at import, so a plugin may import any stitchbench module.
A plugin that fails to import is skipped with a warning naming it; one whose name is taken (by a built-in
or an earlier plugin) is refused with a warning.
"""

import inspect
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from stitchbench._params import check as check_params
from stitchbench.errors import InputError, unknown

__all__ = ["Entry", "Registry", "tagged"]

log = logging.getLogger(__name__)

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

TAGS_ATTRIBUTE = "stitchbench_tags"


def tagged(**tags: Any) -> Callable[[F], F]:
    """Decorator for a plugin's factory: facts the registry records with it (e.g. task="classification")."""

    def mark(factory: F) -> F:
        setattr(factory, TAGS_ATTRIBUTE, dict(tags))
        return factory

    return mark


def first_line(obj: object) -> str:
    """The first line of an object's docstring ("" without one)."""
    doc = (getattr(obj, "__doc__", None) or "").strip()  # a class's own docstring, not its base's
    return doc.splitlines()[0] if doc else ""


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: Callable[..., T]
    description: str
    tags: dict[str, Any] = field(default_factory=dict)
    plugin: str | None = None  # the entry point's target ("module:object") for a plugin, None for a built-in
    kind: str = "entry"  # the registry's kind (scenario, architecture, problem, solver)

    @property
    def about(self) -> str:
        """The description, prefixed with `[plugin module:object]` for a plugin."""
        return f"[plugin {self.plugin}] {self.description}" if self.plugin else self.description

    def check(self, params: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
        """Refuse parameters the factory does not take, and values its annotations (type, range) do not
        allow (see `stitchbench._params`); `skip`: names the framework injects."""
        valid = set(self.parameters()) - set(skip)
        bad = sorted(set(params) - valid)
        if bad:
            raise InputError(
                f"unknown parameter {bad[0]!r} for {self.kind} {self.name!r}; valid parameters: "
                + (", ".join(sorted(valid)) or "(none)")
            )
        check_params(f"{self.kind} {self.name!r}", self.factory, params, skip)

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

    def __init__(self, kind: str, group: str | None = None, check: Callable[[Any], Any] | None = None):
        """`check(factory)`: a plugin's declarations, checked when it loads (raising refuses the plugin)."""
        self.kind = kind
        self.group = group or f"stitchbench.{kind}s"
        self.check = check
        self._entries: dict[str, Entry[T]] = {}
        self._plugins_loaded = False

    def register(self, name: str, description: str = "", **tags: Any) -> Callable[[F], F]:
        """Decorator for a built-in; the description defaults to the docstring's first line."""

        def add(factory: F) -> F:
            self.add(name, factory, description or first_line(factory), **tags)
            return factory

        return add

    def add(self, name: str, factory: Callable[..., T], description: str, **tags: Any) -> None:
        """Register a built-in. Every entry needs a one-line description."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        if not description or "\n" in description:
            raise ValueError(f"{self.kind} {name!r} needs a one-line description")
        self._entries[name] = Entry(name, factory, description, tags, kind=self.kind)

    def load_plugins(self) -> None:
        """Add the plugins of this kind's entry point group (once; later calls do nothing)."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self.group):
            taken = self._entries.get(ep.name)
            if taken is not None:
                owner = f"plugin {taken.plugin}" if taken.plugin else f"built-in {self.kind}"
                log.warning(
                    "%s plugin %r (%s) is refused: its name is taken by the %s", self.kind, ep.name, ep.value, owner
                )
                continue
            try:
                factory = ep.load()
                if self.check is not None:
                    self.check(factory)
            except Exception as e:  # a broken plugin must not break the built-ins or the other plugins
                log.warning(
                    "%s plugin %r (%s) is skipped: it failed to load: %s: %s",
                    self.kind,
                    ep.name,
                    ep.value,
                    type(e).__name__,
                    e,
                )
                continue
            description = first_line(factory) or f"{ep.value} (undocumented)"
            tags = dict(getattr(factory, TAGS_ATTRIBUTE, {}))
            self._entries[ep.name] = Entry(ep.name, factory, description, tags, plugin=ep.value, kind=self.kind)

    def entry(self, name: str) -> Entry[T]:
        self.load_plugins()
        if name not in self._entries:
            raise unknown(self.kind, name, self._entries)
        return self._entries[name]

    def create(self, name: str, *args: Any, **params: Any) -> T:
        """Build `name` with `params`, after `Entry.check`."""
        entry = self.entry(name)
        entry.check(params)
        return entry.factory(*args, **params)

    def names(self) -> list[str]:
        self.load_plugins()
        return list(self._entries)

    def __iter__(self) -> Iterator[Entry[T]]:
        self.load_plugins()
        return iter(list(self._entries.values()))

    def __contains__(self, name: object) -> bool:
        self.load_plugins()
        return name in self._entries
