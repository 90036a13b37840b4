"""The caller's interpreter inside the sandbox: which host folders it needs, where
they are shown, and how the leased uid reaches a private one.

Programs run under the caller's interpreter, its install and its virtual
environment bound read-only (so they can import what the caller installed).
A virtual environment under ``/tmp`` is shown at :data:`_MOVED_ENVIRONMENT`
(the sandbox has its own ``/tmp``). As root, a folder the leased uid cannot
reach (a pyenv under ``/root``) is bound onto an empty, reachable view inside
each run's private mount namespace (see ``Sandbox._as_uid``).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path

from rewardkit.core.errors import ConfigurationError

#: folders every sandbox shows read-only (or as links), whatever the interpreter
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


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


@functools.lru_cache(maxsize=8)
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


@functools.lru_cache(maxsize=8)
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
