"""The settings of a GRPO run, each with its help text and valid range."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rewardkit.core.settings import check_settings, setting
from rewardkit.credit.token import ESTIMATOR_NAMES

__all__ = ["GRPOConfig"]


@dataclass
class GRPOConfig:
    """Settings of a GRPO run; a value out of range raises
    :class:`~rewardkit.core.errors.ConfigurationError` naming the field.

    Example:
        >>> GRPOConfig(steps=10, group_size=4).prompts_per_step
        8
        >>> from rewardkit.core.errors import ConfigurationError
        >>> try:
        ...     GRPOConfig(log_every=0)
        ... except ConfigurationError as error:
        ...     print(error)
        GRPOConfig.log_every must be >= 1, got 0 (log every this many steps)
    """

    steps: int = setting(100, "optimizer steps", minimum=1)
    prompts_per_step: int = setting(8, "prompts sampled per step", minimum=1)
    group_size: int = setting(8, "completions per prompt (GRPO compares them)", minimum=2)
    max_new_tokens: int = setting(24, "tokens generated per completion at most", minimum=1)
    temperature: float = setting(1.0, "sampling temperature", above=0)
    learning_rate: float = setting(3e-4, "AdamW's learning rate (0 freezes the policy)", minimum=0)
    clip_epsilon: float = setting(0.2, "PPO ratio clip", above=0)
    ppo_epochs: int = setting(1, "passes over each step's samples", minimum=1)
    kl_coef: float = setting(0.0, "weight of the KL penalty to the reference model", minimum=0)
    loss_aggregation: str = setting(
        "token_mean",
        "how token losses are averaged",
        choices=("token_mean", "sequence_mean", "dr_grpo"),
    )
    estimator: str = setting(
        "grpo", "advantage estimator (rewardkit.credit.token)", choices=ESTIMATOR_NAMES
    )
    estimator_params: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "the estimator's parameters (make_estimator(name, **params))"},
    )
    max_grad_norm: float = setting(1.0, "gradient clipping norm", above=0)
    seed: int = setting(0, "seed of Python, numpy and torch")
    log_every: int = setting(1, "log every this many steps", minimum=1)

    def __post_init__(self) -> None:
        check_settings(self)
