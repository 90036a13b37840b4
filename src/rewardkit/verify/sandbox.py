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

import atexit
import contextlib
import functools
import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from rewardkit.core.errors import ConfigurationError, RewardKitError, RewardKitWarning
from rewardkit.verify._uid_lease import UidLease

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
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_LINKER_CACHE = "/etc/ld.so.cache"
_CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
_ALLOWED_ENV = {"PATH", "HOME", "TMPDIR", "LANG", "LC_CTYPE", "PWD"}

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
_warned_minimal = False


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


def _prefix_problem(python: str) -> str | None:
    """Why binding the interpreter's folders would expose more than Python, or None.

    The folders (its install and, for a virtual environment, the environment)
    are bound read-only into the sandbox, so each must be a Python install (it
    has ``lib/pythonX.Y``) and not a home folder or ``/``.
    """
    homes = {Path("/"), Path("/home"), Path("/root"), Path.home()}
    for source, shown in _interpreter_folders(python):
        folder = Path(source)
        if folder in homes or not any(folder.glob("lib/python3*")):
            return (
                f"the interpreter {python} needs {folder}, which is not a Python install "
                "folder that can be shown to programs; pass python= an interpreter that "
                "lives in its own install folder or virtual environment"
            )
        if _hidden_by_scratch(shown):
            return (
                f"the interpreter {python} lives in {shown}, which the sandbox's own /tmp "
                "would hide; use a Python installed outside /tmp and /dev/shm (a virtual "
                "environment there is fine)"
            )
    return None


def _interpreter_folders(python: str) -> tuple[tuple[str, str], ...]:
    """The host folders a sandboxed ``python`` needs, as (source, shown at) pairs.

    Its install folder (``.../bin/python3`` → ``...``) and, when ``python`` is a
    virtual environment's, the environment with its site-packages, shown at the
    paths the interpreter expects; an environment under ``/tmp`` or ``/dev/shm``
    (which the sandbox replaces with its own) is shown at :data:`_MOVED_ENVIRONMENT`
    instead (a virtual environment finds its site-packages from where it runs).
    Folders under the system folders, which every sandbox shows anyway, are left out.

    Example:
        >>> _interpreter_folders("/usr/bin/python3")
        ()
    """
    folders: list[tuple[str, str]] = []
    install = _python_prefix(python)
    environment = Path(os.path.abspath(python)).parent.parent
    candidates = [(install, install)]
    if (environment / "pyvenv.cfg").is_file():
        shown_at = _MOVED_ENVIRONMENT if _hidden_by_scratch(str(environment)) else environment
        candidates.append((os.path.realpath(environment), str(shown_at)))
    for source, shown in candidates:
        if any(Path(source).is_relative_to(system) for system in _SYSTEM_DIRS):
            continue
        if (source, shown) not in folders:
            folders.append((source, shown))
    return tuple(folders)


def _world_traversable(folder: str) -> bool:
    """True if any user can reach ``folder`` (it and every parent are o+x)."""
    real = Path(os.path.realpath(folder))
    try:
        return all(path.stat().st_mode & 0o001 for path in (real, *real.parents))
    except OSError:
        return False


def _needs_views(python: str, isolation: str, leases_uid: bool) -> bool:
    """Whether the leased uid needs views of the interpreter's folders (see
    :meth:`Sandbox._as_uid`): full isolation, as root, with a folder it cannot reach."""
    return (
        leases_uid
        and isolation == "full"
        and not all(_world_traversable(source) for source, _ in _interpreter_folders(python))
    )


# Bind each (source, view) pair given before "--", then run the rest; runs as root in a
# private mount namespace, so the binds are seen only by the sandbox started from it.
_MOUNT_VIEWS = (
    'while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 125; shift 2; done; shift; exec "$@"'
)


@functools.lru_cache(maxsize=8)
def _folder_views(python: str) -> dict[str, str]:
    """An empty, world-reachable folder per interpreter folder, made once per process;
    the folders are bound onto them only inside each run's private mount namespace."""
    views: dict[str, str] = {}
    for source, _ in _interpreter_folders(python):
        view = tempfile.mkdtemp(prefix="rewardkit-view-")
        os.chmod(view, 0o755)
        atexit.register(_remove_empty, view)
        views[source] = view
    return views


def _remove_empty(folder: str) -> None:
    with contextlib.suppress(OSError):
        os.rmdir(folder)


#: where a virtual environment under /tmp or /dev/shm is shown inside the sandbox
_MOVED_ENVIRONMENT = "/run/rewardkit-environment"


def _hidden_by_scratch(path: str) -> bool:
    """Whether the sandbox's own ``/tmp`` or ``/dev/shm`` would hide ``path``."""
    return any(Path(path).is_relative_to(scratch) for scratch in ("/tmp", "/dev/shm"))


def _shown_python(python: str) -> str:
    """The path the sandbox runs ``python`` by: a virtual environment's own
    ``bin/python`` where the environment is shown, else the resolved interpreter."""
    executable = Path(os.path.abspath(python))
    environment = executable.parent.parent
    if (environment / "pyvenv.cfg").is_file():
        if _hidden_by_scratch(str(environment)):
            return str(Path(_MOVED_ENVIRONMENT, executable.relative_to(environment)))
        return str(executable)
    return os.path.realpath(python)


def _resolve_python(python: str | None, isolation: str) -> str:
    """The interpreter the programs run under, as an absolute path (not resolved:
    a virtual environment's ``bin/python`` must stay one)."""
    if python is None:
        return _default_python(os.geteuid() == 0, isolation)
    found = shutil.which(python) if os.sep not in python else python
    if found is None:
        raise ConfigurationError(f"python={python!r} is not an interpreter on PATH")
    return os.path.abspath(found)


def _bwrap_version() -> str | None:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None
    try:
        done = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or "bubblewrap"


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


def _program_ran(status_fd: int) -> bool:
    """Whether bwrap's JSON status (``--json-status-fd``) has the program's exit code: it
    has none when bwrap's own setup failed (a bind, a namespace). Closes the fd."""
    with os.fdopen(status_fd, "rb") as status:
        return b'"exit-code"' in status.read(1 << 16)


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


def _python_prefix(python: str) -> str:
    """The install folder of an interpreter (``.../bin/python3`` → ``...``)."""
    return str(Path(os.path.realpath(python)).parent.parent)


def _world_executable(path: str) -> bool:
    """True if any user can execute ``path`` (every parent directory is o+x)."""
    real = Path(os.path.realpath(path))
    try:
        if not real.stat().st_mode & 0o001:
            return False
        return all(parent.stat().st_mode & 0o001 for parent in real.parents)
    except OSError:
        return False


def _default_python(root: bool, isolation: str = "full") -> str:
    """The caller's interpreter; as root in minimal isolation (where the leased uid
    runs it on the host), the first one that uid can run."""
    if not root or isolation == "full" or _world_executable(sys.executable):
        return os.path.abspath(sys.executable)
    for candidate in ("/usr/bin/python3", shutil.which("python3") or ""):
        if candidate and _world_executable(candidate):
            return candidate
    return sys.executable  # runs, but the capability report shows what is missing


def _read_capped(handle: Any, limit: int) -> tuple[str, int]:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(0)
    return handle.read(limit).decode("utf-8", errors="replace"), size
