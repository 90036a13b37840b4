"""What the sandbox enforces on this machine, measured from inside it.

:func:`sandbox_capabilities` runs a probe program in the sandbox once per
interpreter and reads, from inside: network interfaces, the uid map,
RLIMIT_NPROC, the visible root folders, ``/tmp`` and the environment. The
result is a :class:`SandboxCapabilities`; :class:`~rewardkit.verify.sandbox.Sandbox`
refuses to run where it is not complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rewardkit.verify._sandbox_python import (
    _interpreter_folders,
    _prefix_problem,
    _resolve_python,
)

if TYPE_CHECKING:
    from rewardkit.verify.sandbox import Isolation, SandboxLimits

__all__ = ["SandboxCapabilities", "sandbox_capabilities"]

logger = logging.getLogger("rewardkit.sandbox")

#: the environment variables a program may see
_ALLOWED_ENV = {"PATH", "HOME", "TMPDIR", "LANG", "LC_CTYPE", "PWD"}


@dataclass(frozen=True)
class SandboxCapabilities:
    """What the sandbox enforces on this machine, measured by running a probe in it.

    Attributes:
        isolation: the mode probed ("full" or "minimal").
        backend: "bubblewrap X.Y.Z", or what minimal mode uses.
        network_namespace: the program sees no network interface but loopback.
        separate_uid: the program runs in its own user namespace (and, as root,
            under a uid no other run holds), never as the caller's root.
        process_limit: RLIMIT_NPROC is in force and counts only this run.
        private_filesystem: no home, /root, /etc, /var; private /tmp and /dev/shm.
        clean_environment: none of the caller's environment variables.
        no_new_namespaces: the program cannot create a user namespace of its own
            (where it would hold capabilities: mount a tmpfs past the scratch cap,
            reach more of the kernel).
        problem: why a capability is missing ("" when none is).
    """

    isolation: str
    backend: str
    network_namespace: bool
    separate_uid: bool
    process_limit: bool
    private_filesystem: bool
    clean_environment: bool
    no_new_namespaces: bool = False
    problem: str = ""

    CHECKS: ClassVar[tuple[str, ...]] = (
        "network_namespace",
        "separate_uid",
        "process_limit",
        "private_filesystem",
        "clean_environment",
        "no_new_namespaces",
    )

    @property
    def complete(self) -> bool:
        """Every part of the contract holds."""
        return all(getattr(self, check) for check in self.CHECKS)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        lines = [f"sandbox ({self.isolation}, {self.backend}):"]
        lines += [
            f"  {check:20} {'yes' if getattr(self, check) else 'NO'}" for check in self.CHECKS
        ]
        if self.problem:
            lines.append(f"  problem: {self.problem}")
        return "\n".join(lines)


_PROBE = """
import json, os, resource
interfaces = [line.split(':')[0].strip() for line in open('/proc/net/dev').read().splitlines()[2:]]
print(json.dumps({
    'interfaces': interfaces,
    'uid': os.getuid(),
    'uid_map': open('/proc/self/uid_map').read().split(),
    'usr_owner': os.stat('/usr').st_uid,
    'nproc': resource.getrlimit(resource.RLIMIT_NPROC)[0],
    'root': sorted(os.listdir('/')),
    'etc': sorted(os.listdir('/etc')) if os.path.isdir('/etc') else [],
    'tmp': sorted(os.listdir('/tmp')),
    'env': sorted(os.environ),
    'nested_userns': __import__('ctypes').CDLL(None).unshare(0x10000000) == 0,
}))
"""
_PRIVATE_ROOT = {
    "usr",
    "bin",
    "sbin",
    "lib",
    "lib32",
    "lib64",
    "libx32",
    "proc",
    "dev",
    "tmp",
    "etc",
}
_HOST_IDENTITY_MAP = ["0", "0", "4294967295"]


def _judge_probe(
    isolation: str, backend: str, python: str, report: dict[str, Any], limits: SandboxLimits
) -> SandboxCapabilities:
    """Read the probe's view from inside into the five checks of the contract."""
    uid_map = report.get("uid_map", [])
    if isolation == "full":  # a user namespace in which the host's root is unmapped
        in_namespace = len(uid_map) >= 3 and uid_map[:3] != _HOST_IDENTITY_MAP
        separate = in_namespace and report.get("usr_owner") not in (None, 0)
    else:
        separate = report.get("uid") not in (None, os.getuid())
    allowed_root = _PRIVATE_ROOT | {
        part for _, shown in _interpreter_folders(python) for part in Path(shown).parts[1:2]
    }
    visible = set(report.get("root", ["?"])) - allowed_root
    visible |= {f"etc/{name}" for name in report.get("etc", [])} - {"etc/ld.so.cache"}
    capabilities = SandboxCapabilities(
        isolation=isolation,
        backend=backend,
        network_namespace=set(report.get("interfaces", ["?"])) <= {"lo"},
        separate_uid=separate,
        process_limit=report.get("nproc") == limits.max_processes,
        private_filesystem=not visible and report.get("tmp") == ["program.py"],
        clean_environment=set(report.get("env", ["?"])) <= _ALLOWED_ENV,
        no_new_namespaces=report.get("nested_userns") is False,
    )
    missing = [check for check in capabilities.CHECKS if not getattr(capabilities, check)]
    if not missing:
        return capabilities
    problem = f"not enforced: {', '.join(missing)}"
    if visible and isolation == "full":
        problem += f" (visible: {', '.join(sorted(visible)[:8])})"
    return SandboxCapabilities(**{**capabilities.as_dict(), "problem": problem})


_capability_cache: dict[tuple[str, str], SandboxCapabilities] = {}
_capability_lock = threading.Lock()


def sandbox_capabilities(
    isolation: Isolation = "full", python: str | None = None, refresh: bool = False
) -> SandboxCapabilities:
    """Measure, once per interpreter, what the sandbox enforces here.

    Runs a probe program in the sandbox and reads, from inside: network
    interfaces, the uid map, RLIMIT_NPROC, the visible root folders, ``/tmp``
    and the environment. The first report is logged (``rewardkit.sandbox``).

    Example:
        >>> caps = sandbox_capabilities()
        >>> caps.complete, caps.backend.startswith("bubblewrap")
        (True, True)
    """
    python = _resolve_python(python, isolation)
    key = (isolation, python)
    with _capability_lock:
        if key in _capability_cache and not refresh:
            return _capability_cache[key]
        from rewardkit.verify.sandbox import Sandbox, SandboxLimits

        limits = SandboxLimits(wall_seconds=20, cpu_seconds=10, max_processes=29)
        backend = _bwrap_version() if isolation == "full" else "rlimits + launcher"
        prefix_problem = _prefix_problem(python) if isolation == "full" else None
        if backend is None or prefix_problem:
            problem = prefix_problem or "bwrap not found on PATH"
            capabilities = _nothing(isolation, backend or "none", problem)
        else:
            runner = Sandbox._unchecked(limits, python, isolation)
            result = runner.run(_PROBE)
            try:
                report = json.loads(result.stdout)
            except json.JSONDecodeError:
                detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or [
                    result.status
                ]
                capabilities = _nothing(isolation, backend, f"the probe failed: {detail[0]}")
            else:
                capabilities = _judge_probe(isolation, backend, python, report, limits)
        _capability_cache[key] = capabilities
        logger.info("%s", capabilities.describe())
        return capabilities


def _nothing(isolation: str, backend: str, problem: str) -> SandboxCapabilities:
    return SandboxCapabilities(
        isolation, backend, False, False, False, False, False, False, problem=problem
    )


def _bwrap_version() -> str | None:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None
    try:
        done = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or "bubblewrap"
