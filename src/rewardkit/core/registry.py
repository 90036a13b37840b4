"""A registry of named term factories, so a spec file can name terms.

A factory is a callable returning a term; it takes ``name=`` plus its own
parameters. Register a :class:`~rewardkit.core.term.RewardTerm` subclass, a
function that returns a term, or a ``@term``-decorated function (its extra,
non-column parameters become spec parameters).

Example:
    >>> from rewardkit.core import RewardTerm, batch_size
    >>> registry = Registry()
    >>> @registry.register("step_cost")
    ... class StepCost(RewardTerm):
    ...     def __init__(self, cost: float = 0.01, name: str = "step_cost"):
    ...         super().__init__(name)
    ...         self.cost = cost
    ...     def _compute(self, batch):
    ...         return [-self.cost] * batch_size(batch)
    >>> registry.create("step_cost", cost=0.1)({"reward": [0.0]}).total
    array([-0.1])
    >>> registry.create("step_csot")
    Traceback (most recent call last):
    ...
    rewardkit.core.errors.RegistryError: no term named 'step_csot'. Did you mean 'step_cost'? ...
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rewardkit.core.errors import RegistryError
from rewardkit.core.term import FunctionTerm, Term

__all__ = ["REGISTRY", "Registry", "RegistryEntry", "create", "register", "registered_names"]

#: modules whose import registers rewardkit's built-in terms
BUILTIN_MODULES: tuple[str, ...] = (
    "rewardkit.core.builtin",
    "rewardkit.verify.text",
    "rewardkit.verify.math",
    "rewardkit.verify.format",
    "rewardkit.verify.length",
    "rewardkit.verify.efficiency",
    "rewardkit.verify.grounding",
    "rewardkit.verify.partial",
    "rewardkit.verify.code",
    "rewardkit.shaping.potential",
    "rewardkit.envs.arithmetic",
    "rewardkit.explore.counts",
    "rewardkit.explore.e3b",
    "rewardkit.explore.rnd",
)


@dataclass(frozen=True)
class RegistryEntry:
    """A registered factory and its one-line description."""

    name: str
    factory: Callable[..., Term]
    summary: str

    def parameters(self) -> list[str]:
        """The parameters a spec may set (besides ``name``)."""
        signature = inspect.signature(self.factory)
        return [
            p.name
            for p in signature.parameters.values()
            if p.name != "name" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]


def _function_term_factory(function_term: FunctionTerm) -> Callable[..., Term]:
    fn = function_term.fn
    signature = inspect.signature(fn)
    fixed = [p for p in signature.parameters.values() if p.kind == inspect.Parameter.KEYWORD_ONLY]

    def factory(name: str | None = None, **params: Any) -> Term:
        unknown = set(params) - {p.name for p in fixed}
        if unknown:
            raise TypeError(f"unexpected parameters {sorted(unknown)}")
        return FunctionTerm(
            fn, name=name or function_term.name, per_sample=function_term.per_sample, params=params
        )

    # Expose the keyword-only parameters as the factory's own, for errors and docs.
    factory.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("name", inspect.Parameter.KEYWORD_ONLY, default=None), *fixed]
    )
    return factory


class Registry:
    """Name → term factory. The module-level :data:`REGISTRY` is the default."""

    def __init__(self, builtin_modules: tuple[str, ...] = ()) -> None:
        self._entries: dict[str, RegistryEntry] = {}
        self._builtin_modules = builtin_modules
        self._loaded = not builtin_modules

    def _load_builtins(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._builtin_modules:
                importlib.import_module(module)

    def register(self, name: str, factory: Any = None, *, summary: str | None = None) -> Any:
        """Register ``factory`` under ``name``; usable as a decorator.

        Raises:
            RegistryError: if ``name`` is taken by a different factory.
        """

        def add(obj: Any) -> Any:
            if isinstance(obj, FunctionTerm):
                make = _function_term_factory(obj)
                doc = obj.fn.__doc__
            elif callable(obj):
                make = obj
                doc = obj.__doc__
            else:
                raise RegistryError(f"cannot register {obj!r} as {name!r}: it is not callable")
            existing = self._entries.get(name)
            if existing is not None and existing.factory is not make:
                same_origin = getattr(existing.factory, "__qualname__", None) == getattr(
                    make, "__qualname__", object()
                ) and getattr(existing.factory, "__module__", None) == getattr(
                    make, "__module__", None
                )
                if not same_origin:  # re-importing a module re-registers the same factory
                    raise RegistryError(
                        f"a term named {name!r} is already registered; choose another name"
                    )
            first_line = (summary or doc or "").strip().splitlines()
            self._entries[name] = RegistryEntry(name, make, first_line[0] if first_line else "")
            return obj

        return add(factory) if factory is not None else add

    def entry(self, name: str) -> RegistryEntry:
        """Return the entry for ``name``, with a 'did you mean' hint if unknown."""
        self._load_builtins()
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._entries), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise RegistryError(
                f"no term named {name!r}.{hint} Registered terms: {sorted(self._entries)}"
            ) from None

    def create(self, name: str, /, **params: Any) -> Term:
        """Build the term registered as ``name`` with ``params``.

        Raises:
            RegistryError: unknown name, or parameters the factory does not take.
        """
        entry = self.entry(name)
        try:
            return entry.factory(**params)
        except TypeError as exc:
            raise RegistryError(
                f"term {name!r} does not accept these parameters ({exc}); "
                f"it takes {entry.parameters()} and name"
            ) from None

    def names(self) -> list[str]:
        """Sorted registered names."""
        self._load_builtins()
        return sorted(self._entries)


REGISTRY = Registry(BUILTIN_MODULES)
register = REGISTRY.register
create = REGISTRY.create
registered_names = REGISTRY.names
