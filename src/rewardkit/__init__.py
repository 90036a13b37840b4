"""rewardkit: the reward layer of reinforcement learning.

Example:
    >>> import rewardkit as rk
    >>> reward = rk.weighted_sum([rk.env_reward(), rk.action_l2()], weights=[1.0, 0.1])
    >>> reward({"reward": [1.0], "action": [[1.0, 2.0]]}).total
    array([0.5])
"""

from importlib.metadata import PackageNotFoundError, version

from rewardkit.core import *  # noqa: F403  (re-exported explicitly by core.__all__)
from rewardkit.core import __all__ as _core_all

try:
    __version__ = version("rewardkit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [*_core_all, "__version__"]
