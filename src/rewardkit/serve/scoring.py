"""Scoring a batch off the event loop, in chunks, under a deadline; outputs as JSON.

The batch is cut into chunks of ``chunk_size`` samples, each scored by the
term in a worker thread. Chunks done by the deadline keep their rewards; the
others come back with status ``timeout`` (never a score), and a chunk whose
term raised comes back with status ``error`` and the exception's message, so
one bad sample never takes the request down with it.

Example:
    >>> import asyncio
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> from rewardkit.core import term
    >>> length = term(lambda completion: [len(c) for c in completion], name="length")
    >>> with ThreadPoolExecutor(1) as pool:
    ...     out = asyncio.run(score_in_chunks(length, {"completion": ["ab", "c"]}, pool, 1, 5.0))
    >>> output_json(out)["total"], output_json(out)["status"]
    ([2.0, 1.0], ['ok', 'ok'])
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np

from rewardkit.core.batch import batch_size
from rewardkit.core.output import RewardOutput, Status, concat_outputs, failed_output
from rewardkit.core.term import Term

__all__ = ["STATUS_NAMES", "output_json", "score_in_chunks"]

#: status code -> the name that travels in JSON
STATUS_NAMES = {int(s): s.name.lower() for s in Status}


def _chunk(batch: Mapping[str, Sequence[Any]], start: int, stop: int) -> dict[str, Any]:
    return {key: list(values[start:stop]) for key, values in batch.items()}


async def score_in_chunks(
    term: Term,
    batch: Mapping[str, Sequence[Any]],
    executor: Executor,
    chunk_size: int,
    deadline_s: float,
) -> RewardOutput:
    """Score ``batch`` with ``term`` in ``executor``, ``chunk_size`` samples per task; the
    chunks not done within ``deadline_s`` seconds are ``timeout``."""
    count = batch_size(batch)
    if count == 0:
        return RewardOutput(np.empty(0), {}, np.empty(0, dtype=np.int8), ())
    loop = asyncio.get_running_loop()
    bounds = [(start, min(start + chunk_size, count)) for start in range(0, count, chunk_size)]
    futures = [
        asyncio.ensure_future(loop.run_in_executor(executor, term, _chunk(batch, start, stop)))
        for start, stop in bounds
    ]
    done, _ = await asyncio.wait(futures, timeout=deadline_s)
    outputs: list[RewardOutput | None] = []
    for future in futures:
        if future in done and future.exception() is None:
            outputs.append(future.result())
        else:
            outputs.append(None)
    names = list(dict.fromkeys(n for out in outputs if out is not None for n in out.terms))
    parts = []
    for (start, stop), future, out in zip(bounds, futures, outputs, strict=True):
        if out is not None:
            parts.append(out)
        elif future in done:
            error = future.exception()
            parts.append(failed_output(stop - start, Status.ERROR,
                                 f"{type(error).__name__}: {error}", names))  # fmt: skip
        else:
            future.cancel()  # a chunk not started yet never starts; a running one finishes
            late = f"not scored within the deadline ({deadline_s:g} s)"
            parts.append(failed_output(stop - start, Status.TIMEOUT, late, names))
    return _refuse_non_finite(concat_outputs(parts))


def _refuse_non_finite(out: RewardOutput) -> RewardOutput:
    """An infinite reward (or a NaN marked OK) is an error of the term, never a number."""
    bad = (out.status == Status.OK) & ~np.isfinite(out.total)
    if not bad.any():
        return out
    status = np.where(bad, Status.ERROR, out.status).astype(np.int8)
    messages = list(out.messages or (None,) * len(out))
    for index in np.flatnonzero(bad):
        messages[index] = f"the term returned a non-finite reward ({out.total[index]})"
    return RewardOutput(np.where(bad, np.nan, out.total), dict(out.terms), status,
                        tuple(messages))  # fmt: skip


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def output_json(out: RewardOutput) -> dict[str, Any]:
    """``total``, ``terms``, ``status`` and ``messages`` as JSON values (NaN as null)."""
    return {
        "total": [_number(v) for v in out.total.tolist()],
        "terms": {
            name: [_number(v) for v in np.asarray(values, dtype=np.float64).tolist()]
            for name, values in out.terms.items()
        },
        "status": [STATUS_NAMES[int(s)] for s in out.status],
        "messages": list(out.messages or (None,) * len(out)),
    }
