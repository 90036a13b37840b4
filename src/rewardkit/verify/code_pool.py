"""Warm sandboxed workers: one bwrap + interpreter start per worker, not per program.

A :class:`WarmPool` keeps ``slots`` workers, each a full sandbox (see
:mod:`rewardkit.verify.sandbox`) whose pid 1 runs job after job (see the warm
worker section of :mod:`rewardkit.verify._code_harness`). Every program still
runs in a fresh process with the job's limits, forked from a zygote that has
never seen a test, and everything a job started is killed, and ``/tmp`` and
``/dev/shm`` emptied, before the next job. Concurrent callers share one pool per
configuration (:func:`shared_pool`); a worker that dies or hangs is replaced.

Example:
    >>> from rewardkit.verify.sandbox import Sandbox, SandboxLimits
    >>> pool = shared_pool(Sandbox(SandboxLimits(wall_seconds=5)), slots=1)
    >>> from rewardkit.verify.code_formats import assert_job
    >>> request = {"program": "def f(x):\\n    return x + 1\\n",
    ...            "spec": dict(assert_job(["assert f(1) == 2"]).spec, seconds=5.0),
    ...            "rlimits": {}}
    >>> pool.run(request, timeout=10.0)["results"]
    [['pass', '', None]]
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import select
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from rewardkit.verify._uid_lease import UidLease
from rewardkit.verify.sandbox import _CLEAN_ENV, Sandbox, SandboxLimits

__all__ = ["WarmPool", "WorkerError", "shared_pool"]

_HARNESS = Path(__file__).with_name("_code_harness.py")


class WorkerError(RuntimeError):
    """A warm worker died, hung past its deadline or answered nonsense."""


def _worker_limits(limits: SandboxLimits) -> SandboxLimits:
    """The worker's own limits: generous CPU (it lives for many jobs), room for its
    zygote and judge beside the program's processes; programs get the job's limits."""
    return SandboxLimits(
        wall_seconds=limits.wall_seconds,
        cpu_seconds=24 * 3600,
        memory_mb=limits.memory_mb,
        max_processes=limits.max_processes + 8,
        max_output_bytes=limits.max_output_bytes,
        scratch_mb=limits.scratch_mb,
    )


class _Worker:
    """One sandbox whose pid 1 serves jobs over stdin/stdout."""

    def __init__(self, sandbox: Sandbox, limits: SandboxLimits) -> None:
        self.staging = tempfile.mkdtemp(prefix="rewardkit-worker-")
        program = Path(self.staging, "program.py")
        program.write_text(_HARNESS.read_text(encoding="utf-8") + "\n\nentry()\n", encoding="utf-8")
        self.lease: UidLease | None = None
        uid: int | None = None
        if sandbox._leases_uid:
            self.lease = UidLease()
            uid = self.lease.__enter__()
            os.chown(self.staging, uid, uid)
            os.chown(program, uid, uid)
        command = sandbox._bwrap_command(str(program), _worker_limits(limits), as_init=True)
        # not --die-with-parent: its parent is the *thread* that started it (PR_SET_PDEATHSIG),
        # and the worker outlives that thread; it exits when its stdin closes instead.
        command = [part for part in command if part != "--die-with-parent"]
        command, as_uid = sandbox._as_uid(command, uid)
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_CLEAN_ENV,
            start_new_session=True,
            close_fds=True,
            **as_uid,
        )
        self.buffer = b""
        self.jobs = 0

    def alive(self) -> bool:
        return self.process.poll() is None

    def run(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        nonce = secrets.token_hex(16)
        line = json.dumps({**request, "nonce": nonce}).encode() + b"\n"
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(line)
            self.process.stdin.flush()
        except OSError as exc:
            raise WorkerError(f"the worker exited: {exc}") from None
        deadline = time.monotonic() + timeout
        out = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerError("the worker hung past the job's deadline")
            ready, _, _ = select.select([out], [], [], remaining)
            if ready:
                chunk = os.read(out, 1 << 20)
                if not chunk:
                    raise WorkerError("the worker exited")
                self.buffer += chunk
        reply, _, self.buffer = self.buffer.partition(b"\n")
        text = reply.decode("utf-8", "replace")
        if not text.startswith(nonce + " "):
            raise WorkerError("the worker answered out of turn")
        try:
            report = json.loads(text[len(nonce) + 1 :])
        except json.JSONDecodeError:
            raise WorkerError("the worker's report is not JSON") from None
        if not isinstance(report, dict):
            raise WorkerError("the worker's report is not an object")
        self.jobs += 1
        return report

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.killpg(self.process.pid, 9)
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.process.wait(5)
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        if self.lease is not None:
            self.lease.__exit__(None, None, None)
            self.lease = None
        shutil.rmtree(self.staging, ignore_errors=True)


class WarmPool:
    """``slots`` warm workers for one sandbox configuration, shared by every caller.

    Args:
        sandbox: the sandbox whose contract (and interpreter, binds) the workers keep.
        slots: workers, started as they are first needed.
        limits: the largest limits a job of this pool needs (memory, processes).
    """

    def __init__(self, sandbox: Sandbox, slots: int, limits: SandboxLimits) -> None:
        if sandbox.isolation != "full":
            raise ValueError("warm workers need isolation='full'")
        self.sandbox = sandbox
        self.slots = slots
        self.limits = limits
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._started = 0
        self._lock = threading.Lock()
        self._permits = threading.BoundedSemaphore(slots)
        self._workers: weakref.WeakSet[_Worker] = weakref.WeakSet()
        self._finalizer = weakref.finalize(self, _close_all, self._workers)

    def run(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Run one job on a free worker; a failed worker is replaced and the job tried once more.

        Raises:
            WorkerError: the job failed on two workers.
        """
        with self._permits:
            for attempt in (1, 2):
                worker = self._take()
                try:
                    report = worker.run(request, timeout)
                except WorkerError:
                    worker.close()
                    if attempt == 2:
                        raise
                    continue
                self._idle.put(worker)
                return report
        raise AssertionError("unreachable")

    def _take(self) -> _Worker:
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                worker = _Worker(self.sandbox, self.limits)
                self._workers.add(worker)
                return worker
            if worker.alive():
                return worker
            worker.close()

    def close(self) -> None:
        _close_all(self._workers)


def _close_all(workers: weakref.WeakSet[_Worker]) -> None:
    for worker in list(workers):
        worker.close()


_pools: dict[tuple[Any, ...], WarmPool] = {}
_pools_lock = threading.Lock()
_pools_pid = os.getpid()


def shared_pool(
    sandbox: Sandbox, limits: SandboxLimits | None = None, slots: int | None = None
) -> WarmPool:
    """The process-wide pool for ``sandbox``'s configuration and the workers' ``limits``
    (default: the sandbox's); a forked child gets its own."""
    global _pools_pid
    limits = limits or sandbox.limits
    key = (sandbox.python, sandbox.binds, limits.memory_mb, limits.max_processes, limits.scratch_mb,
           limits.max_output_bytes, slots or sandbox.slots)  # fmt: skip
    with _pools_lock:
        if os.getpid() != _pools_pid:  # never share a parent's pipes with a forked child
            _pools.clear()
            _pools_pid = os.getpid()
        pool = _pools.get(key)
        if pool is None:
            pool = WarmPool(sandbox, slots or sandbox.slots, limits)
            _pools[key] = pool
        return pool
