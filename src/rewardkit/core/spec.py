"""Declare a reward in TOML, YAML or JSON, by registered names and weights.

A spec is a tree of *nodes*. A leaf names a registered term; other keys are
its parameters. An operator node combines child nodes:

=================  ===========================================================
node               keys
=================  ===========================================================
leaf               ``term`` (registered name), ``name``, ``weight``, params...
``sum``            list of nodes (each may have ``weight``), ``skip_missing``
``product``        list of nodes
``clip``           node, ``low``, ``high``
``affine``         node, ``scale``, ``shift``
``gate``           node (the gate), ``then`` (node), ``threshold``, ``include_gate``
``conditional``    node (the condition), ``then`` (node), ``threshold``, ``otherwise``
``group_switch``   node (the base), ``penalty`` (node), ``threshold`` or
                   ``top_fraction``, ``success`` (node), ``success_threshold``,
                   ``group_column``
``tiered``         node, ``thresholds``, ``rewards``
=================  ===========================================================

Every node may also have ``name`` and ``description``. A leaf parameter
whose value is itself a node (e.g. ``correctness = {term = "math_correct"}``)
is built into a term first.

Example (TOML):

.. code-block:: toml

    name = "math_reward"
    [[sum]]
    term = "exact_match"
    name = "correct"
    [[sum]]
    term = "regex_match"
    name = "format"
    weight = 0.2
    pattern = '<answer>.+</answer>'

Example:
    >>> reward = build_reward({"name": "r", "sum": [
    ...     {"term": "env_reward"},
    ...     {"term": "action_l2", "weight": 0.1}]})
    >>> reward({"reward": [1.0], "action": [[2.0]]}).total
    array([0.6])
    >>> build_reward({"sum": [{"term": "env_reward", "weight": "heavy"}]})
    Traceback (most recent call last):
    ...
    rewardkit.core.errors.SpecError: spec.sum[0].weight: expected a number, got 'heavy'
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from rewardkit.core import compose, gating
from rewardkit.core.errors import RewardKitError, SpecError
from rewardkit.core.registry import REGISTRY, Registry
from rewardkit.core.term import Term

__all__ = ["build_reward", "load_spec", "read_spec_file"]

_COMMON = {"name", "description", "weight"}


def read_spec_file(path: str | Path) -> dict[str, Any]:
    """Parse a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file into a dict.

    Raises:
        SpecError: the file is missing, unreadable, of an unknown type, or not
            a mapping at the top level.
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8")
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise SpecError(
                f"{path.name}: unknown spec type {suffix!r}; use .toml, .yaml, .yml or .json"
            )
    except (tomllib.TOMLDecodeError, yaml.YAMLError, json.JSONDecodeError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        mark = getattr(exc, "problem_mark", None)  # YAML says where only here
        if mark is not None:
            first_line += f" (line {mark.line + 1}, column {mark.column + 1})"
        raise SpecError(f"{path.name}: not valid {suffix[1:].upper()}: {first_line}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path.name}: the top level must be a table/mapping describing one reward")
    return data


def load_spec(path: str | Path, registry: Registry = REGISTRY) -> Term:
    """Read a spec file and build its reward term."""
    data = read_spec_file(path)
    try:
        return build_reward(data, registry)
    except SpecError as exc:
        raise SpecError(f"{Path(path).name}: {exc}") from None


def build_reward(spec: Mapping[str, Any], registry: Registry = REGISTRY) -> Term:
    """Build a term from a parsed spec (see the module docs for the grammar)."""
    return _Builder(registry).node(spec, "spec")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpecError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _optional_number(node: Mapping[str, Any], key: str, where: str) -> float | None:
    return None if node.get(key) is None else _number(node[key], f"{where}.{key}")


def _flag(node: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = node.get(key, default)
    if not isinstance(value, bool):
        raise SpecError(f"{where}.{key}: expected true or false, got {value!r}")
    return value


def _numbers(node: Mapping[str, Any], key: str, where: str) -> list[float]:
    values = node.get(key)
    if not isinstance(values, list):
        raise SpecError(f"{where}.{key}: expected a list of numbers, got {values!r}")
    return [_number(v, f"{where}.{key}[{i}]") for i, v in enumerate(values)]


class _Builder:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.operators: dict[str, tuple[set[str], Callable[[Mapping[str, Any], str], Term]]] = {
            "sum": ({"skip_missing"}, self._sum),
            "product": (set(), self._product),
            "clip": ({"low", "high"}, self._clip),
            "affine": ({"scale", "shift"}, self._affine),
            "gate": ({"then", "threshold", "include_gate"}, self._gate),
            "conditional": ({"then", "threshold", "otherwise"}, self._conditional),
            "group_switch": (
                {
                    "penalty",
                    "threshold",
                    "top_fraction",
                    "success",
                    "success_threshold",
                    "group_column",
                },
                self._group_switch,
            ),
            "tiered": ({"thresholds", "rewards"}, self._tiered),
        }

    def node(self, node: Any, where: str) -> Term:
        if not isinstance(node, Mapping):
            raise SpecError(f"{where}: expected a table/mapping, got {node!r}")
        kinds = [k for k in ("term", *self.operators) if k in node]
        if len(kinds) != 1:
            options = ", ".join(["term", *self.operators])
            found = f"found {kinds}" if kinds else "found none"
            raise SpecError(f"{where}: a node needs exactly one of [{options}]; {found}")
        kind = kinds[0]
        name = node.get("name")
        if name is not None and not isinstance(name, str):
            raise SpecError(f"{where}.name: expected a string, got {name!r}")
        try:
            if kind == "term":
                return self._leaf(node, where)
            allowed, build = self.operators[kind]
            unknown = set(node) - allowed - _COMMON - {kind}
            if unknown:
                raise SpecError(
                    f"{where}: unknown keys {sorted(unknown)} for a {kind!r} node; "
                    f"allowed: {sorted(allowed | _COMMON | {kind})}"
                )
            return build(node, where)
        except SpecError:
            raise
        except RewardKitError as exc:
            raise SpecError(f"{where}: {exc}") from None

    def _is_node(self, value: Any) -> bool:
        return isinstance(value, Mapping) and any(k in value for k in ("term", *self.operators))

    def _leaf(self, node: Mapping[str, Any], where: str) -> Term:
        term_name = node["term"]
        if not isinstance(term_name, str):
            raise SpecError(f"{where}.term: expected a registered term name, got {term_name!r}")
        params = {k: v for k, v in node.items() if k not in _COMMON | {"term", "params"}}
        extra = node.get("params", {})
        if not isinstance(extra, Mapping):
            raise SpecError(f"{where}.params: expected a table of parameters, got {extra!r}")
        params.update(extra)
        for key, value in params.items():
            if self._is_node(value):  # a parameter that is itself a term, e.g. correctness
                params[key] = self.node(value, f"{where}.{key}")
        if node.get("name") is not None:
            params["name"] = node["name"]
        try:
            return self.registry.create(term_name, **params)
        except SpecError:
            raise
        except (ValueError, TypeError, OverflowError) as exc:  # a bad value: the spec's error
            raise SpecError(f"{where}: term {term_name!r}: {exc}") from None

    def _children(self, node: Mapping[str, Any], kind: str, where: str) -> list[Term]:
        children = node[kind]
        if not isinstance(children, list) or not children:
            raise SpecError(f"{where}.{kind}: expected a non-empty list of nodes")
        return [self.node(child, f"{where}.{kind}[{i}]") for i, child in enumerate(children)]

    def _sum(self, node: Mapping[str, Any], where: str) -> Term:
        parts = self._children(node, "sum", where)
        weights = [
            _number(child.get("weight", 1.0), f"{where}.sum[{i}].weight")
            for i, child in enumerate(node["sum"])
        ]
        skip = _flag(node, "skip_missing", where, False)
        return compose.weighted_sum(
            parts, weights, name=node.get("name", "reward"), skip_missing=skip
        )

    def _product(self, node: Mapping[str, Any], where: str) -> Term:
        return compose.product(
            self._children(node, "product", where), name=node.get("name", "product")
        )

    def _single(self, node: Mapping[str, Any], key: str, where: str) -> Term:
        if key not in node:
            raise SpecError(f"{where}: missing key {key!r}")
        return self.node(node[key], f"{where}.{key}")

    def _clip(self, node: Mapping[str, Any], where: str) -> Term:
        low = _optional_number(node, "low", where)
        high = _optional_number(node, "high", where)
        return compose.clip(self._single(node, "clip", where), low, high, name=node.get("name"))

    def _affine(self, node: Mapping[str, Any], where: str) -> Term:
        scale = _optional_number(node, "scale", where)
        shift = _optional_number(node, "shift", where)
        return compose.affine(
            self._single(node, "affine", where),
            1.0 if scale is None else scale,
            0.0 if shift is None else shift,
            name=node.get("name"),
        )

    def _required_number(self, node: Mapping[str, Any], key: str, where: str) -> float:
        if key not in node:
            raise SpecError(f"{where}: missing key {key!r}")
        return _number(node[key], f"{where}.{key}")

    def _gate(self, node: Mapping[str, Any], where: str) -> Term:
        return gating.gate(
            self._single(node, "gate", where),
            self._single(node, "then", where),
            self._required_number(node, "threshold", where),
            include_gate=_flag(node, "include_gate", where, True),
            name=node.get("name", "gated"),
        )

    def _conditional(self, node: Mapping[str, Any], where: str) -> Term:
        threshold = _optional_number(node, "threshold", where)
        otherwise = node.get("otherwise", "nan")
        otherwise_value = (
            math.nan if otherwise == "nan" else _number(otherwise, f"{where}.otherwise")
        )
        return gating.conditional(
            self._single(node, "conditional", where),
            self._single(node, "then", where),
            threshold=0.5 if threshold is None else threshold,
            otherwise=otherwise_value,
            name=node.get("name", "conditional"),
        )

    def _group_switch(self, node: Mapping[str, Any], where: str) -> Term:
        success = self._single(node, "success", where) if "success" in node else None
        success_threshold = _optional_number(node, "success_threshold", where)
        group_column = node.get("group_column", "group")
        if not isinstance(group_column, str):
            raise SpecError(f"{where}.group_column: expected a column name, got {group_column!r}")
        return gating.group_switch(
            self._single(node, "group_switch", where),
            self._single(node, "penalty", where),
            threshold=_optional_number(node, "threshold", where),
            top_fraction=_optional_number(node, "top_fraction", where),
            success=success,
            success_threshold=0.5 if success_threshold is None else success_threshold,
            group_column=group_column,
            name=node.get("name", "group_switched"),
        )

    def _tiered(self, node: Mapping[str, Any], where: str) -> Term:
        return gating.tiered(
            self._single(node, "tiered", where),
            _numbers(node, "thresholds", where),
            _numbers(node, "rewards", where),
            name=node.get("name"),
        )
