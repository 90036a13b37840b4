"""Lazy exports: a package's names imported from their modules on first use.

A package whose names need optional extras (torch, TRL, gymnasium) lists them
with the module each comes from; :func:`lazy_exports` gives the module-level
``__getattr__`` and ``__dir__`` that import a module only when one of its
names is first read (PEP 562), and cache the value in the package.

Example:
    >>> import types
    >>> package = types.ModuleType("demo")
    >>> getattr_, dir_ = lazy_exports(package, {"sqrt": "math"}, modules=("json",))
    >>> getattr_("sqrt")(9.0), getattr_("json").__name__, dir_()
    (3.0, 'json', ['json', 'sqrt'])
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: ModuleType | str,
    names: Mapping[str, str],
    modules: Iterable[str] = (),
    prefix: str = "",
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``.

    Args:
        package: the package (or its name, looked up in ``sys.modules`` on use).
        names: exported name → the module it lives in (``prefix`` + that module).
        modules: submodules exported as attributes (``prefix`` + their name).
        prefix: prepended to every module name (the package's own name and a dot).
    """
    submodules = tuple(modules)

    def namespace() -> dict[str, Any]:
        if isinstance(package, ModuleType):
            return vars(package)
        return vars(importlib.import_module(package))

    def lazy_getattr(name: str) -> Any:
        if name in submodules:
            value: Any = importlib.import_module(prefix + name)
        elif name in names:
            value = getattr(importlib.import_module(prefix + names[name]), name)
        else:
            title = package.__name__ if isinstance(package, ModuleType) else package
            raise AttributeError(f"module {title!r} has no attribute {name!r}")
        namespace()[name] = value
        return value

    def lazy_dir() -> list[str]:
        exported = namespace().get("__all__")
        return sorted(exported) if exported is not None else sorted({*names, *submodules})

    return lazy_getattr, lazy_dir
