"""Unprivileged uids leased one per concurrent sandbox run, across threads and processes.

As root, each run's program runs under a uid no other run holds, so that the
kernel's process limit (RLIMIT_NPROC counts per uid) and any kill the program
sends reach only its own processes. A lease is an exclusive ``flock`` on one
lock file per uid, so two threads or two processes can never hold the same
uid; the kernel drops the lock if the holder dies.

Example:
    >>> with UidLease() as uid:  # doctest: +SKIP
    ...     assert FIRST_UID <= uid < FIRST_UID + UID_COUNT
"""

from __future__ import annotations

import fcntl
import os
import pwd
import random
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["FIRST_UID", "UID_COUNT", "UidLease"]

#: the leased range: uids Debian leaves unnamed unless a package asks (60000-64999)
FIRST_UID = 61000
UID_COUNT = 3000


def _lock_dir() -> Path:
    for base in ("/run", tempfile.gettempdir()):
        folder = Path(base, "rewardkit-uids")
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            info = os.lstat(folder)
        except OSError:
            continue
        # in a shared temp dir, someone else may have made it first: use only our own
        if (
            info.st_uid == os.geteuid()
            and not os.path.islink(folder)
            and os.access(folder, os.W_OK)
        ):
            return folder
    raise OSError("no writable folder for the sandbox's uid locks (/run or the temp dir)")


def _named(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


class UidLease:
    """Holds one free uid of the range until the ``with`` block ends."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.uid: int | None = None
        self._fd: int | None = None

    def __enter__(self) -> int:
        folder = _lock_dir()
        deadline = time.monotonic() + self.timeout
        offset = random.randrange(UID_COUNT)
        while True:
            for step in range(UID_COUNT):
                uid = FIRST_UID + (offset + step) % UID_COUNT
                if _named(uid):
                    continue  # a real account: never borrow it
                flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW
                fd = os.open(folder / f"{uid}.lock", flags, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:  # held by another run (or the lock failed): not ours
                    os.close(fd)
                    continue
                self.uid, self._fd = uid, fd
                return uid
            if time.monotonic() > deadline:
                raise OSError(f"all {UID_COUNT} sandbox uids are in use")
            time.sleep(0.05)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor releases the flock
        self.uid, self._fd = None, None
