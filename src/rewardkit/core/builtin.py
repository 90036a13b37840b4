"""Generic built-in terms: read a column, a constant, control cost.

They are registered under their names, so spec files can use them.

Example:
    >>> env_reward()({"reward": [1.0, 0.0]}).total
    array([1., 0.])
    >>> action_l2(scale=0.5)({"action": [[1.0, 1.0], [0.0, 2.0]]}).total
    array([-1., -2.])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, batch_size, get_column
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.core.output import FloatArray
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm, validate_name

__all__ = ["ActionL2", "Column", "Constant", "action_l2", "column", "constant", "env_reward"]


def _numeric_column(values: Any, column_name: str) -> FloatArray:
    """The column as float64; numbers only: a string ("-0.5"), a boolean or a complex
    value is refused rather than converted (a reward read from text is a bug upstream)."""
    if isinstance(values, np.ndarray) and values.dtype != object:
        if not np.issubdtype(values.dtype, np.number) or np.issubdtype(
            values.dtype, np.complexfloating
        ):
            raise BatchError(f"column {column_name!r} must hold real numbers, got {values.dtype}")
        array = values.astype(np.float64)
    else:
        odd = [
            v
            for v in values
            if v is not None
            and (isinstance(v, bool | np.bool_ | str | bytes | complex | np.complexfloating))
        ]
        if odd:
            raise BatchError(
                f"column {column_name!r} must hold real numbers (or None), got "
                f"{type(odd[0]).__name__} {odd[0]!r}"
            )
        try:
            array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            raise BatchError(
                f"column {column_name!r} must hold numbers (or None), "
                f"e.g. {list(values)[:3]!r} is not numeric"
            ) from None
    if array.ndim != 1:
        raise BatchError(f"column {column_name!r} must be one number per sample, got {array.shape}")
    return array


@register("column")
class Column(RewardTerm):
    """The values of a numeric column (``None`` → not applicable)."""

    def __init__(self, column: str, name: str | None = None) -> None:
        super().__init__(name or column)
        self.column = validate_name(column)
        self.columns = (column,)

    def _compute(self, batch: Batch) -> FloatArray:
        return _numeric_column(get_column(batch, self.column), self.column)


def column(column: str, name: str | None = None) -> Column:
    """A term returning column ``column`` as the reward."""
    return Column(column, name)


def env_reward(name: str = "env_reward") -> Column:
    """The environment's own reward (column ``reward``)."""
    return Column("reward", name)


register("env_reward", env_reward)


@register("constant")
class Constant(RewardTerm):
    """The same value for every sample: an alive bonus or a step cost."""

    def __init__(self, value: float, name: str = "constant") -> None:
        super().__init__(name)
        self.value = float(value)
        if not np.isfinite(self.value):
            raise ConfigurationError(f"constant value must be finite, got {value!r}")

    def _compute(self, batch: Batch) -> FloatArray:
        return np.full(batch_size(batch), self.value)


constant = Constant


@register("action_l2")
class ActionL2(RewardTerm):
    """Control cost −scale · ‖a‖², as MuJoCo tasks' ``ctrl_cost`` (reads ``action``)."""

    columns = ("action",)

    def __init__(self, scale: float = 1.0, name: str = "action_l2") -> None:
        super().__init__(name)
        self.scale = float(scale)

    def _compute(self, batch: Batch) -> FloatArray:
        values = get_column(batch, "action")
        try:
            actions = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise BatchError("column 'action' must hold numeric (continuous) actions") from None
        actions = actions.reshape(actions.shape[0], -1)
        cost: FloatArray = -self.scale * np.sum(actions * actions, axis=1)
        return cost


action_l2 = ActionL2
