"""Exception and warning types.

Every error says what went wrong *and* how to fix it. Catch
:class:`RewardKitError` to handle all of them.
"""

from __future__ import annotations

__all__ = [
    "BatchError",
    "CompositionError",
    "ConfigurationError",
    "EmptyGroupWarning",
    "MissingColumnError",
    "RegistryError",
    "RewardCheckError",
    "RewardCheckWarning",
    "RewardKitError",
    "RewardKitWarning",
    "ShapeError",
    "SpecError",
]


class RewardKitError(Exception):
    """Base class of every error rewardkit raises on purpose."""


class BatchError(RewardKitError, ValueError):
    """A batch is malformed: ragged columns, not a mapping, bad JSONL row."""


class MissingColumnError(BatchError, KeyError):
    """A term reads a column the batch does not have."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ShapeError(RewardKitError, ValueError):
    """Arrays passed to a credit-assignment function disagree in shape."""


class ConfigurationError(RewardKitError, ValueError):
    """A setting or parameter cannot be used as given (a negative limit, an unknown
    mode, a missing toolchain for a chosen language). The message says which and how
    to fix it."""


class CompositionError(ConfigurationError):
    """Terms cannot be combined as asked (duplicate names, bad weights, a gate on a
    term without the part it reads)."""


class RegistryError(RewardKitError, KeyError):
    """A registered name is unknown or registered twice."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class SpecError(RewardKitError, ValueError):
    """A reward spec file (TOML/YAML) is invalid. The message names the path."""


class RewardCheckError(RewardKitError, ValueError):
    """``check_reward`` found a hard violation (wrong shape, inf, unexplained NaN)."""


class RewardKitWarning(UserWarning):
    """Base class of rewardkit's warnings."""


class RewardCheckWarning(RewardKitWarning):
    """``check_reward`` found a soft problem (constant reward, odd scale...)."""


class EmptyGroupWarning(RewardKitWarning):
    """A group had no applicable reward; its advantages were set to 0."""
