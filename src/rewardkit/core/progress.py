"""Progress bars with an ETA for long work (benchmarks, warm starts, trainers).

A thin layer over tqdm: a bar on an interactive terminal, nothing on a
pipe or a log file (where the callers print their own lines, with
:func:`eta_text`), and ``REWARDKIT_PROGRESS=0`` or ``=1`` to force it off or on.

Example:
    >>> for _ in progress(range(3), "demo", enabled=False):
    ...     pass
    >>> eta_text(elapsed=30.0, done=3, total=4)
    'ETA 0:10'
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator, Sized
from typing import TypeVar

from tqdm.auto import tqdm

__all__ = ["eta_text", "progress", "rate_text", "write"]

T = TypeVar("T")


def _enabled(enabled: bool | None) -> bool | None:
    setting = os.environ.get("REWARDKIT_PROGRESS")
    if setting in ("0", "1"):
        return setting == "1"
    return enabled


def progress(
    items: Iterable[T],
    description: str,
    total: int | None = None,
    enabled: bool | None = None,
    log_every: float | None = None,
) -> Iterator[T]:
    """``items`` with a bar (description, count, rate, ETA) while they are consumed.

    ``enabled=None`` shows it only on an interactive terminal. Where no bar
    shows, ``log_every`` seconds prints a line ``description: done/total
    (rate/s, ETA m:ss)`` on stderr at most that often, and at the end, so a log
    file sees long work move.
    """
    flag = _enabled(enabled)
    shown = flag if flag is not None else sys.stderr.isatty()
    if shown or log_every is None:
        yield from tqdm(
            items, desc=description, total=total, disable=not shown,
            dynamic_ncols=True, leave=False,
        )  # fmt: skip
        return
    count = total if total is not None else len(items) if isinstance(items, Sized) else None
    start = last = time.monotonic()
    for done, item in enumerate(items, start=1):
        yield item
        now = time.monotonic()
        if now - last >= log_every or done == count:
            last = now
            of = f"/{count}" if count is not None else ""
            eta = f", {eta_text(now - start, done, count)}" if count is not None else ""
            pace = rate_text(now - start, done)
            print(f"  {description}: {done}{of} ({pace}{eta})", file=sys.stderr, flush=True)


def write(line: str) -> None:
    """Print a line without breaking a bar that is on screen (flushed: logs see it now)."""
    tqdm.write(line)
    sys.stdout.flush()


def rate_text(elapsed: float, done: int) -> str:
    """'12/s' when items take under a second each, else '3.5 s each'.

    Example:
        >>> rate_text(2.0, 24), rate_text(70.0, 2)
        ('12/s', '35.0 s each')
    """
    if done <= 0:
        return "?/s"
    if elapsed < done:
        return f"{done / max(elapsed, 1e-9):,.0f}/s"
    return f"{elapsed / done:,.1f} s each"


def eta_text(elapsed: float, done: int, total: int) -> str:
    """'ETA m:ss' from the average time per finished item."""
    if done <= 0 or total <= done:
        return "ETA 0:00" if total <= done else "ETA ?"
    seconds = round(elapsed / done * (total - done))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"ETA {hours}:{minutes:02d}:{seconds:02d}" if hours else f"ETA {minutes}:{seconds:02d}"
