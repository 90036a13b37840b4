"""Process helpers of the sandbox: bwrap's status, killing a run, reading its output."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any


def _program_ran(status_fd: int) -> bool:
    """Whether bwrap's JSON status (``--json-status-fd``) has the program's exit code: it
    has none when bwrap's own setup failed (a bind, a namespace). Closes the fd."""
    with os.fdopen(status_fd, "rb") as status:
        return b'"exit-code"' in status.read(1 << 16)


def _kill_run(process: subprocess.Popen[bytes], uid: int | None, sweep: bool) -> None:
    """Kill the run's process group and wait until nothing of its uid is alive.

    In full isolation the pid namespace dies with bwrap (``--die-with-parent``),
    taking every process in it; the wait makes the uid free before its lease
    ends. In minimal isolation (``sweep``), processes that left the session are
    found by uid and killed with ``kill -9 -1`` as that uid, which reaches only
    this run: no other run holds the uid.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, 9)
    if uid is None:
        return
    deadline = time.monotonic() + 2.0
    while _live_processes(uid) and time.monotonic() < deadline:
        if sweep:
            subprocess.run(
                ["kill", "-9", "-1"], user=uid, group=uid, capture_output=True, check=False
            )
        else:
            time.sleep(0.005)


def _live_processes(uid: int) -> bool:
    """True if a non-zombie process of ``uid`` exists (read from /proc)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)] and not fields.get(
            "State", ""
        ).strip().startswith(("Z", "X")):
            return True
    return False


def _read_capped(handle: Any, limit: int) -> tuple[str, int]:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(0)
    return handle.read(limit).decode("utf-8", errors="replace"), size
