"""The symbolic worker: a ``python -m`` process that answers jobs over two pipes.

It is started as its own program (``python -m rewardkit.verify._math_worker
READ_FD WRITE_FD MEMORY_MB``), never by ``multiprocessing``, so it does not
re-import the caller's ``__main__``: a training script without an
``if __name__ == "__main__":`` guard, or a notebook cell, can verify. It
imports sympy and the LaTeX parser first and then says ``ready``; the pool
starts a job's clock only then, so start-up is never charged to a job.

Each job is ``(job_id, kind, args)``; the reply is ``(job_id, outcome,
message)``. Output the job prints goes to stderr, never into the pipe.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any


def _jobs() -> dict[str, Callable[..., tuple[str, str | None]]]:
    from rewardkit.verify.symbolic import symbolic_equal

    def compare(gold: str, pred: str) -> tuple[str, str | None]:
        return ("correct" if symbolic_equal(gold, pred) else "wrong"), None

    return {"symbolic_equal": compare}


def _answer(jobs: dict[str, Callable[..., tuple[str, str | None]]], job: Any) -> tuple[Any, ...]:
    job_id, kind, args = job
    try:
        outcome, message = jobs[kind](*args)
        return job_id, outcome, message
    except MemoryError:
        return job_id, "error", "memory limit exceeded"
    except Exception as exc:  # any parse or sympy failure is this job's own
        return job_id, "unparseable", f"{type(exc).__name__}: {str(exc)[:200]}"


def serve(reader: Connection, writer: Connection, memory_mb: int) -> None:
    """Answer jobs until the pipe closes or a ``None`` job arrives."""
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    jobs = _jobs()
    import latex2sympy2_extended  # noqa: F401  (loaded before "ready", not on a job's clock)
    import sympy  # noqa: F401

    writer.send(("ready", os.getpid()))
    while True:
        try:
            job = reader.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            writer.send(_answer(jobs, job))
        except (BrokenPipeError, OSError):
            return


def main(argv: list[str]) -> None:
    read_fd, write_fd, memory_mb = (int(a) for a in argv)
    os.dup2(2, 1)  # stray prints go to stderr; the pipe carries replies only
    serve(Connection(read_fd, writable=False), Connection(write_fd, readable=False), memory_mb)


if __name__ == "__main__":
    main(sys.argv[1:])
