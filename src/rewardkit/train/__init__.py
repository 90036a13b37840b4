"""Reference trainers: PPO for control, GRPO for language models, multi-turn
episodes, a (mu, lambda) evolution search, supervised warm starts, a BARFI-style
bi-level learner of heuristic-reward blends, and an exploitation-only meta-RL learner.

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
    from rewardkit.train.barfi import (
        BARFIConfig,
        BARFITrainer,
        SoftmaxPolicy,
        Trajectories,
        barfi_hypergradient,
        collect_episodes,
        differentiable_returns,
        mlp_policy,
        pg_surrogate,
        tabular_policy,
    )
    from rewardkit.train.brain import (
        BRAInStyleEstimator,
        brain_style_loss,
        brain_style_targets,
        snis_weights,
    )
    from rewardkit.train.drm import DormantPerturbation
    from rewardkit.train.evolution import EvolutionConfig, evolve
    from rewardkit.train.greedy_meta import (
        BanditTask,
        GreedyMetaConfig,
        GreedyMetaLearner,
        discounted_to_go,
    )
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
    "DormantPerturbation": "drm",
    "BanditTask": "greedy_meta",
    "GreedyMetaConfig": "greedy_meta",
    "GreedyMetaLearner": "greedy_meta",
    "discounted_to_go": "greedy_meta",
    "BARFIConfig": "barfi",
    "BARFITrainer": "barfi",
    "SoftmaxPolicy": "barfi",
    "Trajectories": "barfi",
    "barfi_hypergradient": "barfi",
    "collect_episodes": "barfi",
    "differentiable_returns": "barfi",
    "mlp_policy": "barfi",
    "pg_surrogate": "barfi",
    "tabular_policy": "barfi",
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
    "BARFIConfig",
    "BARFITrainer",
    "BRAInStyleEstimator",
    "BanditTask",
    "DormantPerturbation",
    "EnvFactory",
    "Episodes",
    "EvolutionConfig",
    "GRPOConfig",
    "GRPOTrainer",
    "GreedyMetaConfig",
    "GreedyMetaLearner",
    "ImplicitPRMStepRewards",
    "InformationGainTurns",
    "PPOConfig",
    "PPOTrainer",
    "PolicySignals",
    "ProgressTurns",
    "SequenceBatch",
    "SoftmaxPolicy",
    "TextEnvironment",
    "Trajectories",
    "TurnRewards",
    "answer_probabilities",
    "barfi_hypergradient",
    "brain_style_loss",
    "brain_style_targets",
    "collect_episodes",
    "differentiable_returns",
    "discounted_to_go",
    "evaluate_episodes",
    "evolve",
    "fit_sequences",
    "grid_cnn",
    "make_env",
    "mlp_policy",
    "pg_surrogate",
    "sample_episodes",
    "snis_weights",
    "tabular_policy",
    "transcript",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, prefix=f"{__name__}.")
