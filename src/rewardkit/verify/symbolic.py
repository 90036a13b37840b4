"""The symbolic fallback: sympy in worker processes with a hard per-job timeout.

CPU-bound sympy work runs in separate processes. A job that exceeds its
timeout gets its worker killed with SIGKILL and replaced; the job's outcome
is TIMEOUT, never WRONG. There is no ``signal.alarm`` (it only works in the
main thread) and no thread doing CPU-bound work.

Workers fork from a forkserver that has already imported sympy and
latex2sympy2_extended, so a replacement is ready in milliseconds. Each
worker caps its address space, so a memory bomb ends as an error.

LaTeX is parsed with ``latex2sympy2_extended`` (an ANTLR grammar), never with
``sympy.parse_expr``, which calls ``eval`` on model output.

Example:
    >>> pool = SymbolicPool(workers=1, timeout=5.0)
    >>> [r.outcome for r in pool.run([("x^2+1", "1+x^2"), ("2x", "x+1")])]
    [<Outcome.CORRECT: 'correct'>, <Outcome.WRONG: 'wrong'>]
    >>> pool.close()
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import resource
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from rewardkit.verify.mathparse import Answer, Outcome, parse_answer

__all__ = ["SymbolicPool", "SymbolicResult", "default_pool", "symbolic_equal"]

_PRELOAD = ["sympy", "latex2sympy2_extended", "rewardkit.verify.mathparse"]


@dataclass(frozen=True)
class SymbolicResult:
    """Outcome of one symbolic comparison and how long it took (seconds)."""

    outcome: Outcome
    seconds: float
    message: str | None = None


# ----------------------------------------------------------------- worker side
def _to_sympy(text: str) -> Any:
    from latex2sympy2_extended import latex2sympy

    expression = latex2sympy(text)
    if hasattr(expression, "rhs") and hasattr(expression, "lhs"):  # x = 3 → 3
        expression = expression.rhs
    return expression


def _sympy_equal(gold: Answer, pred: Answer) -> bool:
    import sympy

    if gold.kind == "sequence" or pred.kind == "sequence":
        if gold.kind != pred.kind or len(gold.items) != len(pred.items):
            return False
        if gold.brackets and pred.brackets and gold.brackets != pred.brackets:
            return False
        pairs = zip(gold.items, pred.items, strict=True)
        if gold.brackets == "{}":
            remaining = list(pred.items)
            for item in gold.items:
                match = next((p for p in remaining if _sympy_equal(item, p)), None)
                if match is None:
                    return False
                remaining.remove(match)
            return True
        return all(_sympy_equal(g, p) for g, p in pairs)
    left, right = _to_sympy(gold.text), _to_sympy(pred.text)
    difference = sympy.simplify(left - right)
    if difference == 0:
        return True
    free = difference.free_symbols
    if not free:
        value = complex(sympy.N(difference))
        return abs(value) < 1e-9 * max(1.0, abs(complex(sympy.N(left))))
    return bool(left.equals(right))


def symbolic_equal(gold_text: str, pred_text: str) -> bool:
    """Sympy equivalence of two answers (runs in the calling process).

    Example:
        >>> symbolic_equal("\\\\frac{x}{2}", "0.5x")
        True
    """
    return _sympy_equal(parse_answer(gold_text), parse_answer(pred_text))


def _worker_main(connection: Connection, memory_mb: int) -> None:
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        job_id, gold_text, pred_text = job
        try:
            equal = symbolic_equal(gold_text, pred_text)
            reply = (job_id, "correct" if equal else "wrong", None)
        except MemoryError:
            reply = (job_id, "error", "memory limit exceeded")
        except Exception as exc:  # any parse or sympy failure is this job's error
            reply = (job_id, "unparseable", f"{type(exc).__name__}: {str(exc)[:200]}")
        try:
            connection.send(reply)
        except (BrokenPipeError, OSError):
            return


# ----------------------------------------------------------------- parent side
@dataclass
class _Worker:
    process: Any
    connection: Connection
    job: int | None = None
    started: float = 0.0


class SymbolicPool:
    """A pool of sympy worker processes with a hard timeout per job.

    Args:
        workers: number of worker processes (default: CPU count, at most 4).
        timeout: seconds a job may run before its worker is killed.
        memory_mb: address-space cap per worker (0 disables it).
    """

    def __init__(self, workers: int | None = None, timeout: float = 2.0, memory_mb: int = 2048):
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.size = workers or min(os.cpu_count() or 1, 4)
        self.timeout = float(timeout)
        self.memory_mb = memory_mb
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(_PRELOAD)
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()  # one run() at a time; runs are internally parallel
        self.kills = 0

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main, args=(child, self.memory_mb), daemon=True
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    def _ensure_workers(self) -> None:
        self._workers = [w for w in self._workers if w.process.is_alive()]
        while len(self._workers) < self.size:
            self._workers.append(self._spawn())

    def _kill(self, worker: _Worker) -> None:
        self.kills += 1
        worker.process.kill()
        worker.process.join(timeout=1.0)
        worker.connection.close()
        self._workers.remove(worker)
        self._workers.append(self._spawn())

    def run(self, pairs: Sequence[tuple[str, str]]) -> list[SymbolicResult]:
        """Compare every (gold, pred) pair; results come back in order."""
        with self._lock:
            return self._run(pairs)

    def _run(self, pairs: Sequence[tuple[str, str]]) -> list[SymbolicResult]:
        results: list[SymbolicResult | None] = [None] * len(pairs)
        pending = deque(range(len(pairs)))
        self._ensure_workers()
        while pending or any(w.job is not None for w in self._workers):
            for worker in self._workers:
                if worker.job is None and pending:
                    job = pending.popleft()
                    try:
                        worker.connection.send((job, *pairs[job]))
                    except (BrokenPipeError, OSError):
                        pending.appendleft(job)
                        self._kill(worker)
                        break
                    worker.job, worker.started = job, time.monotonic()
            busy = [w for w in self._workers if w.job is not None]
            if not busy:
                continue
            now = time.monotonic()
            next_deadline = min(w.started + self.timeout for w in busy)
            ready = wait([w.connection for w in busy], timeout=max(0.0, next_deadline - now))
            for worker in busy:
                assert worker.job is not None
                job = worker.job
                elapsed = time.monotonic() - worker.started
                if worker.connection in ready:
                    try:
                        _, outcome, message = worker.connection.recv()
                        results[job] = SymbolicResult(Outcome(outcome), elapsed, message)
                    except (EOFError, OSError):  # the worker died (e.g. memory)
                        results[job] = SymbolicResult(Outcome.ERROR, elapsed, "worker died")
                        worker.job = None
                        self._kill(worker)
                        continue
                    worker.job = None
                elif elapsed >= self.timeout:
                    results[job] = SymbolicResult(
                        Outcome.TIMEOUT, elapsed, f"no answer within {self.timeout:g}s; killed"
                    )
                    worker.job = None
                    self._kill(worker)
        return [r for r in results if r is not None]

    def close(self) -> None:
        """Stop every worker."""
        for worker in self._workers:
            with contextlib.suppress(BrokenPipeError, OSError):
                worker.connection.send(None)
            worker.process.join(timeout=0.5)
            if worker.process.is_alive():
                worker.process.kill()
        self._workers.clear()


_DEFAULT: dict[tuple[int | None, float], SymbolicPool] = {}


def default_pool(workers: int | None = None, timeout: float = 2.0) -> SymbolicPool:
    """A shared pool per (workers, timeout), closed at interpreter exit."""
    key = (workers, timeout)
    if key not in _DEFAULT:
        _DEFAULT[key] = SymbolicPool(workers=workers, timeout=timeout)
    return _DEFAULT[key]


@atexit.register
def _close_default_pools() -> None:
    for pool in _DEFAULT.values():
        pool.close()
