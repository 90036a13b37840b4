"""Every row of the attack table, as this user and (when root) as an unprivileged user.

Each attack is bounded, loopback only, and ends by itself; ``escaped`` is
judged from outside the sandbox (see rewardkit.audit.sandbox_attacks).
"""

from __future__ import annotations

import pytest

from rewardkit.audit.sandbox_attacks import (
    ATTACKS,
    CannotRunAsUser,
    run_attack,
    run_attacks_as_user,
)

NAMES = [attack.name for attack in ATTACKS]


@pytest.mark.parametrize("name", NAMES)
def test_attack_does_not_escape(name):
    outcome = run_attack(name)
    assert not outcome.escaped, outcome
    assert outcome.seconds < 15, outcome


@pytest.fixture(scope="module")
def normal_user_outcomes():
    try:
        outcomes = run_attacks_as_user()
    except CannotRunAsUser as reason:
        pytest.skip(f"needs root to run as a normal user: {reason}")
    return {outcome.name: outcome for outcome in outcomes}


@pytest.mark.parametrize("name", NAMES)
def test_attack_does_not_escape_as_a_normal_user(normal_user_outcomes, name):
    outcome = normal_user_outcomes[name]
    assert not outcome.escaped, outcome
