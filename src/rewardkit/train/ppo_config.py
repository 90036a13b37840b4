"""The settings of a PPO run, each with its help text and valid range."""

from __future__ import annotations

from dataclasses import dataclass

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.settings import check_settings, setting

__all__ = ["PPOConfig"]


@dataclass
class PPOConfig:
    """PPO settings (CleanRL defaults for discrete control, scaled to CPU); a value
    out of range raises :class:`~rewardkit.core.errors.ConfigurationError`.

    ``env_id`` names the environment of the default factory
    (:func:`rewardkit.train.ppo.make_env`); a trainer given its own ``env_fn``
    keeps it only as a label.

    Example:
        >>> PPOConfig(num_envs=4, num_steps=64, minibatches=4).num_envs * 64 // 4
        64
        >>> from rewardkit.core.errors import ConfigurationError
        >>> try:
        ...     PPOConfig(minibatches=0)
        ... except ConfigurationError as error:
        ...     print(error)
        PPOConfig.minibatches must be >= 1, got 0 (minibatches per epoch)
    """

    env_id: str = setting("CartPole-v1", "Gymnasium id of the default environment factory")
    num_envs: int = setting(8, "parallel environments", minimum=1)
    num_steps: int = setting(128, "steps per environment per rollout", minimum=1)
    total_frames: int = setting(100_000, "environment steps in all", minimum=1)
    learning_rate: float = setting(2.5e-4, "Adam's learning rate (0 freezes the policy)", minimum=0)
    anneal_lr: bool = setting(True, "decay the learning rate linearly to 0")
    gamma: float = setting(0.99, "discount of the task reward", minimum=0, maximum=1)
    gae_lambda: float = setting(0.95, "GAE's lambda", minimum=0, maximum=1)
    intrinsic_gamma: float = setting(
        0.99, "discount of the intrinsic reward (its own value head)", minimum=0, maximum=1
    )
    intrinsic_coef: float = setting(1.0, "weight of the intrinsic advantage", minimum=0)
    update_epochs: int = setting(4, "passes over each rollout", minimum=1)
    minibatches: int = setting(4, "minibatches per epoch", minimum=1)
    clip_coef: float = setting(0.2, "PPO ratio clip", above=0)
    ent_coef: float = setting(0.01, "entropy bonus weight", minimum=0)
    vf_coef: float = setting(0.5, "value loss weight", minimum=0)
    max_grad_norm: float = setting(0.5, "gradient clipping norm", above=0)
    hidden: int = setting(64, "hidden units per layer", minimum=1)
    seed: int = setting(0, "seed of the environments and torch")
    network: str = setting(
        "mlp",
        "'mlp': two tanh layers on the flat observation; 'cnn': the MiniGrid baselines' "
        "small CNN on the observation reshaped to image_shape (H, W, C)",
        choices=("mlp", "cnn"),
    )
    image_shape: tuple[int, int, int] = setting((7, 7, 3), "(H, W, C) of the 'cnn' input")
    normalize_intrinsic: bool = setting(
        True,
        "divide the bonus by the running std of its discounted intrinsic return (RND's "
        "normalization): any beta cancels, one default fits every bonus",
    )
    intrinsic_episodic: bool = setting(
        False,
        "end the intrinsic return where the task's episode ends (default: RND's "
        "non-episodic stream, which runs on across episode ends)",
    )
    intrinsic_decay: bool = setting(
        False,
        "multiply the intrinsic weight by 1 - the success rate of the last 100 episodes",
    )

    def __post_init__(self) -> None:
        check_settings(self)
        if (self.num_envs * self.num_steps) % self.minibatches:
            raise ConfigurationError(
                f"PPOConfig: num_envs * num_steps ({self.num_envs * self.num_steps}) must be "
                f"divisible by minibatches ({self.minibatches})"
            )
