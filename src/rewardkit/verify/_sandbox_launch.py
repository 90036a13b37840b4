"""Sandbox launcher: isolate this process, then exec the untrusted program.

Run as ``python -I -S _sandbox_launch.py CONFIG_JSON``. It runs in a fresh
single-threaded process, so the isolation steps (which would be unsafe in a
``preexec_fn`` of a multi-threaded parent) happen before any untrusted code:

1. a new network namespace (no interfaces but a down loopback), if permitted;
2. resource limits: CPU seconds, address space, processes, file size, open
   files, no core dumps;
3. if running as root, drop to the slot's unprivileged uid/gid, so the
   process limit counts only this program's processes and a kill of that uid
   reaches every process it started.

With ``"report": true`` it prints which steps succeeded, as JSON, and exits.
This file must not import anything outside the standard library.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys

TYPE_CHECKING = False  # typing is not imported at run time (it costs each sandboxed run)
if TYPE_CHECKING:
    from typing import NotRequired, TypedDict

    class Config(TypedDict):
        """The launch, as rewardkit.verify.sandbox writes it (JSON, argv[1])."""

        cpu_seconds: int
        memory_bytes: int
        file_bytes: int
        max_processes: int
        uid: int | None
        workdir: str
        program: str
        python: str
        report: NotRequired[bool]


CLONE_NEWNET = 0x40000000


def _isolate(config: Config) -> dict[str, bool]:
    done = {"network_namespace": False, "separate_uid": False, "rlimits": False}
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        done["network_namespace"] = libc.unshare(CLONE_NEWNET) == 0
    except (OSError, AttributeError):
        pass
    limits = [
        (resource.RLIMIT_CPU, config["cpu_seconds"]),
        (resource.RLIMIT_AS, config["memory_bytes"]),
        (resource.RLIMIT_FSIZE, config["file_bytes"]),
        (resource.RLIMIT_NOFILE, 64),
        (resource.RLIMIT_CORE, 0),
    ]
    uid = config.get("uid")
    if uid is not None and os.geteuid() == 0:
        limits.append((resource.RLIMIT_NPROC, config["max_processes"]))
    for which, value in limits:
        resource.setrlimit(which, (value, value))
    done["rlimits"] = True
    if uid is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        done["separate_uid"] = os.getuid() == uid
    return done


def main() -> None:
    config: Config = json.loads(sys.argv[1])
    done = _isolate(config)
    if config.get("report"):
        print(json.dumps(done))
        return
    os.chdir(config["workdir"])
    program = config["program"]
    os.execv(config["python"], [config["python"], "-I", "-B", program])


if __name__ == "__main__":
    main()
