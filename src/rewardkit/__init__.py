"""rewardkit: the reward layer of reinforcement learning.

``import rewardkit as rk`` gives the verbs a user reaches for first: the reward
algebra (terms, composition, specs, errors) at once, and the verifiers, credit
functions, audits, steering and the trainers' adapters on first use (each
imports its optional extra only then). Every package is also reachable as an
attribute (``rk.verify``, ``rk.credit``, ...), with its own public names.

Example:
    >>> import rewardkit as rk
    >>> reward = rk.weighted_sum([rk.env_reward(), rk.action_l2()], weights=[1.0, 0.1])
    >>> reward({"reward": [1.0], "action": [[1.0, 2.0]]}).total
    array([0.5])
    >>> rk.grpo_advantages([1.0, 0.0, 1.0, 0.0], group=[0, 0, 0, 0]).round(3)
    array([ 0.866, -0.866,  0.866, -0.866])
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version
from typing import TYPE_CHECKING, Any

from rewardkit.core import (
    BatchError,
    CompositionError,
    ConfigurationError,
    MissingColumnError,
    RewardKitError,
    RewardKitWarning,
    RewardOutput,
    RewardTerm,
    SpecError,
    Status,
    Term,
    action_l2,
    affine,
    as_term,
    build_reward,
    clip,
    column,
    conditional,
    constant,
    env_reward,
    gate,
    group_switch,
    load_spec,
    product,
    register,
    term,
    tiered,
    weighted_sum,
)

if TYPE_CHECKING:  # the lazy names' real types, for type checkers and IDEs
    from rewardkit.adapters.gymnasium import RewardkitWrapper
    from rewardkit.adapters.openrlhf import OpenRLHFReward
    from rewardkit.adapters.sb3 import RewardkitCallback
    from rewardkit.adapters.trl import TRLReward, split_parts
    from rewardkit.adapters.verifiers import to_rubric
    from rewardkit.adapters.verifiers_v1 import v1_reward
    from rewardkit.adapters.verl import VerlReward
    from rewardkit.audit import HackingMonitor, check_reward, default_monitors, epic_distance, probe
    from rewardkit.credit import (
        discounted_returns,
        dr_grpo_advantages,
        gdpo_advantages,
        generalized_advantage_estimation,
        group_advantages,
        grpo_advantages,
        hdpo_advantages,
        lambda_returns,
        rloo_advantages,
        tempo_advantages,
        turn_advantages,
    )
    from rewardkit.explore import CountBonus, NovelDBonus, RNDBonus
    from rewardkit.serve import RemoteReward
    from rewardkit.shaping import PotentialShaping, par_transform
    from rewardkit.steer import best_of_n, smc, value_guided
    from rewardkit.verify import (
        CosineLength,
        DapoOverlong,
        ExactMatch,
        LengthLinear,
        MathPolicy,
        MathVerifier,
        PartialCredit,
        RegexMatch,
        ThinkAnswerFormat,
        grpo_lambda,
    )
    from rewardkit.verify.code import CodeTests
    from rewardkit.verify.sandbox import Sandbox

try:
    __version__ = _version("rewardkit")
except _PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

#: name → the module it is imported from on first use
_LAZY: dict[str, str] = {
    # verifiable rewards
    "MathVerifier": "rewardkit.verify",
    "MathPolicy": "rewardkit.verify",
    "ThinkAnswerFormat": "rewardkit.verify",
    "ExactMatch": "rewardkit.verify",
    "RegexMatch": "rewardkit.verify",
    "LengthLinear": "rewardkit.verify",
    "CosineLength": "rewardkit.verify",
    "DapoOverlong": "rewardkit.verify",
    "grpo_lambda": "rewardkit.verify",
    "PartialCredit": "rewardkit.verify",
    "CodeTests": "rewardkit.verify.code",
    "Sandbox": "rewardkit.verify.sandbox",
    # credit assignment
    "grpo_advantages": "rewardkit.credit",
    "rloo_advantages": "rewardkit.credit",
    "dr_grpo_advantages": "rewardkit.credit",
    "group_advantages": "rewardkit.credit",
    "hdpo_advantages": "rewardkit.credit",
    "gdpo_advantages": "rewardkit.credit",
    "generalized_advantage_estimation": "rewardkit.credit",
    "discounted_returns": "rewardkit.credit",
    "lambda_returns": "rewardkit.credit",
    "tempo_advantages": "rewardkit.credit",
    "turn_advantages": "rewardkit.credit",
    # shaping and exploration
    "PotentialShaping": "rewardkit.shaping",
    "par_transform": "rewardkit.shaping",
    "CountBonus": "rewardkit.explore",
    "RNDBonus": "rewardkit.explore",
    "NovelDBonus": "rewardkit.explore",
    # audits
    "check_reward": "rewardkit.audit",
    "HackingMonitor": "rewardkit.audit",
    "default_monitors": "rewardkit.audit",
    "probe": "rewardkit.audit",
    "epic_distance": "rewardkit.audit",
    # steering
    "best_of_n": "rewardkit.steer",
    "smc": "rewardkit.steer",
    "value_guided": "rewardkit.steer",
    # the trainers' entry points
    "TRLReward": "rewardkit.adapters.trl",
    "split_parts": "rewardkit.adapters.trl",
    "VerlReward": "rewardkit.adapters.verl",
    "OpenRLHFReward": "rewardkit.adapters.openrlhf",
    "RewardkitWrapper": "rewardkit.adapters.gymnasium",
    "RewardkitCallback": "rewardkit.adapters.sb3",
    "to_rubric": "rewardkit.adapters.verifiers",
    "v1_reward": "rewardkit.adapters.verifiers_v1",
    # serving
    "RemoteReward": "rewardkit.serve",
}

_PACKAGES = (
    "adapters",
    "audit",
    "core",
    "credit",
    "distributed",
    "explore",
    "models",
    "serve",
    "shaping",
    "steer",
    "train",
    "verify",
)

__all__ = [
    "BatchError",
    "CodeTests",
    "CompositionError",
    "ConfigurationError",
    "CosineLength",
    "CountBonus",
    "DapoOverlong",
    "ExactMatch",
    "HackingMonitor",
    "LengthLinear",
    "MathPolicy",
    "MathVerifier",
    "MissingColumnError",
    "NovelDBonus",
    "OpenRLHFReward",
    "PartialCredit",
    "PotentialShaping",
    "RNDBonus",
    "RegexMatch",
    "RemoteReward",
    "RewardKitError",
    "RewardKitWarning",
    "RewardOutput",
    "RewardTerm",
    "RewardkitCallback",
    "RewardkitWrapper",
    "Sandbox",
    "SpecError",
    "Status",
    "TRLReward",
    "Term",
    "ThinkAnswerFormat",
    "VerlReward",
    "__version__",
    "action_l2",
    "adapters",
    "affine",
    "as_term",
    "audit",
    "best_of_n",
    "build_reward",
    "check_reward",
    "clip",
    "column",
    "conditional",
    "constant",
    "core",
    "credit",
    "default_monitors",
    "discounted_returns",
    "distributed",
    "dr_grpo_advantages",
    "env_reward",
    "epic_distance",
    "explore",
    "gate",
    "gdpo_advantages",
    "generalized_advantage_estimation",
    "group_advantages",
    "group_switch",
    "grpo_advantages",
    "grpo_lambda",
    "hdpo_advantages",
    "lambda_returns",
    "load_spec",
    "models",
    "par_transform",
    "probe",
    "product",
    "register",
    "rloo_advantages",
    "serve",
    "shaping",
    "smc",
    "split_parts",
    "steer",
    "tempo_advantages",
    "term",
    "tiered",
    "to_rubric",
    "train",
    "turn_advantages",
    "v1_reward",
    "value_guided",
    "verify",
    "weighted_sum",
]


def __getattr__(name: str) -> Any:
    """Import a lazy name's module, or a package, on first use."""
    if name in _PACKAGES:
        module = importlib.import_module(f"rewardkit.{name}")
        globals()[name] = module
        return module
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rewardkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
