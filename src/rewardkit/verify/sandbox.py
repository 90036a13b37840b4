"""The sandbox that runs model-written programs: one contract, enforced or refused.

With ``isolation="full"`` (the default) every run gets, from bubblewrap
(``bwrap``) and the kernel's namespaces:

- **no network**: a new network namespace with only a down loopback, so
  neither the host's 127.0.0.1 services nor abstract Unix sockets are reachable;
- **a separate uid**: a new user namespace; as root, a uid leased for this run
  alone (see :mod:`rewardkit.verify._uid_lease`), never root's;
- **a process limit** that counts only this run's processes (RLIMIT_NPROC set
  inside the user namespace), and a new pid namespace: the program sees only
  its own processes, cannot signal the caller or another run, and everything
  it started dies with it (a ``setsid`` daemon included);
- **a private filesystem**: read-only ``/usr`` (and ``/bin``, ``/lib*``
  links), the caller's interpreter (its install and, for a virtual
  environment, the environment with its site-packages, so programs can import
  numpy) and ``/etc/ld.so.cache``, a new ``/proc``
  and ``/dev``, and a private, size-capped tmpfs at ``/tmp`` (the working
  directory) and ``/dev/shm``, which vanish when the run ends. Everything else
  is absent: home directories, ``/root``, ``/etc``, ``/var`` (so ``/var/tmp``),
  ``/run``, ``/sys``, the host's ``/tmp`` and ``/dev/shm`` and every Unix
  socket in them;
- **a clean environment**: ``PATH``, ``HOME=/tmp``, ``TMPDIR=/tmp`` and
  ``LANG`` only;
- limits on CPU seconds, address space, file size and open files, and a hard
  kill on the wall-clock limit.

If this machine cannot give all of that, :class:`Sandbox` raises
:class:`SandboxUnavailableError` saying how to get it. ``isolation="minimal"`` opts
out: resource limits, a clean environment and, where permitted, a network
namespace and (as root) a leased uid, with a warning logged once.
:func:`sandbox_capabilities` reports what this machine enforces; ``rewardkit
doctor`` prints it.

Why bubblewrap: it is the maintained tool for unprivileged namespaces (Flatpak
uses it), a Debian package, and it builds the private root, tmpfs mounts and
pid-namespace reaping that ``unshare(1)`` leaves to a hand-written script.
Measured on this project's 2-core machine, it adds about 5 ms to a 7.5 ms
``python -c`` run (``rewardkit bench sandbox`` measures it on yours). nsjail
is not packaged in Debian 12 or on PyPI.

Example:
    >>> sandbox = Sandbox(SandboxLimits(wall_seconds=5))
    >>> sandbox.run("print(input()[::-1])", stdin="abc").stdout
    'cba\\n'
    >>> sandbox.run("while True: pass", limits=SandboxLimits(wall_seconds=0.5)).status
    'timeout'
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import queue
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rewardkit.core.errors import ConfigurationError, RewardKitError, RewardKitWarning
from rewardkit.verify._sandbox_process import _kill_run, _program_ran, _read_capped
from rewardkit.verify._sandbox_python import (
    _MOUNT_VIEWS,
    _SYSTEM_DIRS,
    _folder_views,
    _interpreter_folders,
    _needs_views,
    _resolve_python,
    _shown_python,
    _world_executable,
)
from rewardkit.verify._uid_lease import UidLease
from rewardkit.verify.sandbox_probe import (
    SandboxCapabilities,
    sandbox_capabilities,
)

__all__ = [
    "ExecutionResult",
    "Sandbox",
    "SandboxCapabilities",
    "SandboxLimits",
    "SandboxUnavailableError",
    "sandbox_capabilities",
]

logger = logging.getLogger("rewardkit.sandbox")

_LAUNCHER = str(Path(__file__).with_name("_sandbox_launch.py"))
_LINKER_CACHE = "/etc/ld.so.cache"
_CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}

Isolation = Literal["full", "minimal"]
RunStatus = Literal["ok", "runtime_error", "timeout", "output_limit", "sandbox_error"]

HOW_TO_GET_FULL = (
    "The full sandbox needs bubblewrap and user namespaces. Install bubblewrap "
    "(`apt-get install bubblewrap`, `dnf install bubblewrap`, `apk add bubblewrap`); "
    "allow rootless user namespaces (`sysctl kernel.unprivileged_userns_clone=1` on "
    "Debian/Ubuntu, `sysctl user.max_user_namespaces=15000`, and on Ubuntu 24.04+ "
    "`sysctl kernel.apparmor_restrict_unprivileged_userns=0`); in Docker, run as root or "
    "with `--security-opt seccomp=unconfined`. Or pass isolation='minimal' to accept "
    "weaker isolation (resource limits and a clean environment only; a warning is "
    "logged once)."
)


class SandboxUnavailableError(RewardKitError, RuntimeError):
    """The machine cannot enforce the isolation that was asked for."""


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one program run.

    Attributes:
        wall_seconds: wall-clock limit; the program is killed after it.
        cpu_seconds: CPU-time limit (RLIMIT_CPU).
        memory_mb: address-space limit (RLIMIT_AS).
        max_processes: processes the run may have (RLIMIT_NPROC, counted per run).
        max_output_bytes: stdout/stderr file-size limit (RLIMIT_FSIZE).
        scratch_mb: size of each private tmpfs (``/tmp`` and ``/dev/shm``); their
            pages are memory that ``memory_mb`` does not count.
    """

    wall_seconds: float = 5.0
    cpu_seconds: int = 5
    memory_mb: int = 512
    max_processes: int = 32
    max_output_bytes: int = 1_000_000
    scratch_mb: int = 16

    def __post_init__(self) -> None:
        for field_name in (
            "wall_seconds",
            "cpu_seconds",
            "memory_mb",
            "max_processes",
            "max_output_bytes",
            "scratch_mb",
        ):
            value = getattr(self, field_name)
            if not value > 0:  # NaN fails too
                raise ConfigurationError(
                    f"SandboxLimits.{field_name} must be positive, got {value}"
                )


@dataclass(frozen=True)
class ExecutionResult:
    """What one run did."""

    status: RunStatus
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float


_warned_minimal = False


class Sandbox:
    """Runs Python programs under the sandbox contract, several at a time.

    Args:
        limits: default limits per run.
        slots: concurrent runs (default: CPU count).
        binds: more host folders to show read-only (a toolchain's configuration,
            such as ``/etc/java-17-openjdk``); missing ones are skipped.
        python: interpreter for the programs. Default: this one, the caller's,
            with its site-packages shown read-only (so programs can import
            numpy). Its folders are opened by the caller and handed to bwrap,
            so an interpreter under a private folder (a pyenv under ``/root``)
            works for the leased uid too.
        isolation: "full" (default) enforces the whole contract or raises
            :class:`SandboxUnavailableError`; "minimal" accepts weaker isolation and
            warns once.

    Raises:
        SandboxUnavailableError: ``isolation="full"`` and this machine cannot enforce it.
    """

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        slots: int | None = None,
        python: str | None = None,
        isolation: Isolation = "full",
        binds: Sequence[str] = (),
    ) -> None:
        if isolation not in ("full", "minimal"):
            raise ConfigurationError(f"isolation must be 'full' or 'minimal', got {isolation!r}")
        self.limits = limits or SandboxLimits()
        self.binds = tuple(path for path in binds if os.path.exists(path))
        self.slots = slots or (os.cpu_count() or 1)
        self.isolation: Isolation = isolation
        root = os.geteuid() == 0
        self.python = _resolve_python(python, isolation)
        # as root, each run's program gets a leased uid; in full isolation the
        # interpreter's folders are opened here and bound from those descriptors, so the
        # uid need not reach them; the minimal launcher runs it on the host
        self._leases_uid = root and (isolation == "full" or _world_executable(self.python))
        self._needs_views = _needs_views(self.python, isolation, self._leases_uid)
        self._free: queue.Queue[int] = queue.Queue()
        for slot in range(self.slots):
            self._free.put(slot)
        if isolation == "full":
            capabilities = sandbox_capabilities("full", self.python)
            if not capabilities.complete:
                raise SandboxUnavailableError(
                    f"the sandbox cannot enforce its contract here: {capabilities.problem}. "
                    + HOW_TO_GET_FULL
                )
        else:
            _warn_minimal_once()

    @classmethod
    def _unchecked(cls, limits: SandboxLimits, python: str, isolation: Isolation) -> Sandbox:
        """A sandbox that skips the capability check (the probe itself runs in one)."""
        sandbox = cls.__new__(cls)
        sandbox.limits, sandbox.slots, sandbox.isolation = limits, 1, isolation
        sandbox.binds = ()
        sandbox.python = python
        sandbox._leases_uid = os.geteuid() == 0 and (
            isolation == "full" or _world_executable(python)
        )
        sandbox._needs_views = _needs_views(python, isolation, sandbox._leases_uid)
        sandbox._free = queue.Queue()
        sandbox._free.put(0)
        return sandbox

    @property
    def capabilities(self) -> SandboxCapabilities:
        """What this sandbox enforces here (see :func:`sandbox_capabilities`)."""
        return sandbox_capabilities(self.isolation, self.python)

    def run(
        self,
        source: str,
        stdin: str = "",
        limits: SandboxLimits | None = None,
        as_init: bool = False,
    ) -> ExecutionResult:
        """Run ``source`` with ``stdin``; never raises for the program's behaviour.

        ``as_init=True`` makes the interpreter the sandbox's pid 1 (full isolation):
        nothing it starts can signal it, and everything it started dies with it.
        """
        limits = limits or self.limits
        slot = self._free.get()
        start = time.monotonic()
        try:
            with self._lease() as uid:
                return self._run_as(uid, source, stdin, limits, start, as_init)
        except OSError as exc:
            return ExecutionResult("sandbox_error", None, "", str(exc), time.monotonic() - start)
        finally:
            self._free.put(slot)

    def run_many(
        self,
        jobs: Sequence[tuple[str, str]],
        limits: SandboxLimits | None = None,
        as_init: bool = False,
    ) -> list[ExecutionResult]:
        """Run (source, stdin) jobs concurrently, ``slots`` at a time; results in order."""
        with ThreadPoolExecutor(max_workers=self.slots) as executor:
            return list(executor.map(lambda job: self.run(job[0], job[1], limits, as_init), jobs))

    @contextlib.contextmanager
    def _lease(self) -> Iterator[int | None]:
        if not self._leases_uid:
            yield None
            return
        with UidLease() as uid:
            yield uid

    def _run_as(
        self,
        uid: int | None,
        source: str,
        stdin: str,
        limits: SandboxLimits,
        start: float,
        as_init: bool = False,
    ) -> ExecutionResult:
        staging = tempfile.mkdtemp(prefix="rewardkit-sandbox-")
        try:
            program = Path(staging, "program.py")
            program.write_text(source, encoding="utf-8")
            Path(staging, "stdin.txt").write_text(stdin, encoding="utf-8")
            if uid is not None:
                os.chown(staging, uid, uid)
                os.chown(program, uid, uid)
            if self.isolation != "full":
                command = self._launcher_command(staging, str(program), limits, uid)
                return self._execute(command, uid, Path(staging, "stdin.txt"), limits, start)
            command = self._bwrap_command(str(program), limits, as_init)
            return self._execute(command, uid, Path(staging, "stdin.txt"), limits, start)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _as_uid(self, command: list[str], uid: int | None) -> tuple[list[str], dict[str, Any]]:
        """How to start the bwrap ``command`` as the leased ``uid``: the command and
        the extra :class:`subprocess.Popen` arguments.

        Directly as the uid, or, when the interpreter's folders are private to the
        caller (a pyenv under ``/root``), through a private mount namespace that
        shows them at views the uid can reach, then dropping to the uid with
        ``setpriv``: bwrap still runs unprivileged, and the host's mounts are untouched.
        """
        if uid is None:
            return command, {}
        if not self._needs_views:
            return command, {"user": uid, "group": uid, "extra_groups": []}
        views = _folder_views(self.python)
        return [
            shutil.which("unshare") or "/usr/bin/unshare",
            "--mount", "--propagation", "private", "--",
            "/bin/sh", "-c", _MOUNT_VIEWS, "sh",
            *(part for source, view in views.items() for part in (source, view)),
            "--",
            shutil.which("setpriv") or "/usr/bin/setpriv",
            f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--",
            *command,
        ], {}  # fmt: skip

    def _bwrap_command(
        self, program: str, limits: SandboxLimits, as_init: bool = False
    ) -> list[str]:
        """The bwrap command, to be started by :meth:`_launch` (which wraps it when
        the interpreter's folders must be shown through views)."""
        scratch = str(limits.scratch_mb * 1024 * 1024)
        views = _folder_views(self.python) if self._needs_views else {}
        return [
            *_fixed_bwrap_arguments(),
            *(
                part
                for source, shown in _interpreter_folders(self.python)
                for part in ("--ro-bind", views.get(source, source), shown)
            ),
            "--proc", "/proc", "--dev", "/dev",
            *(["--as-pid-1"] if as_init else []),
            *(part for path in self.binds for part in ("--ro-bind", path, path)),
            "--size", scratch, "--tmpfs", "/tmp",
            "--size", scratch, "--tmpfs", "/dev/shm",
            "--ro-bind", program, "/tmp/program.py",
            "--chdir", "/tmp",
            "--",
            shutil.which("prlimit") or "/usr/bin/prlimit",
            f"--nproc={limits.max_processes}",
            f"--as={limits.memory_mb * 1024 * 1024}",
            f"--cpu={limits.cpu_seconds}",
            f"--fsize={limits.max_output_bytes}",
            "--nofile=64",
            "--core=0",
            "--",
            _shown_python(self.python), "-I", "-B", "/tmp/program.py",
        ]  # fmt: skip

    def _launcher_command(
        self, staging: str, program: str, limits: SandboxLimits, uid: int | None
    ) -> list[str]:
        config = {
            "cpu_seconds": int(limits.cpu_seconds),
            "memory_bytes": int(limits.memory_mb) * 1024 * 1024,
            "file_bytes": int(limits.max_output_bytes),
            "max_processes": int(limits.max_processes),
            "uid": uid,
            "workdir": staging,
            "program": program,
            "python": self.python,
        }
        return [self.python, "-I", "-S", _LAUNCHER, json.dumps(config)]

    def _execute(
        self,
        command: list[str],
        uid: int | None,
        stdin_path: Path,
        limits: SandboxLimits,
        start: float,
    ) -> ExecutionResult:
        full = self.isolation == "full"
        # bwrap itself runs as the leased uid, so its namespaces never map root;
        # the minimal launcher drops to that uid itself after its setup.
        status_read, status_write = os.pipe() if full else (-1, -1)
        as_uid: dict[str, Any] = {}
        if full:  # bwrap reports the program's exit code there, if the program ran
            command = [command[0], "--json-status-fd", str(status_write), *command[1:]]
            command, as_uid = self._as_uid(command, uid)
        with (
            open(stdin_path, "rb") as stdin_file,
            tempfile.TemporaryFile() as out_file,
            tempfile.TemporaryFile() as err_file,
        ):
            try:
                process = subprocess.Popen(
                    command,
                    stdin=stdin_file,
                    stdout=out_file,
                    stderr=err_file,
                    env=_CLEAN_ENV,
                    start_new_session=True,
                    close_fds=True,
                    pass_fds=(status_write,) if full else (),
                    **as_uid,
                )
            finally:
                if full:
                    os.close(status_write)
            timed_out = False
            try:
                process.wait(timeout=limits.wall_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
            if timed_out or not full:
                _kill_run(process, uid, sweep=not full)
            process.wait()
            started = _program_ran(status_read) if full else True
            stdout, out_size = _read_capped(out_file, limits.max_output_bytes)
            stderr, _ = _read_capped(err_file, 64_000)
        seconds = time.monotonic() - start
        returncode = process.returncode
        if not started and not timed_out:  # bwrap failed before the program ran
            return ExecutionResult("sandbox_error", returncode, stdout, stderr, seconds)
        killed = (-9, -24, 128 + 9, 128 + 24) if full else (-9, -24)
        if timed_out or returncode in killed:  # SIGKILL by us or by the CPU limit, SIGXCPU
            return ExecutionResult("timeout", None, stdout, stderr, seconds)
        if returncode in (-25, 128 + 25) or out_size >= limits.max_output_bytes:  # SIGXFSZ
            return ExecutionResult("output_limit", returncode, stdout, stderr, seconds)
        status: RunStatus = "ok" if returncode == 0 else "runtime_error"
        return ExecutionResult(status, returncode, stdout, stderr, seconds)


@functools.lru_cache(maxsize=1)
def _fixed_bwrap_arguments() -> tuple[str, ...]:
    """The part of the bwrap command that is the same for every run (read from the
    filesystem once, not once per program)."""
    command = [
        shutil.which("bwrap") or "bwrap",  # found on the caller's PATH, run by full path
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",  # no nested user namespace: no mounts, no capabilities
        "--die-with-parent",
        "--new-session",
        "--cap-drop", "ALL",
        "--clearenv",
        "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
        "--setenv", "HOME", "/tmp",
        "--setenv", "TMPDIR", "/tmp",
        "--setenv", "LANG", "C.UTF-8",
    ]  # fmt: skip
    for path in _SYSTEM_DIRS:
        if os.path.islink(path):
            command += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            command += ["--ro-bind", path, path]
    if os.path.exists(_LINKER_CACHE):
        command += ["--ro-bind", _LINKER_CACHE, _LINKER_CACHE]
    return tuple(command)


def _warn_minimal_once() -> None:
    global _warned_minimal
    if _warned_minimal:
        return
    _warned_minimal = True
    message = (
        "rewardkit sandbox: isolation='minimal' runs programs with resource limits and a "
        "clean environment only; they may read your files and reach local services. "
        + HOW_TO_GET_FULL.split(" Or pass")[0]
    )
    warnings.warn(message, RewardKitWarning, stacklevel=3)
