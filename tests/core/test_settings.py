"""Settings dataclasses: checked against hand-written rules."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.settings import check_settings, describe_settings, setting


@dataclass
class Example:
    rate: float = setting(0.5, "a rate", minimum=0, maximum=1)
    count: int = setting(2, "a count", above=0)
    mode: str = setting("a", "a mode", choices=("a", "b"))
    free: str = "anything"

    def __post_init__(self) -> None:
        check_settings(self)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rate": -0.1}, "Example.rate must be >= 0, got -0.1 (a rate)"),
        ({"rate": 1.5}, "Example.rate must be <= 1, got 1.5 (a rate)"),
        ({"rate": float("nan")}, "Example.rate must be finite, got nan (a rate)"),
        ({"count": 0}, "Example.count must be > 0, got 0 (a count)"),
        ({"count": "2"}, "Example.count must be a number, got '2' (a count)"),
        ({"count": True}, "Example.count must be a number, got True (a count)"),
        ({"mode": "c"}, "Example.mode must be one of ['a', 'b'], got 'c' (a mode)"),
    ],
)
def test_each_rule_is_checked_and_named(changes, message):
    with pytest.raises(ConfigurationError) as caught:
        Example(**changes)
    assert str(caught.value) == message


def test_valid_values_and_unchecked_fields_pass():
    assert Example(rate=1.0, count=1, mode="b", free="x").free == "x"


def test_describe_lists_defaults_help_and_rules():
    assert describe_settings(Example).splitlines() == [
        "rate = 0.5: a rate (>= 0; <= 1)",
        "count = 2: a count (> 0)",
        "mode = 'a': a mode (one of 'a', 'b')",
        "free = 'anything': ",
    ]
