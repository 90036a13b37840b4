"""Serve many concurrent one-sample calls as one batch call.

OpenRLHF (0.9.1 and later) scores each sample in its own thread
(``asyncio.to_thread(reward_func, [query], [prompt], [label])``), all the
samples of a rollout at once. Scoring them one at a time pays the per-call
cost (building the batch, a round trip to the math workers, a timeout) once
per sample, in series. A :class:`Coalescer` lets the calls that arrive while a
batch is being scored wait, then scores all of them in the next batch: the
first caller scores its own request at once, and whoever finds the scorer
free scores everything waiting (leader/follower batching).

Example:
    >>> import threading
    >>> batches = []
    >>> def double(requests):
    ...     batches.append(len(requests))
    ...     return [2 * r for r in requests]
    >>> coalescer = Coalescer(double)
    >>> results = [None] * 8
    >>> def call(i):
    ...     results[i] = coalescer(i)
    >>> threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    >>> for t in threads: t.start()
    >>> for t in threads: t.join()
    >>> results, sum(batches)
    ([0, 2, 4, 6, 8, 10, 12, 14], 8)
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

__all__ = ["AsyncCoalescer", "Coalescer"]

Request = TypeVar("Request")
Result = TypeVar("Result")


class Coalescer(Generic[Request, Result]):
    """Batch concurrent calls of ``run`` (requests → one result per request).

    Args:
        run: scores a list of requests, returns one result per request. An
            exception it raises reaches every caller of that batch.
        max_batch: the most requests scored in one call of ``run``.
        linger: seconds the scoring thread sleeps before taking each batch, so
            that callers' threads waiting for the GIL can add their requests.
    """

    def __init__(
        self,
        run: Callable[[list[Request]], Sequence[Result]],
        max_batch: int = 256,
        linger: float = 0.0,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.run = run
        self.max_batch = int(max_batch)
        self._lock = threading.Lock()
        self._waiting: list[tuple[Request, Future[Result]]] = []
        self._busy = False
        self.batches = 0  # how many calls of run, for tests and logs
        self.linger = float(linger)

    def __call__(self, request: Request) -> Result:
        future: Future[Result] = Future()
        with self._lock:
            self._waiting.append((request, future))
            lead = not self._busy
            self._busy = lead or self._busy
        if lead:
            self._serve()
        return future.result()

    def _serve(self) -> None:
        """Score what is waiting, batch after batch, until nothing is."""
        while True:
            if self.linger:  # let the other callers' threads (waiting for the GIL) add theirs
                time.sleep(self.linger)
            with self._lock:
                taken = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                if not taken:
                    self._busy = False
                    return
            self.batches += 1
            try:
                results = list(self.run([request for request, _ in taken]))
                if len(results) != len(taken):
                    raise RuntimeError(f"run returned {len(results)} results for {len(taken)}")
            except Exception as exc:  # every caller of this batch sees it
                for _, future in taken:
                    future.set_exception(exc)
                continue
            except BaseException as exc:  # an interrupt: fail this batch and every waiter
                with self._lock:
                    taken += self._waiting
                    self._waiting = []
                    self._busy = False
                for _, future in taken:
                    future.set_exception(exc)
                raise
            for (_, future), result in zip(taken, results, strict=True):
                future.set_result(result)

    def __getstate__(self) -> dict[str, object]:
        return {"run": self.run, "max_batch": self.max_batch, "linger": self.linger}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["run"], state["max_batch"], state["linger"])  # type: ignore[misc]


class AsyncCoalescer(Generic[Request, Result]):
    """The event-loop form: the calls awaited in one turn of the loop are scored together.

    verl's reward loop awaits one ``run_single`` per sample, all at once
    (``asyncio.gather``); each call here adds its request and waits, and the
    first schedules a flush for the loop's next turn, by which time every
    gathered call has added its own. ``run`` runs in a worker thread.

    Example:
        >>> import asyncio
        >>> sizes = []
        >>> def total(requests):
        ...     sizes.append(len(requests))
        ...     return [sum(requests)] * len(requests)
        >>> coalescer = AsyncCoalescer(total)
        >>> async def main():
        ...     return await asyncio.gather(*(coalescer(i) for i in range(4)))
        >>> asyncio.run(main()), sizes
        ([6, 6, 6, 6], [4])
    """

    def __init__(self, run: Callable[[list[Request]], Sequence[Result]]) -> None:
        self.run = run
        self._waiting: list[tuple[Request, asyncio.Future[Result]]] = []
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()  # flushes in flight (kept referenced)

    async def __call__(self, request: Request) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._waiting.append((request, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush, loop)
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        taken, self._waiting, self._scheduled = self._waiting, [], False
        task = loop.create_task(self._score(taken))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _score(self, taken: list[tuple[Request, asyncio.Future[Result]]]) -> None:
        try:
            results = list(await asyncio.to_thread(self.run, [request for request, _ in taken]))
            if len(results) != len(taken):
                raise RuntimeError(f"run returned {len(results)} results for {len(taken)}")
        except Exception as exc:
            for _, future in taken:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(taken, results, strict=True):
            if not future.done():
                future.set_result(result)

    def __getstate__(self) -> dict[str, object]:
        return {"run": self.run}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["run"])  # type: ignore[misc]
