"""The attack corpus run as an unprivileged user (from root), to check the sandbox
holds for a normal account too: ``run_attacks_as_user()`` starts
``python -m rewardkit.audit.sandbox_attacks`` as that uid, with a home of its own,
and reads one outcome per attack.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["NORMAL_USER_UID", "CannotRunAsUser", "run_attacks_as_user"]

NORMAL_USER_UID = 60999


class CannotRunAsUser(RuntimeError):  # noqa: N818 - a reason to skip, not a failure
    """This machine cannot run the corpus as another user; the message says why."""


def _normal_user_python(uid: int) -> tuple[str, dict[str, str]]:
    """(python, env) with which ``uid`` can import rewardkit, or CannotRunAsUser."""
    if os.geteuid() != 0:
        raise CannotRunAsUser("only root can start a run as another user")
    try:
        pwd.getpwuid(uid)
        raise CannotRunAsUser(f"uid {uid} is a named account here")
    except KeyError:
        pass
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        raise CannotRunAsUser("no /usr/bin/python3 for the unprivileged run")
    source = str(Path(__file__).resolve().parents[2])
    packages = sysconfig.get_paths()["purelib"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{source}:{packages}", "LANG": "C.UTF-8"}
    check = f"import sys; assert sys.version_info[:2] == {tuple(sys.version_info[:2])}"
    probe = subprocess.run(
        [python, "-c", f"{check}; import rewardkit.audit.sandbox_attacks"],
        env=env, user=uid, group=uid, extra_groups=[], capture_output=True, text=True,
    )  # fmt: skip
    if probe.returncode != 0:
        raise CannotRunAsUser(
            f"uid {uid} cannot import rewardkit with {python}: {probe.stderr.strip()[-200:]}"
        )
    return python, env


def run_attacks_as_user(
    uid: int = NORMAL_USER_UID, names: list[str] | None = None, timeout: float = 300
) -> list[Any]:
    """Run the corpus as an unprivileged ``uid`` (from root), with a home of its own.

    Raises:
        CannotRunAsUser: not root, or that user cannot import rewardkit here.
        RuntimeError: the run as that user died (itself an escape: it was killed).
    """
    from rewardkit.audit.sandbox_attacks import ATTACKS, AttackOutcome

    python, env = _normal_user_python(uid)
    home = tempfile.mkdtemp(prefix="rewardkit-normal-user-home-", dir="/var/tmp")
    os.chown(home, uid, uid)
    try:
        done = subprocess.run(
            [python, "-m", "rewardkit.audit.sandbox_attacks", *(names or [])],
            env=env | {"HOME": home},
            cwd=home,
            user=uid,
            group=uid,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"the run as uid {uid} did not end within {timeout} s") from exc
    finally:
        shutil.rmtree(home, ignore_errors=True)
    outcomes = [AttackOutcome(**json.loads(line)) for line in done.stdout.splitlines()]
    if done.returncode != 0 or len(outcomes) != len(names or ATTACKS):
        raise RuntimeError(
            f"the run as uid {uid} ended with code {done.returncode} after "
            f"{len(outcomes)} attacks: {done.stderr.strip()[-500:]}"
        )
    return outcomes
