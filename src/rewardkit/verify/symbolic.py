"""Math verification in worker processes with a hard per-job timeout.

math-verify's extraction and comparison (sympy underneath) run in separate
processes. A job that exceeds its
timeout gets its worker killed with SIGKILL and replaced; the job's outcome
is TIMEOUT, never WRONG. There is no ``signal.alarm`` (it only works in the
main thread) and no thread doing CPU-bound work.

Workers are their own programs (``python -m rewardkit.verify._math_worker``
over two pipes), not ``multiprocessing`` children, so nothing re-imports the
caller's ``__main__``: a script without a main guard, or a notebook, works.
A worker imports math-verify, sympy and the LaTeX parser and warms their caches, then says
it is ready (about a second); a job's clock starts only when a ready worker
takes it. The pool starts its workers when it is made and keeps a spare ready
one, so a replacement after a kill costs no job anything. Only on a cold pool
does a first job's wait beyond ``START_GRACE`` come off its timeout, so that no
item's wall time passes timeout + 0.5 s. Each worker caps its address space,
so a memory bomb ends as an error.

LaTeX is parsed with ``latex2sympy2_extended`` (an ANTLR grammar), never with
``sympy.parse_expr``, which calls ``eval`` on model output.

Example:
    >>> pool = SymbolicPool(workers=1, timeout=5.0)
    >>> pairs = [("x^2+1", r"\\boxed{1+x^2}"), ("2x", r"\\boxed{x+1}")]
    >>> [r.outcome for r in pool.run(pairs)]
    [<Outcome.CORRECT: 'correct'>, <Outcome.WRONG: 'wrong'>]
    >>> pool.close()
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from rewardkit.verify.mathparse import Outcome

__all__ = [
    "SymbolicPool",
    "SymbolicResult",
    "default_pool",
    "default_pool_states",
]


@dataclass(frozen=True)
class SymbolicResult:
    """Outcome of one symbolic comparison and how long it took (seconds)."""

    outcome: Outcome
    seconds: float
    message: str | None = None
    extracted: str | None = None  # the answer found (math-verify jobs)


# ----------------------------------------------------------------- parent side
@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    send: Connection
    receive: Connection
    spawned: float
    ready: bool = False
    #: jobs sent and not answered, in the order the worker answers them; the first runs
    queue: deque[int] = field(default_factory=deque)
    #: the text sizes of the jobs queued behind the running one (still in the pipe)
    waiting: deque[int] = field(default_factory=deque)
    started: float = 0.0  # when the first queued job started (its predecessor answered)
    budget: float = 0.0  # seconds the first queued job may run
    fresh: bool = True  # has not taken a job yet

    @property
    def job(self) -> int | None:
        """The job running now, or None when idle."""
        return self.queue[0] if self.queue else None

    @property
    def waiting_chars(self) -> int:
        """Characters of job text sent to this worker and not yet read by it."""
        return sum(self.waiting)

    def next_started(self) -> None:
        """The running job was answered; the next queued one (if any) is being read."""
        if self.waiting:
            self.waiting.popleft()

    def alive(self) -> bool:
        return self.process.poll() is None


def _chars(job: tuple[str, tuple[Any, ...]]) -> int:
    """The characters of a job's texts (what its message mostly weighs in the pipe)."""
    return sum(len(part) for part in job[1] if isinstance(part, str))


class SymbolicPool:
    """A pool of sympy worker processes with a hard timeout per job.

    Args:
        workers: number of worker processes (default: CPU count, at most 4).
        timeout: seconds a job may run, from when a ready worker takes it,
            before its worker is killed.
        memory_mb: address-space cap per worker (0 disables it).
        start_timeout: seconds a new worker may take to become ready.
        spares: extra ready workers kept idle, so a job after a kill never waits
            for a replacement to start (about half a second); at most ``workers``
            jobs run at once.
    """

    def __init__(
        self,
        workers: int | None = None,
        timeout: float = 2.0,
        memory_mb: int = 2048,
        start_timeout: float = 60.0,
        spares: int = 1,
    ):
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.size = workers or min(os.cpu_count() or 1, 4)
        self.timeout = float(timeout)
        self._job_timeout = self.timeout  # this run's (run(timeout=)), under self._lock
        self.memory_mb = memory_mb
        self.start_timeout = float(start_timeout)
        if spares < 0:
            raise ValueError(f"spares must be >= 0, got {spares}")
        self.spares = spares
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()  # one run() at a time; runs are internally parallel
        self.kills = 0
        self.start_failures = 0  # in a row, since a worker last became ready
        self._ensure_workers()  # start now: by the first job one is ready

    def _spawn(self) -> _Worker:
        to_child_read, to_child_write = os.pipe()
        from_child_read, from_child_write = os.pipe()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rewardkit.verify._math_worker",
                *map(str, (to_child_read, from_child_write, self.memory_mb)),
            ],
            pass_fds=(to_child_read, from_child_write),
            stdin=subprocess.DEVNULL,
            close_fds=True,
        )
        os.close(to_child_read)
        os.close(from_child_write)
        return _Worker(
            process,
            Connection(to_child_write, readable=False),
            Connection(from_child_read, writable=False),
            time.monotonic(),
        )

    def _ensure_workers(self) -> None:
        for worker in [w for w in self._workers if not w.alive()]:
            self._discard(worker)
        self._top_up()

    def _top_up(self) -> None:
        """Start the missing workers, but only one until one is ready: on a busy machine
        (two processes starting pools at once on 2 CPUs) one worker alone is ready in
        about a second, several at once take several times as long."""
        if not any(w.ready for w in self._workers):
            if not self._workers:
                self._workers.append(self._spawn())
            return
        while len(self._workers) < self.size + self.spares:
            self._workers.append(self._spawn())

    def _discard(self, worker: _Worker) -> None:
        if worker.alive():
            worker.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.process.wait(timeout=1.0)
        for connection in (worker.send, worker.receive):
            with contextlib.suppress(OSError):
                connection.close()
        self._workers.remove(worker)

    def _kill(self, worker: _Worker) -> None:
        self.kills += 1
        self._discard(worker)
        self._workers.append(self._spawn())

    def state(self) -> dict[str, Any]:
        """The pool's workers right now: started, alive, ready, busy; kills so far."""
        alive = [w for w in self._workers if w.alive()]
        return {
            "size": self.size,
            "spares": self.spares,
            "timeout": self.timeout,
            "workers": len(self._workers),
            "alive": len(alive),
            "ready": sum(w.ready for w in alive),
            "busy": sum(w.job is not None for w in alive),
            "kills": self.kills,
            "start_failures": self.start_failures,
        }

    def run(
        self,
        pairs: Sequence[tuple[Any, ...]],
        kind: str = "math_verify",
        timeout: float | None = None,
    ) -> list[SymbolicResult]:
        """Compare every (gold, pred) pair; results come back in order.

        ``kind="math_verify"`` takes (gold, whole completion[, question[,
        policy dict]]) and extracts and compares with math-verify; a result
        then carries the extracted answer, and a message where there is a why.
        ``timeout`` is this run's seconds per job (default: the pool's), so one
        pool serves callers with different timeouts.
        """
        if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
        with self._lock:
            self._job_timeout = self.timeout if timeout is None else float(timeout)
            return self._run([(kind, pair) for pair in pairs])

    def _budget(self, worker: _Worker, cold_since: float | None) -> float:
        """A job's seconds: the timeout, less any wait for a cold pool's start-up beyond
        START_GRACE (down to MIN_COLD_BUDGET), so no item's wall time passes
        timeout + 0.5 s."""
        if cold_since is None or not worker.fresh:
            return self._job_timeout
        waited = time.monotonic() - cold_since
        floor = min(self._job_timeout, MIN_COLD_BUDGET)
        return max(floor, self._job_timeout - max(0.0, waited - START_GRACE))

    def _assign(
        self,
        jobs: Sequence[tuple[str, tuple[Any, ...]]],
        pending: deque[int],
        cold_since: float | None = None,
    ) -> int:
        """Hand pending jobs to ready workers; how many went to an idle worker.

        First one job to each idle worker (at most ``size`` busy); then, while jobs
        remain, small ones are queued behind the running ones, up to :data:`PIPELINE`
        per worker and :data:`PIPELINE_MAX_CHARS` of text waiting in its pipe (so a send
        never blocks on a full pipe while the worker is stuck in its current job). A
        worker reads its next job as soon as it answers one, so it never waits for the
        parent between jobs; a queued job's clock starts when its predecessor's answer is
        read, and a kill sends the jobs queued behind the killed one back to ``pending``."""
        busy = sum(w.job is not None for w in self._workers)
        handed = 0
        for worker in list(self._workers):
            idle = pending and worker.ready and worker.job is None and busy < self.size
            if idle and self._send(worker, pending.popleft(), jobs, pending):
                worker.budget = self._budget(worker, cold_since)
                worker.started, worker.fresh = time.monotonic(), False
                busy += 1
                handed += 1
        for worker in list(self._workers):
            while (
                pending
                and worker in self._workers
                and worker.job is not None
                and len(worker.queue) < PIPELINE
                and worker.waiting_chars + _chars(jobs[pending[0]]) <= PIPELINE_MAX_CHARS
            ):
                if not self._send(worker, pending.popleft(), jobs, pending):
                    break
        return handed

    def _send(
        self,
        worker: _Worker,
        job: int,
        jobs: Sequence[tuple[str, tuple[Any, ...]]],
        pending: deque[int],
    ) -> bool:
        """Send ``job`` to ``worker`` and queue it there; False where the pipe is broken
        (the worker died: it is replaced, the job and those queued behind the running one
        go back to ``pending``, and the running one, if any, is answered by _collect)."""
        try:
            worker.send.send((job, *jobs[job]))
        except (BrokenPipeError, OSError):
            pending.appendleft(job)
            if worker.queue:  # the running job stays; _collect reads its end
                running = worker.queue.popleft()
                self._requeue(worker, pending)
                worker.queue.append(running)
            else:
                self._kill(worker)
            return False
        if worker.queue:
            worker.waiting.append(_chars(jobs[job]))
        worker.queue.append(job)
        return True

    @staticmethod
    def _requeue(worker: _Worker, pending: deque[int]) -> None:
        """The jobs queued behind a worker's running one go back to the front of
        ``pending`` (in their order): they never ran."""
        pending.extendleft(reversed(worker.queue))
        worker.queue.clear()
        worker.waiting.clear()

    def _deadline(self, worker: _Worker) -> float:
        if worker.ready:
            return worker.started + worker.budget
        return worker.spawned + self.start_timeout

    def _run(self, jobs: Sequence[tuple[str, tuple[Any, ...]]]) -> list[SymbolicResult]:
        results: list[SymbolicResult | None] = [None] * len(jobs)
        pending = deque(range(len(jobs)))
        self._ensure_workers()
        self._poll_starting(pending, results)
        # only a run that finds no worker ready waits for start-up (see _budget)
        cold_since = None if any(w.ready for w in self._workers) else time.monotonic()
        try:
            while pending or any(w.job is not None for w in self._workers):
                if self._assign(jobs, pending, cold_since):
                    cold_since = None  # the first jobs out paid for the wait; no later one does
                watched = [w for w in self._workers if w.job is not None or not w.ready]
                next_deadline = min(self._deadline(w) for w in watched)
                timeout = max(0.0, next_deadline - time.monotonic())
                ready = wait([w.receive for w in watched], timeout)
                for worker in watched:
                    if worker.ready:
                        self._collect(worker, worker.receive in ready, results, pending)
                    else:
                        self._starting(worker, worker.receive in ready, pending, results)
        except BaseException:  # e.g. Ctrl-C: no worker may answer a later run with this one's job
            for worker in [w for w in self._workers if w.job is not None]:
                worker.queue.clear()
                worker.waiting.clear()
                self._kill(worker)
            raise
        return [r for r in results if r is not None]

    def _poll_starting(self, pending: deque[int], results: list[SymbolicResult | None]) -> None:
        """Take the ready messages of workers that started since the last run."""
        starting = [w for w in self._workers if not w.ready]
        if starting:
            arrived = wait([w.receive for w in starting], 0)
            for worker in starting:
                if worker.receive in arrived:
                    self._starting(worker, True, pending, results)

    def _collect(
        self,
        worker: _Worker,
        answered: bool,
        results: list[SymbolicResult | None],
        pending: deque[int],
    ) -> None:
        job, now = worker.job, time.monotonic()
        assert job is not None
        elapsed = now - worker.started
        if answered:
            worker.queue.popleft()
            try:
                answered_job, outcome, message, *extracted = worker.receive.recv()
                if answered_job != job:  # never expected: a result must not go to another job
                    raise OSError(f"worker answered job {answered_job} for job {job}")
                results[job] = SymbolicResult(
                    Outcome(outcome), elapsed, message, extracted[0] if extracted else None
                )
                worker.started, worker.budget = now, self._job_timeout  # the next one's clock
                worker.next_started()
            except (EOFError, OSError) as exc:  # the worker died (e.g. memory)
                why = str(exc) if isinstance(exc, OSError) and str(exc) else "worker died"
                results[job] = SymbolicResult(Outcome.ERROR, elapsed, why)
                self._requeue(worker, pending)
                self._kill(worker)
        elif elapsed >= worker.budget:
            message = f"no answer within {worker.budget:.3g}s; killed"
            if worker.budget < self._job_timeout:
                message += f" (the pool was starting: {self._job_timeout:g}s less its start-up)"
            results[job] = SymbolicResult(Outcome.TIMEOUT, elapsed, message)
            worker.queue.popleft()
            self._requeue(worker, pending)
            self._kill(worker)
        # else: still running, within its budget

    def _starting(
        self,
        worker: _Worker,
        answered: bool,
        pending: deque[int],
        results: list[SymbolicResult | None],
    ) -> None:
        if answered:
            try:
                worker.receive.recv()  # ("ready", pid)
                worker.ready, self.start_failures = True, 0
                self._top_up()
                return
            except (EOFError, OSError):
                pass
        elif time.monotonic() - worker.spawned < self.start_timeout:
            return
        # the worker could not start: no job waits for it forever. It is replaced while
        # another one is ready or this is one of the first MAX_START_FAILURES in a row (a
        # passing hiccup); after that (a missing package, a broken interpreter), once no
        # worker is left, every pending job is an error
        self._discard(worker)
        self.start_failures += 1
        if any(w.ready for w in self._workers) or self.start_failures < MAX_START_FAILURES:
            self._workers.append(self._spawn())
        elif not self._workers:
            while pending:
                job = pending.popleft()
                results[job] = SymbolicResult(
                    Outcome.ERROR, 0.0, "symbolic workers failed to start (see stderr)"
                )

    def close(self) -> None:
        """Stop every worker."""
        for worker in list(self._workers):
            with contextlib.suppress(BrokenPipeError, OSError):
                worker.send.send(None)
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(timeout=0.5)
            self._discard(worker)


#: jobs sent ahead to one worker: it takes the next from its pipe without waiting for the
#: parent (each round trip costs about 0.3 ms on two cores, as much as a plain job)
PIPELINE = 4
#: characters of job text that may wait in one worker's pipe behind its running job: well
#: under a pipe's 64 KiB, so a send never blocks while the worker is stuck in a job
PIPELINE_MAX_CHARS = 8_000
#: workers in a row that may fail to start before pending jobs are errors
MAX_START_FAILURES = 3
#: seconds a job may wait for a cold pool's workers to start before the wait counts
#: against its timeout (a job's wall time stays under timeout + 0.5 s)
START_GRACE = 0.3
#: ...but a first job on a cold pool always gets at least this much (or the timeout):
#: the bound holds for timeouts above the start-up time, about a second
MIN_COLD_BUDGET = 0.25

_DEFAULT: dict[int | None, SymbolicPool] = {}
_DEFAULT_LOCK = threading.Lock()


def default_pool(workers: int | None = None) -> SymbolicPool:
    """A shared pool per worker count (callers pass their timeout per run), closed at
    interpreter exit."""
    with _DEFAULT_LOCK:
        if workers not in _DEFAULT:
            _DEFAULT[workers] = SymbolicPool(workers=workers)
        return _DEFAULT[workers]


def default_pool_states() -> dict[str, dict[str, Any]]:
    """:meth:`SymbolicPool.state` of every shared pool started in this process."""
    return {f"workers={w or 'auto'}": p.state() for w, p in _DEFAULT.items()}


@atexit.register
def _close_default_pools() -> None:
    for pool in _DEFAULT.values():
        pool.close()
