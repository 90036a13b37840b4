"""Read a published training log into the records the monitors replay.

Three formats: a TRL/transformers ``trainer_state.json`` (its ``log_history``),
JSON lines (one record a line), and CSV with a header (empty cells are
absent keys, so an evaluation logged every 50 steps is read only where it
was logged). Numbers become floats; other cells stay text.

:func:`rolling_mean` smooths per-step keys the way a trainer's ``logging_steps``
would (a log of one prompt a step is too noisy to monitor raw), and
:func:`rolling_share` turns a per-step flag into a rolling share, e.g. a log
of one prompt a step whose ``adv_std == 0`` marks a zero-variance group,
into TRL's ``frac_reward_zero_std``.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
    >>> _ = path.write_text("step,reward,eval_acc\\n1,0.5,40\\n2,0.25,\\n")
    >>> read_training_log(path)
    [{'step': 1.0, 'reward': 0.5, 'eval_acc': 40.0}, {'step': 2.0, 'reward': 0.25}]
"""

from __future__ import annotations

import csv
import json
import os
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rewardkit.core.batch import read_jsonl, to_records
from rewardkit.core.errors import BatchError, ConfigurationError

__all__ = ["read_training_log", "rolling_mean", "rolling_share"]


def _value(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def read_training_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a ``trainer_state.json``, a ``.jsonl`` or a ``.csv`` log, in order; a
    folder is read through its ``log.jsonl`` or ``trainer_state.json``.

    Raises:
        BatchError: the file is missing, unreadable, or in none of the three formats.
    """
    file = Path(path)
    if file.is_dir():
        for name in ("log.jsonl", "trainer_state.json"):
            if (file / name).is_file():
                return read_training_log(file / name)
        raise BatchError(f"{file} has no log.jsonl or trainer_state.json")
    if not file.is_file():
        raise BatchError(f"log {str(file)!r} does not exist")
    if file.suffix == ".csv":
        rows = csv.DictReader(file.read_text(encoding="utf-8").splitlines())
        return [{k: _value(v) for k, v in row.items() if k and v not in ("", None)} for row in rows]
    if file.suffix == ".json":
        try:
            history = json.loads(file.read_text(encoding="utf-8")).get("log_history")
        except (json.JSONDecodeError, AttributeError):
            history = None
        if not isinstance(history, list):
            raise BatchError(
                f"{file.name}: expected a TRL/transformers trainer_state with log_history"
            )
        return [dict(r) for r in history]
    return to_records(read_jsonl(file))


def rolling_share(
    records: Sequence[Mapping[str, Any]],
    flag: Callable[[Mapping[str, Any]], bool | None],
    key: str,
    window: int = 20,
) -> list[dict[str, Any]]:
    """Copies of ``records`` with ``key`` = the share of the last ``window`` flagged records
    (``flag`` returning None skips a record).

    Example:
        >>> out = rolling_share([{"s": 0}, {"s": 0}, {"s": 1}], lambda r: r["s"] == 0, "zero", 2)
        >>> [r["zero"] for r in out]
        [1.0, 1.0, 0.5]
    """
    if window < 1:
        raise ConfigurationError(f"window must be >= 1, got {window}")
    recent: deque[bool] = deque(maxlen=window)
    out = []
    for record in records:
        copy = dict(record)
        marked = flag(record)
        if marked is not None:
            recent.append(bool(marked))
        if recent:
            copy[key] = sum(recent) / len(recent)
        out.append(copy)
    return out


def rolling_mean(
    records: Sequence[Mapping[str, Any]], keys: Sequence[str], window: int = 20
) -> list[dict[str, Any]]:
    """Copies of ``records`` with each of ``keys`` replaced by the mean of its last ``window``
    logged values (a record without the key keeps it absent).

    Example:
        >>> [r["x"] for r in rolling_mean([{"x": 1.0}, {"x": 3.0}, {"x": 5.0}], ["x"], 2)]
        [1.0, 2.0, 4.0]
    """
    if window < 1:
        raise ConfigurationError(f"window must be >= 1, got {window}")
    recent: dict[str, deque[float]] = {key: deque(maxlen=window) for key in keys}
    out = []
    for record in records:
        copy = dict(record)
        for key in keys:
            value = record.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                recent[key].append(float(value))
                copy[key] = sum(recent[key]) / len(recent[key])
        out.append(copy)
    return out
