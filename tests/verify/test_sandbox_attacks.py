"""Every row of the attack table, as this user and (when root) as an unprivileged user.

Each attack is bounded, loopback only, and ends by itself; ``escaped`` is
judged from outside the sandbox (see rewardkit.audit.sandbox_attacks).
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

import pytest

import rewardkit
from rewardkit.audit.sandbox_attacks import ATTACKS, run_attack

NAMES = [attack.name for attack in ATTACKS]
#: an unnamed uid outside the sandbox's leased range, standing for a normal user
NORMAL_USER_UID = 60999


@pytest.mark.parametrize("name", NAMES)
def test_attack_does_not_escape(name):
    outcome = run_attack(name)
    assert not outcome.escaped, outcome
    assert outcome.seconds < 15, outcome


def _normal_user_python() -> tuple[str, dict[str, str]] | str:
    """(python, env) that a normal user can run rewardkit with, or why not."""
    if os.geteuid() != 0:
        return "needs root to start a run as another user (as a normal user, the test above is it)"
    try:
        pwd.getpwuid(NORMAL_USER_UID)
        return f"uid {NORMAL_USER_UID} is a named account here"
    except KeyError:
        pass
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        return "no /usr/bin/python3 for the unprivileged run"
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
    ).stdout.strip()
    if version != str(sys.version_info[:2]):
        return f"/usr/bin/python3 is {version}, the project's packages are built for {sys.version_info[:2]}"
    source = str(Path(rewardkit.__file__).resolve().parents[1])
    packages = sysconfig.get_paths()["purelib"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{source}:{packages}", "LANG": "C.UTF-8"}
    probe = subprocess.run(
        [python, "-c", "import rewardkit.audit.sandbox_attacks"],
        env=env,
        user=NORMAL_USER_UID,
        group=NORMAL_USER_UID,
        extra_groups=[],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"the unprivileged user cannot import rewardkit: {probe.stderr.strip()[-200:]}"
    return python, env


@pytest.fixture(scope="module")
def normal_user_outcomes():
    found = _normal_user_python()
    if isinstance(found, str):
        pytest.skip(found)
    python, env = found
    home = tempfile.mkdtemp(prefix="rewardkit-normal-user-home-", dir="/var/tmp")
    os.chown(home, NORMAL_USER_UID, NORMAL_USER_UID)
    try:
        done = subprocess.run(
            [python, "-m", "rewardkit.audit.sandbox_attacks"],
            env=env | {"HOME": home},
            cwd=home,
            user=NORMAL_USER_UID,
            group=NORMAL_USER_UID,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    outcomes = {}
    for line in done.stdout.splitlines():
        outcome = json.loads(line)
        outcomes[outcome["name"]] = outcome
    assert done.returncode == 0 and len(outcomes) == len(NAMES), done.stderr[-2000:]
    return outcomes


@pytest.mark.parametrize("name", NAMES)
def test_attack_does_not_escape_as_a_normal_user(normal_user_outcomes, name):
    outcome = normal_user_outcomes[name]
    assert not outcome["escaped"], outcome
