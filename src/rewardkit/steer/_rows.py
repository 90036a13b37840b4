"""What every steering method does with its prompts and their columns: check them, and
repeat each prompt's row once per sample (best-of-N's samples, SMC's particles).

Example:
    >>> repeat_each(["1+1=", "2+2="], 2)
    ['1+1=', '1+1=', '2+2=', '2+2=']
    >>> repeat_columns({"answer": ["2", "4"]}, 2)
    {'answer': ['2', '2', '4', '4']}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from rewardkit.core.errors import ConfigurationError

__all__ = ["check_columns", "check_prompts", "repeat_columns", "repeat_each"]

T = TypeVar("T")


def check_prompts(prompts: Sequence[str], method: str) -> None:
    """Refuse a lone string or an empty list where ``method`` needs prompt strings.

    Example:
        >>> check_prompts("1+1=", "smc")
        Traceback (most recent call last):
        ...
        rewardkit.core.errors.ConfigurationError: smc needs a non-empty list of prompt strings
    """
    if isinstance(prompts, str) or len(prompts) == 0:
        raise ConfigurationError(f"{method} needs a non-empty list of prompt strings")


def check_columns(columns: Mapping[str, Sequence[Any]] | None, count: int) -> None:
    """Refuse a per-prompt column without exactly one value per prompt.

    Example:
        >>> check_columns({"answer": ["2"]}, 2)
        Traceback (most recent call last):
        ...
        rewardkit.core.errors.ConfigurationError: column 'answer' has 1 values for 2 prompts
    """
    for key, values in (columns or {}).items():
        if len(values) != count:
            raise ConfigurationError(f"column {key!r} has {len(values)} values for {count} prompts")


def repeat_each(values: Sequence[T], times: int) -> list[T]:
    """Each value ``times`` times in a row: a prompt's value for each of its samples."""
    return [value for value in values for _ in range(times)]


def repeat_columns(columns: Mapping[str, Sequence[Any]] | None, times: int) -> dict[str, list[Any]]:
    """:func:`repeat_each` over every column."""
    return {key: repeat_each(values, times) for key, values in (columns or {}).items()}
