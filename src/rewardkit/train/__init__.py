"""Reference trainers: PPO for control, GRPO for language models, multi-turn
episodes, a (mu, lambda) evolution search and supervised warm starts.

They take an environment or task factory and know no benchmark. Each name is
imported on first use (the trainers need torch; ``import rewardkit.train``
does not).

Example:
    >>> from rewardkit.train import PPOConfig
    >>> PPOConfig(env_id="CartPole-v1", total_frames=2048).num_envs
    8
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rewardkit.core.lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names' real types, for type checkers and IDEs
    from rewardkit.train.brain import (
        BRAInStyleEstimator,
        brain_style_loss,
        brain_style_targets,
        snis_weights,
    )
    from rewardkit.train.evolution import EvolutionConfig, evolve
    from rewardkit.train.grpo import GRPOConfig, GRPOTrainer
    from rewardkit.train.implicit_prm import ImplicitPRMStepRewards
    from rewardkit.train.multiturn import (
        Episodes,
        InformationGainTurns,
        ProgressTurns,
        TextEnvironment,
        TurnRewards,
        answer_probabilities,
        evaluate_episodes,
        sample_episodes,
        transcript,
    )
    from rewardkit.train.policy_signals import PolicySignals
    from rewardkit.train.ppo import EnvFactory, PPOConfig, PPOTrainer, grid_cnn, make_env
    from rewardkit.train.sft import SequenceBatch, fit_sequences

#: name → the module (under rewardkit.train) it lives in
_LAZY: dict[str, str] = {
    "EnvFactory": "ppo",
    "Episodes": "multiturn",
    "EvolutionConfig": "evolution",
    "GRPOConfig": "grpo",
    "GRPOTrainer": "grpo",
    "ImplicitPRMStepRewards": "implicit_prm",
    "InformationGainTurns": "multiturn",
    "PPOConfig": "ppo",
    "PPOTrainer": "ppo",
    "PolicySignals": "policy_signals",
    "ProgressTurns": "multiturn",
    "SequenceBatch": "sft",
    "TextEnvironment": "multiturn",
    "TurnRewards": "multiturn",
    "answer_probabilities": "multiturn",
    "BRAInStyleEstimator": "brain",
    "brain_style_loss": "brain",
    "brain_style_targets": "brain",
    "evaluate_episodes": "multiturn",
    "evolve": "evolution",
    "fit_sequences": "sft",
    "grid_cnn": "ppo",
    "make_env": "ppo",
    "sample_episodes": "multiturn",
    "snis_weights": "brain",
    "transcript": "multiturn",
}

__all__ = [
    "BRAInStyleEstimator",
    "EnvFactory",
    "Episodes",
    "EvolutionConfig",
    "GRPOConfig",
    "GRPOTrainer",
    "ImplicitPRMStepRewards",
    "InformationGainTurns",
    "PPOConfig",
    "PPOTrainer",
    "PolicySignals",
    "ProgressTurns",
    "SequenceBatch",
    "TextEnvironment",
    "TurnRewards",
    "answer_probabilities",
    "brain_style_loss",
    "brain_style_targets",
    "evaluate_episodes",
    "evolve",
    "fit_sequences",
    "grid_cnn",
    "make_env",
    "sample_episodes",
    "snis_weights",
    "transcript",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, prefix=f"{__name__}.")
