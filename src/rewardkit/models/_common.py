"""What the learned reward models share: checks and a training-loop config (padding is
:func:`rewardkit.lm.padding.right_pad`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError, RewardKitError

__all__ = [
    "LoopTraining",
    "ModelError",
    "check_vocabulary",
    "context_length",
    "episode_features",
    "fitting_episodes",
    "minibatch_indices",
]


class ModelError(RewardKitError, ValueError):
    """A reward model that is missing, untrained, or does not match its tokenizer."""


def check_vocabulary(model: Any, tokenizer: Any) -> None:
    """Refuse a tokenizer with more tokens than the model embeds."""
    vocabulary = len(tokenizer)
    embeddings = model.get_input_embeddings().num_embeddings
    if vocabulary > embeddings:
        raise ModelError(
            f"the tokenizer has {vocabulary} tokens but the model embeds {embeddings}: "
            "they do not belong together"
        )


def context_length(model: Any, max_length: int | None) -> int:
    """``max_length``, else the model's position limit, else 512."""
    limit = getattr(model.config, "n_positions", None) or getattr(
        model.config, "max_position_embeddings", None
    )
    return int(max_length or limit or 512)


@dataclass(frozen=True)
class LoopTraining:
    """Settings of a short supervised loop (AdamW, shuffled mini-batches).

    Attributes:
        epochs: passes over the examples.
        batch_size: examples per step.
        learning_rate: AdamW learning rate.
        seed: shuffling and initialisation seed.
    """

    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 3e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if int(self.epochs) != self.epochs or int(self.batch_size) != self.batch_size:
            raise ConfigurationError(
                f"{type(self).__name__}: epochs and batch_size are whole numbers"
            )
        for name in ("epochs", "batch_size", "learning_rate"):
            value = getattr(self, name)
            if not value > 0:
                raise ConfigurationError(
                    f"{type(self).__name__}.{name} must be positive, got {value}"
                )


def minibatch_indices(rng: np.random.Generator, count: int, size: int | None) -> np.ndarray:
    """All ``count`` indices, or ``size`` of them drawn without replacement."""
    if size is None or size >= count:
        return np.arange(count)
    chosen: np.ndarray = rng.choice(count, size=size, replace=False)
    return chosen


def episode_features(features: Any, feature_dim: int) -> np.ndarray:
    """One episode's step features as float32 (T >= 1, feature_dim), finite, or a clear error."""
    array = np.asarray(features, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != feature_dim or len(array) == 0:
        raise ConfigurationError(
            f"an episode's features must have shape (T >= 1, {feature_dim}), got {array.shape}"
        )
    if not np.isfinite(array).all():
        raise ConfigurationError("an episode's features must be finite")
    return array


def fitting_episodes(
    episodes: Sequence[tuple[Any, float]], feature_dim: int, epochs: int, batch_size: int | None
) -> tuple[list[np.ndarray], np.ndarray]:
    """The checked ``(features, target)`` episodes of an ``update`` call, as a list of feature
    arrays and a vector of targets."""
    if not episodes or epochs < 1 or (batch_size is not None and batch_size < 1):
        raise ConfigurationError("update needs at least one episode, epoch and batch row")
    features = [episode_features(f, feature_dim) for f, _ in episodes]
    targets = np.array([float(g) for _, g in episodes])
    if not np.isfinite(targets).all():
        raise ConfigurationError("episode targets must be finite")
    return features, targets
