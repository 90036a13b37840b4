"""Content keys: equal values get equal keys, whatever object holds them.

Adapters group a batch's samples by prompt. A prompt can hold objects whose
``str()`` names a memory address (a PIL image decoded afresh for every row,
an audio array), so two copies of one prompt would look different. A
content key hashes what the object holds instead: bytes, arrays and images
by their bytes, shape and mode; containers item by item.

Example:
    >>> content_key([{"role": "user", "content": "2+2?"}]) == content_key(
    ...     [{"content": "2+2?", "role": "user"}])
    True
    >>> import numpy as np
    >>> content_key(np.zeros(3)) == content_key(np.zeros(3)), content_key(object())
    (True, None)
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["content_key", "unkeyable_type"]


class _UnkeyableError(Exception):
    def __init__(self, value: Any) -> None:
        super().__init__(type(value).__name__)
        self.type_name = f"{type(value).__module__}.{type(value).__qualname__}"


def _digest(*parts: Any) -> str:
    sha = hashlib.sha1()
    for part in parts:
        sha.update(part if isinstance(part, bytes) else repr(part).encode())
    return sha.hexdigest()


def _plain(value: Any) -> Any:
    """A JSON-able stand-in for ``value`` that depends only on its content."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": _digest(bytes(value))}
    if isinstance(value, Mapping):
        return {"map": sorted((str(k), _plain(v)) for k, v in value.items())}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    tobytes = getattr(value, "tobytes", None)
    if callable(tobytes):  # numpy arrays, PIL images, torch tensors via numpy()
        shape = getattr(value, "shape", None) or getattr(value, "size", None)
        mode = getattr(value, "mode", None) or str(getattr(value, "dtype", ""))
        return {"array": _digest(type(value).__name__, shape, mode, tobytes())}
    numpy = getattr(value, "numpy", None)
    if callable(numpy):
        return _plain(numpy())
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and getattr(value, "shape", None) == ():
        return _plain(item())
    raise _UnkeyableError(value)


def content_key(value: Any) -> str | None:
    """A string that is equal for values with equal content, or None when ``value``
    holds an object rewardkit cannot read the content of (see :func:`unkeyable_type`)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(_plain(value), sort_keys=True)
    except _UnkeyableError:
        return None


def unkeyable_type(value: Any) -> str | None:
    """The type name of the first object in ``value`` that has no content key, if any.

    Example:
        >>> unkeyable_type([{"role": "user", "content": [{"image": object()}]}])
        'builtins.object'
    """
    try:
        _plain(value)
    except _UnkeyableError as exc:
        return exc.type_name
    return None
