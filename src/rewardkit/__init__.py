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

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version
from typing import TYPE_CHECKING

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
    fallback,
    gate,
    group_switch,
    load_spec,
    product,
    register,
    term,
    tiered,
    weighted_sum,
)
from rewardkit.core.lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names' real types, for type checkers and IDEs
    from rewardkit.adapters.gymnasium import RewardkitWrapper
    from rewardkit.adapters.openrlhf import OpenRLHFReward
    from rewardkit.adapters.sb3 import RewardkitCallback
    from rewardkit.adapters.trl import TRLReward, split_parts
    from rewardkit.adapters.verifiers import to_rubric
    from rewardkit.adapters.verifiers_v1 import v1_reward
    from rewardkit.adapters.verl import VerlReward
    from rewardkit.audit import (
        HackingMonitor,
        check_reward,
        default_monitors,
        epic_distance,
        pass_at_k,
        probe,
    )
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
    from rewardkit.judge import JudgeSettings, ReferenceJudge, RubricJudge
    from rewardkit.serve import RemoteReward
    from rewardkit.shaping import PotentialShaping, par_transform
    from rewardkit.signals import LikelihoodReward
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

#: name → the module (under rewardkit) it is imported from on first use
_LAZY: dict[str, str] = {
    # verifiable rewards
    "MathVerifier": "verify",
    "MathPolicy": "verify",
    "ThinkAnswerFormat": "verify",
    "ExactMatch": "verify",
    "RegexMatch": "verify",
    "LengthLinear": "verify",
    "CosineLength": "verify",
    "DapoOverlong": "verify",
    "grpo_lambda": "verify",
    "PartialCredit": "verify",
    "CodeTests": "verify.code",
    "Sandbox": "verify.sandbox",
    # credit assignment
    "grpo_advantages": "credit",
    "rloo_advantages": "credit",
    "dr_grpo_advantages": "credit",
    "group_advantages": "credit",
    "hdpo_advantages": "credit",
    "gdpo_advantages": "credit",
    "generalized_advantage_estimation": "credit",
    "discounted_returns": "credit",
    "lambda_returns": "credit",
    "tempo_advantages": "credit",
    "turn_advantages": "credit",
    # shaping and exploration
    "PotentialShaping": "shaping",
    "par_transform": "shaping",
    "CountBonus": "explore",
    "RNDBonus": "explore",
    "NovelDBonus": "explore",
    # audits
    "check_reward": "audit",
    "HackingMonitor": "audit",
    "default_monitors": "audit",
    "probe": "audit",
    "epic_distance": "audit",
    "pass_at_k": "audit",
    # rewards from the policy's own signals
    "LikelihoodReward": "signals",
    # steering
    "best_of_n": "steer",
    "smc": "steer",
    "value_guided": "steer",
    # the trainers' entry points
    "TRLReward": "adapters.trl",
    "split_parts": "adapters.trl",
    "VerlReward": "adapters.verl",
    "OpenRLHFReward": "adapters.openrlhf",
    "RewardkitWrapper": "adapters.gymnasium",
    "RewardkitCallback": "adapters.sb3",
    "to_rubric": "adapters.verifiers",
    "v1_reward": "adapters.verifiers_v1",
    # serving
    "RemoteReward": "serve",
    # model-graded rewards
    "JudgeSettings": "judge",
    "ReferenceJudge": "judge",
    "RubricJudge": "judge",
}

_PACKAGES = (
    "adapters",
    "audit",
    "author",
    "core",
    "credit",
    "distributed",
    "explore",
    "judge",
    "models",
    "serve",
    "shaping",
    "signals",
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
    "JudgeSettings",
    "LengthLinear",
    "LikelihoodReward",
    "MathPolicy",
    "MathVerifier",
    "MissingColumnError",
    "NovelDBonus",
    "OpenRLHFReward",
    "PartialCredit",
    "PotentialShaping",
    "RNDBonus",
    "ReferenceJudge",
    "RegexMatch",
    "RemoteReward",
    "RewardKitError",
    "RewardKitWarning",
    "RewardOutput",
    "RewardTerm",
    "RewardkitCallback",
    "RewardkitWrapper",
    "RubricJudge",
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
    "author",
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
    "fallback",
    "gate",
    "gdpo_advantages",
    "generalized_advantage_estimation",
    "group_advantages",
    "group_switch",
    "grpo_advantages",
    "grpo_lambda",
    "hdpo_advantages",
    "judge",
    "lambda_returns",
    "load_spec",
    "models",
    "par_transform",
    "pass_at_k",
    "probe",
    "product",
    "register",
    "rloo_advantages",
    "serve",
    "shaping",
    "signals",
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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, _PACKAGES, prefix="rewardkit.")
