"""A griffe extension for the docs build (mkdocs.yml loads it; nothing under ``src/`` changes).

rewardkit's docstrings are Google style with two habits the Google parser reads otherwise:

- their doctests are headed ``Example:`` (singular), which griffe reads as an admonition of
  plain Markdown (``>>>`` lines become block quotes, and output such as ``[0.15, 0.2]`` reads
  as a link); the heading is renamed ``Examples:``, the section griffe renders as code;
- they cross-reference with Sphinx roles (``:class:`RewardTerm```), which Markdown shows
  as-is; each becomes the name in code, linked where that object has a page
  (an optional autoref: a name with no page stays plain code, no warning).
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_EXAMPLE_HEADING = re.compile(r"^(\s*)Example:\s*$", re.M)
_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):`(~?)\.?([\w.]+)`")


def _target(obj: griffe.Object, name: str) -> str | None:
    """The full path of ``name`` as seen from ``obj``'s scope, if it names something."""
    if name.startswith("rewardkit."):
        return name
    head, _, rest = name.partition(".")
    scope: Any = obj
    while scope is not None:
        try:
            found = scope.resolve(head)
        except (griffe.NameResolutionError, AttributeError, KeyError):
            found = None
        if found:
            return f"{found}.{rest}" if rest else found
        scope = scope.parent
    return None


def _link(obj: griffe.Object, match: re.Match[str]) -> str:
    short, name = match.group(1), match.group(2)
    shown = name.rsplit(".", 1)[-1] if short else name
    target = _target(obj, name)
    if target is None:
        return f"`{shown}`"
    return (
        f'<autoref identifier="{html.escape(target)}" optional>'
        f"<code>{html.escape(shown)}</code></autoref>"
    )


def _objects(obj: griffe.Object) -> Any:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)


class DocstringMarkdown(griffe.Extension):
    """``Example:`` read as ``Examples:``; Sphinx roles read as (optionally linked) code."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _objects(pkg):
            if obj.docstring is None:
                continue
            value = _EXAMPLE_HEADING.sub(r"\1Examples:", obj.docstring.value)
            obj.docstring.value = _ROLE.sub(lambda m, o=obj: _link(o, m), value)
