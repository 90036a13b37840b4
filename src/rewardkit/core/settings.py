"""Configuration dataclasses with help text and validation per field.

A field declared with :func:`setting` carries its help text and its valid
range; :func:`check_settings` (called from ``__post_init__``) checks every such
field and raises :class:`~rewardkit.core.errors.ConfigurationError` naming the
field, the value, the rule and the help text. :func:`describe_settings` lists
the fields, as ``--help`` would.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Config:
    ...     lr: float = setting(3e-4, "learning rate of AdamW", above=0)
    ...     def __post_init__(self) -> None:
    ...         check_settings(self)
    >>> Config(lr=-3)
    Traceback (most recent call last):
    ...
    rewardkit.core.errors.ConfigurationError: Config.lr must be > 0, got -3 (learning rate of AdamW)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from rewardkit.core.errors import ConfigurationError

__all__ = ["check_settings", "describe_settings", "setting"]


def setting(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
    choices: Sequence[Any] | None = None,
) -> Any:
    """A dataclass field with its help text and valid range.

    Args:
        default: the default value (a mutable default needs
            ``dataclasses.field(default_factory=..., metadata={"help": ...})``).
        help: one line saying what the field does.
        minimum: the value must be >= this. above: the value must be > this.
        maximum: the value must be <= this. choices: the allowed values.
    """
    metadata = {
        "help": help,
        "minimum": minimum,
        "above": above,
        "maximum": maximum,
        "choices": tuple(choices) if choices is not None else None,
    }
    return dataclasses.field(default=default, metadata=metadata)


def _problem(value: Any, rules: dict[str, Any]) -> str | None:
    choices = rules.get("choices")
    if choices is not None:
        return None if value in choices else f"be one of {list(choices)}"
    bounded = any(rules.get(k) is not None for k in ("minimum", "above", "maximum"))
    if not bounded:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "be a number"
    if not math.isfinite(value):
        return "be finite"
    if rules.get("minimum") is not None and not value >= rules["minimum"]:
        return f"be >= {rules['minimum']}"
    if rules.get("above") is not None and not value > rules["above"]:
        return f"be > {rules['above']}"
    if rules.get("maximum") is not None and not value <= rules["maximum"]:
        return f"be <= {rules['maximum']}"
    return None


def check_settings(config: Any) -> None:
    """Check every :func:`setting` field of the dataclass instance ``config``.

    Raises:
        ConfigurationError: the first field out of its range, with the field's help.
    """
    for item in dataclasses.fields(config):
        if "help" not in item.metadata:
            continue
        value = getattr(config, item.name)
        problem = _problem(value, dict(item.metadata))
        if problem is not None:
            help_text = item.metadata["help"]
            raise ConfigurationError(
                f"{type(config).__name__}.{item.name} must {problem}, got {value!r}"
                + (f" ({help_text})" if help_text else "")
            )


def describe_settings(config_type: type) -> str:
    """One line per field of a settings dataclass: name, default and help.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Config:
        ...     steps: int = setting(100, "optimizer steps", minimum=1)
        >>> print(describe_settings(Config))
        steps = 100: optimizer steps (>= 1)
    """
    lines = []
    for item in dataclasses.fields(config_type):
        if item.default is not dataclasses.MISSING:
            default = repr(item.default)
        elif item.default_factory is not dataclasses.MISSING:
            default = repr(item.default_factory())
        else:
            default = "(required)"
        rules = [
            f"{sign} {item.metadata[key]}"
            for key, sign in (("minimum", ">="), ("above", ">"), ("maximum", "<="))
            if item.metadata.get(key) is not None
        ]
        if item.metadata.get("choices") is not None:
            rules.append("one of " + ", ".join(map(repr, item.metadata["choices"])))
        text = item.metadata.get("help", "")
        suffix = f" ({'; '.join(rules)})" if rules else ""
        lines.append(f"{item.name} = {default}: {text}{suffix}")
    return "\n".join(lines)
