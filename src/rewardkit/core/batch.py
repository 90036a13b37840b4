"""The columnar batch.

A batch maps column names to sequences of equal length N. Control steps use
``obs, action, next_obs, reward, terminated, truncated``; completions use
``prompt, completion, answer, group, completion_ids, logprobs`` plus any
dataset column. Terms read columns by parameter name, the way TRL passes
dataset columns to reward functions as keyword arguments.

Example:
    >>> batch = from_records([{"completion": "4", "answer": "4"},
    ...                       {"completion": "5", "answer": "4"}])
    >>> batch_size(batch)
    2
    >>> batch["answer"]
    ['4', '4']
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardkit.core.errors import BatchError, MissingColumnError

__all__ = [
    "Batch",
    "batch_size",
    "from_records",
    "get_column",
    "is_missing",
    "read_jsonl",
    "take",
    "to_records",
]

Batch = Mapping[str, Any]
"""A mapping from column name to a sequence or array of length N."""


def is_missing(value: Any) -> bool:
    """Whether one cell of a column holds no value: None or a float NaN.

    Example:
        >>> is_missing(None), is_missing(float("nan")), is_missing(0.0), is_missing("nan")
        (True, True, False, False)
    """
    return value is None or (isinstance(value, float | np.floating) and bool(np.isnan(value)))


def _column_length(name: str, values: Any) -> int:
    if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        raise BatchError(
            f"column {name!r} is a {type(values).__name__}, not a sequence; "
            "a batch maps each column to a list or array with one entry per sample"
        )
    shape = getattr(values, "shape", None)
    if shape is not None and len(shape) == 0:
        raise BatchError(f"column {name!r} is a 0-d array; give one entry per sample")
    return len(values)


def batch_size(batch: Batch) -> int:
    """Return N, the common length of every column, or raise :class:`BatchError`.

    Example:
        >>> batch_size({"reward": [1.0, 0.0, 1.0], "terminated": [False, False, True]})
        3
    """
    if not isinstance(batch, Mapping):
        raise BatchError(
            f"a batch is a mapping of column name to values, got {type(batch).__name__}; "
            "use rewardkit.core.from_records(rows) to convert a list of row dicts"
        )
    if not batch:
        raise BatchError("the batch has no columns")
    lengths = {name: _column_length(name, values) for name, values in batch.items()}
    distinct = set(lengths.values())
    if len(distinct) > 1:
        detail = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise BatchError(f"columns have different lengths ({detail}); every column needs N entries")
    return distinct.pop()


def get_column(batch: Batch, name: str) -> Any:
    """Return column ``name``; a missing column raises :class:`MissingColumnError`.

    The message lists the available columns and the closest match.
    """
    try:
        return batch[name]
    except KeyError:
        available = sorted(batch)
        close = difflib.get_close_matches(name, available, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise MissingColumnError(
            f"the batch has no column {name!r} (it has {available}).{hint} "
            "Add the column, or rename the term's parameter to match an existing column."
        ) from None


def from_records(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Turn a list of row dicts (one per sample) into a columnar batch.

    A key missing from some rows becomes ``None`` in those rows.

    Example:
        >>> from_records([{"a": 1}, {"a": 2, "b": "x"}])
        {'a': [1, 2], 'b': [None, 'x']}
    """
    rows = list(rows)
    if not rows:
        raise BatchError("cannot build a batch from zero rows")
    names: dict[str, None] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise BatchError(f"row {index} is a {type(row).__name__}, expected a mapping")
        names.update(dict.fromkeys(row))
    return {name: [row.get(name) for row in rows] for name in names}


def to_records(batch: Batch) -> list[dict[str, Any]]:
    """Inverse of :func:`from_records`.

    Example:
        >>> to_records({"a": [1, 2], "b": ["x", "y"]})
        [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'y'}]
    """
    n = batch_size(batch)
    return [{name: values[i] for name, values in batch.items()} for i in range(n)]


def take(batch: Batch, indices: Sequence[int] | np.ndarray) -> dict[str, Any]:
    """Return the rows at ``indices`` as a new batch (arrays stay arrays).

    Example:
        >>> take({"a": [10, 20, 30], "b": np.array([1.0, 2.0, 3.0])}, [2, 0])
        {'a': [30, 10], 'b': array([3., 1.])}
    """
    index = np.asarray(indices, dtype=np.intp)
    out: dict[str, Any] = {}
    for name, values in batch.items():
        if isinstance(values, np.ndarray):
            out[name] = values[index]
        else:
            out[name] = [values[i] for i in index]
    return out


def read_jsonl(path: str | Path) -> dict[str, list[Any]]:
    """Read a JSONL file (one JSON object per line, one sample each) into a batch.

    Blank lines are skipped.

    Raises:
        BatchError: missing file, invalid JSON (with the line number), a line
            that is not an object, or no rows.
    """
    path = Path(path)
    if not path.is_file():
        raise BatchError(f"batch file {str(path)!r} does not exist")
    rows: list[Mapping[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BatchError(f"{path.name}:{number}: invalid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise BatchError(f"{path.name}:{number}: expected a JSON object per line")
            rows.append(row)
    if not rows:
        raise BatchError(f"{path.name}: no rows (expected one JSON object per line)")
    return from_records(rows)
