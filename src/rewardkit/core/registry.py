"""A registry of named term factories, so a spec file can name terms.

A factory is a callable returning a term; it takes ``name=`` plus its own
parameters. Register a :class:`~rewardkit.core.term.RewardTerm` subclass, a
function that returns a term, or a ``@term``-decorated function (its extra,
non-column parameters become spec parameters).

Terms come from two places. A module registers its terms when it is imported
(``@register("name")``). Packages, rewardkit's own included, announce such
modules, or single factories, in the ``rewardkit.terms`` entry-point group;
the default :data:`REGISTRY` loads that group the first time a name is looked
up, so a third-party package's terms appear in ``rewardkit terms`` and in spec
files once it is installed:

.. code-block:: toml

    # the third-party package's pyproject.toml
    [project.entry-points."rewardkit.terms"]
    my_terms = "my_package.rewards"           # a module: importing it registers its terms
    toxicity = "my_package.rewards:Toxicity"  # a factory: registered as "toxicity"

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
import inspect
import os
import threading
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

from rewardkit.core.errors import RegistryError, RewardKitWarning
from rewardkit.core.term import FunctionTerm, Term

__all__ = [
    "ENTRY_POINT_GROUP",
    "REGISTRY",
    "Registry",
    "RegistryEntry",
    "create",
    "register",
    "registered_names",
]

#: the entry-point group through which packages register terms. rewardkit's own
#: packages use it too (see ``pyproject.toml``), so the core names no package above it.
ENTRY_POINT_GROUP = "rewardkit.terms"


#: the distribution whose entry points are loaded first
DISTRIBUTION = "rewardkit"


#: every registry, so a forked child can reset the load locks (see Registry._after_fork)
_REGISTRIES: weakref.WeakSet[Registry] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for registry in list(_REGISTRIES):
        registry._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _plugins_last(point: EntryPoint) -> int:
    dist = getattr(point, "dist", None)
    return 0 if dist is not None and dist.metadata["Name"] == DISTRIBUTION else 1


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
    """Name → term factory. The module-level :data:`REGISTRY` is the default.

    Args:
        entry_point_group: load this entry-point group on the first lookup.
        parent: a registry to fall back on for names this one lacks, so a
            benchmark can keep its own terms beside the global ones without
            adding them to the global registry.

    Example:
        >>> local = Registry(parent=REGISTRY)
        >>> _ = local.register("doc_local_term", lambda name="doc_local_term": None)
        >>> "doc_local_term" in local.names(), "doc_local_term" in REGISTRY.names()
        (True, False)
        >>> local.entry("env_reward").name
        'env_reward'
    """

    def __init__(
        self, entry_point_group: str | None = None, parent: Registry | None = None
    ) -> None:
        self._entries: dict[str, RegistryEntry] = {}
        self._entry_point_group = entry_point_group
        self._loaded = entry_point_group is None
        self._loading = False
        # Re-entrant: a module loaded through an entry point may look a name up while
        # it is imported; that lookup (same thread) sees what is registered so far.
        self._load_lock = threading.RLock()
        self._parent = parent
        _REGISTRIES.add(self)

    def _after_fork(self) -> None:
        """In a child forked while another thread was loading: a fresh lock, and the
        load starts again (re-registering a factory that is already there is a no-op)."""
        self._load_lock = threading.RLock()
        if self._loading:
            self._loading = self._loaded = False

    def _load_builtins(self) -> None:
        """Load the entry points once. The first lookups from several threads at once
        (OpenRLHF scores its first samples from a thread pool) all wait for the load
        to finish, so none sees a half-filled registry."""
        if self._loaded:
            return
        with self._load_lock:
            if self._loaded or self._loading:  # done, or this thread is loading it
                return
            self._loading = True
            try:
                self._load_entry_points()
            finally:
                self._loading = False
                self._loaded = True

    def _load_entry_points(self) -> None:
        assert self._entry_point_group is not None
        # rewardkit's own terms first, so a plugin that reuses a built-in name loses, not them
        points = sorted(entry_points(group=self._entry_point_group), key=_plugins_last)
        if self._entry_point_group == ENTRY_POINT_GROUP and not any(
            _plugins_last(point) == 0 for point in points
        ):
            warnings.warn(
                "rewardkit's own entry points are missing, so only the core terms are "
                "registered: reinstall rewardkit (pip install -e . in a source tree)",
                RewardKitWarning,
                stacklevel=4,
            )
        for point in points:
            self._load_entry_point(point)

    def _load_entry_point(self, point: EntryPoint) -> None:
        problem = None
        try:
            loaded = point.load()
        except Exception as exc:  # a broken plugin must not break every other term
            problem = f"failed to load ({type(exc).__name__}: {exc}); its terms are not registered"
        else:
            if isinstance(loaded, ModuleType):
                return
            if point.name in self._entries and self._entries[point.name].factory is not loaded:
                problem = f"names a term that is already registered; {point.value} is skipped"
            else:
                self.register(point.name, loaded)
        if problem:
            warnings.warn(
                f"entry point {point.name!r} = {point.value!r} in group "
                f"{self._entry_point_group!r} {problem}",
                RewardKitWarning,
                stacklevel=5,
            )

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
        if name in self._entries:
            return self._entries[name]
        if self._parent is not None and name in self._parent.names():
            return self._parent.entry(name)
        known = self.names()
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise RegistryError(f"no term named {name!r}.{hint} Registered terms: {known}")

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
        """Sorted registered names (with the parent's)."""
        self._load_builtins()
        inherited = self._parent.names() if self._parent is not None else []
        return sorted({*self._entries, *inherited})


REGISTRY = Registry(ENTRY_POINT_GROUP)
register = REGISTRY.register
create = REGISTRY.create
registered_names = REGISTRY.names
