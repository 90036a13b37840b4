"""Array plumbing shared by the credit functions: numpy in, torch accepted."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.errors import ShapeError

FloatArray = npt.NDArray[np.float64]


def is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def as_float_array(x: Any, name: str) -> FloatArray:
    """A float64 numpy copy of ``x`` (numpy, list, or torch tensor)."""
    if is_torch(x):
        x = x.detach().cpu().numpy()
    try:
        array = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ShapeError(f"{name} must be numeric, got {type(x).__name__}") from None
    return array


def as_bool_array(x: Any, name: str, shape: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    """A boolean array of ``shape``; ``None`` means all False."""
    if x is None:
        return np.zeros(shape, dtype=bool)
    if is_torch(x):
        x = x.detach().cpu().numpy()
    array = np.asarray(x)
    if array.shape != shape:
        raise ShapeError(f"{name} has shape {array.shape}, expected {shape} (the rewards' shape)")
    if array.dtype != bool:
        if not np.all((array == 0) | (array == 1)):
            raise ShapeError(f"{name} must be boolean (or 0/1), got values {np.unique(array)[:5]}")
        array = array.astype(bool)
    return array


def check_same_shape(reference_name: str, reference: FloatArray, **others: FloatArray) -> None:
    for name, array in others.items():
        if array.shape != reference.shape:
            raise ShapeError(
                f"{name} has shape {array.shape} but {reference_name} has {reference.shape}; "
                "pass time-major arrays of the same shape (T, ...)"
            )


def check_finite(array: FloatArray, name: str, where: Any = None) -> None:
    """Raise if ``array`` (where ``where`` is True) holds NaN or ±inf, naming the first
    index: one NaN in a backward recursion poisons every earlier step.

    Example:
        >>> check_finite(np.array([0.0, np.nan]), "r_t")
        Traceback (most recent call last):
        ...
        rewardkit.core.errors.ShapeError: r_t[1] is nan: credit needs finite values ...
    """
    bad = ~np.isfinite(array)
    if where is not None:
        bad &= np.asarray(where, dtype=bool)
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        shown = index[0] if len(index) == 1 else index
        raise ShapeError(
            f"{name}[{shown}] is {array[index]}: credit needs finite values (mark a sample "
            "without a reward in the reward term's status, or clip it)"
        )


def check_epsilon(value: float, name: str = "epsilon") -> float:
    """A finite, non-negative stabilizer."""
    value = float(value)
    if not (np.isfinite(value) and value >= 0):
        raise ShapeError(f"{name} must be a finite number >= 0, got {value}")
    return value


def check_unit_interval(value: float, name: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ShapeError(f"{name} must be in [0, 1], got {value}")
    return value


def like(result: FloatArray, template: Any) -> Any:
    """Return ``result`` as a torch tensor if ``template`` is one, else as is."""
    if is_torch(template):
        import torch

        return torch.from_numpy(result).to(dtype=template.dtype, device=template.device)
    return result
