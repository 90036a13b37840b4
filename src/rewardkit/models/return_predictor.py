"""A return predictor for RUDDER: an LSTM that reads an episode step by step and predicts,
after every prefix, the episode's return.

RUDDER (Arjona-Medina et al. 2019) redistributes a delayed reward with the
differences of such predictions (see
:func:`rewardkit.credit.redistribution.rudder_redistribution`). The model is
trained on finished episodes with the squared error of the prediction at
*every* step against the episode's return,

    L(θ) = mean_episodes mean_t (g_θ(x_0..x_t) − G)²,

(RUDDER's main loss is the last step's; the all-step loss is its auxiliary
"continuous prediction" loss, which is what makes the differences meaningful).
Per-step features x_t are the caller's: observation and action, concatenated.

Example:
    >>> predictor = ReturnPredictor(feature_dim=2, seed=0)
    >>> episodes = [(np.array([[1.0, 0.0], [0.0, 1.0]]), 1.0)] * 8
    >>> loss = predictor.update(episodes, epochs=50)
    >>> predictor.predict(episodes[0][0]).shape
    (2,)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.models._common import EpisodeRegressor

__all__ = ["ReturnPredictor"]


class ReturnPredictor(EpisodeRegressor):
    """g_θ(x_0..x_t): an LSTM over per-step features and a linear read-out (see the module docs).

    Args:
        feature_dim: the size of each step's feature vector.
        hidden: the LSTM's width.
        learning_rate: Adam's step size.
        seed: initialisation seed.
    """

    def __init__(
        self, feature_dim: int, hidden: int = 32, learning_rate: float = 1e-2, seed: int = 0
    ) -> None:
        import torch

        if feature_dim < 1 or hidden < 1:
            raise ConfigurationError("feature_dim and hidden must be at least 1")
        super().__init__(feature_dim, seed)
        self.lstm = torch.nn.LSTM(feature_dim, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, 1)
        parameters = [*self.lstm.parameters(), *self.head.parameters()]
        self.optimizer = torch.optim.Adam(parameters, lr=learning_rate)

    def _forward(self, episodes: Sequence[np.ndarray]) -> tuple[Any, Any]:
        import torch

        lengths = [len(e) for e in episodes]
        padded = np.zeros((len(episodes), max(lengths), self.feature_dim), dtype=np.float32)
        mask = np.zeros((len(episodes), max(lengths)), dtype=np.float32)
        for row, episode in enumerate(episodes):
            padded[row, : len(episode)] = episode
            mask[row, : len(episode)] = 1.0
        hidden, _ = self.lstm(torch.from_numpy(padded))
        return self.head(hidden).squeeze(-1), torch.from_numpy(mask)

    def predict(self, features: Any) -> np.ndarray:
        """g_t for every prefix of one episode's features, shape (T,)."""
        import torch

        episode = self._check(features)
        with torch.no_grad():
            predictions, _ = self._forward([episode])
        result: np.ndarray = predictions[0].double().numpy()
        return result

    def _loss(self, episodes: list[np.ndarray], targets: np.ndarray) -> Any:
        """(g_t − G)² over every step t of every episode, averaged per episode, then over them."""
        import torch

        predictions, mask = self._forward(episodes)
        target = torch.from_numpy(targets.astype(np.float32))[:, None]
        squared = (predictions - target) ** 2 * mask
        return (squared.sum(dim=1) / mask.sum(dim=1)).mean()
