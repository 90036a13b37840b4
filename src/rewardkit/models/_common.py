"""What the learned reward models share: checks, and a short training loop with its config
(padding is :func:`rewardkit.lm.padding.right_pad`)."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError, RewardKitError

__all__ = [
    "EpisodeRegressor",
    "LoopTraining",
    "ModelError",
    "check_vocabulary",
    "context_length",
    "episode_features",
    "fitting_episodes",
    "minibatch_indices",
    "train_minibatches",
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


def train_minibatches(
    parameters: Sequence[Any],
    count: int,
    training: LoopTraining,
    batch_loss: Callable[[list[int]], Any],
    decay_and_clip: bool = False,
) -> list[float]:
    """Train ``parameters`` with AdamW for ``training.epochs`` passes over ``count``
    examples, in mini-batches of ``training.batch_size`` shuffled anew each pass (torch and the
    shuffle seeded with ``training.seed``); ``batch_loss(indices)`` is a batch's loss. With
    ``decay_and_clip`` the learning rate decays linearly to 0 and the gradient norm is
    clipped at 1, as TRL's trainers do. Returns every step's loss.

    Example:
        >>> import torch
        >>> w = torch.zeros(1, requires_grad=True)
        >>> settings = LoopTraining(epochs=100, batch_size=2, learning_rate=0.1)
        >>> losses = train_minibatches([w], 4, settings, lambda rows: ((w - 1.0) ** 2).sum())
        >>> len(losses), round(float(w.detach()), 1)
        (200, 1.0)
    """
    import torch

    torch.manual_seed(training.seed)
    optimizer = torch.optim.AdamW(parameters, lr=training.learning_rate)
    steps = int(training.epochs) * -(-count // training.batch_size)
    schedule = (
        torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
        if decay_and_clip
        else None
    )
    order, shuffle, losses = list(range(count)), random.Random(training.seed), []
    for _ in range(int(training.epochs)):
        shuffle.shuffle(order)
        for begin in range(0, count, training.batch_size):
            loss = batch_loss(order[begin : begin + training.batch_size])
            optimizer.zero_grad()
            loss.backward()
            if schedule is not None:
                torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            if schedule is not None:
                schedule.step()
            losses.append(float(loss.detach()))
    return losses


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


class EpisodeRegressor(ABC):
    """A torch model over episodes' per-step features, fit so that each episode matches its
    target (a return, an outcome). :meth:`update` is the loop; a subclass builds its modules
    and ``optimizer`` after ``super().__init__`` (which seeds torch) and states its
    :meth:`_loss`.

    Example:
        >>> class Mean(EpisodeRegressor):  # the mean of an episode's features, times w
        ...     def __init__(self):
        ...         import torch
        ...         super().__init__(feature_dim=1, seed=0)
        ...         self.w = torch.zeros(1, requires_grad=True)
        ...         self.optimizer = torch.optim.SGD([self.w], lr=0.5)
        ...     def _loss(self, episodes, targets):
        ...         import torch
        ...         means = torch.tensor([float(e.mean()) for e in episodes])
        ...         return ((self.w * means - torch.tensor(targets)) ** 2).mean()
        >>> model = Mean()
        >>> loss = model.update([(np.ones((3, 1)), 2.0)], epochs=20)
        >>> round(float(model.w.detach()), 3)
        2.0
    """

    optimizer: Any

    def __init__(self, feature_dim: int, seed: int) -> None:
        import torch

        torch.manual_seed(seed)
        self.feature_dim = feature_dim
        self.rng = np.random.default_rng(seed)

    def _check(self, features: Any) -> np.ndarray:
        return episode_features(features, self.feature_dim)

    @abstractmethod
    def _loss(self, episodes: list[np.ndarray], targets: np.ndarray) -> Any:
        """The loss (a torch scalar) of these episodes' features against their targets."""

    def update(
        self, episodes: Sequence[tuple[Any, float]], epochs: int = 1, batch_size: int | None = None
    ) -> float:
        """Fit to finished ``(features, target)`` episodes: ``epochs`` optimizer steps, each on
        all of them or on ``batch_size`` of them drawn at random; the last step's loss."""
        import torch

        features, targets = fitting_episodes(episodes, self.feature_dim, epochs, batch_size)
        loss: Any = torch.tensor(0.0)
        for _ in range(epochs):
            chosen = minibatch_indices(self.rng, len(features), batch_size)
            loss = self._loss([features[i] for i in chosen], targets[chosen])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        return float(loss.detach())
