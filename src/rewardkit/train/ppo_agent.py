"""PPO's networks: the actor-critic MLP (with an optional intrinsic value head) and the
MiniGrid baselines' small CNN, shared by the actor and the critic."""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError

__all__ = ["grid_cnn"]


def grid_cnn(image_shape: tuple[int, int, int]) -> tuple[Any, int]:
    """The small CNN of the MiniGrid baselines (rl-starter-files' ``ACModel``) on a flat
    observation laid out (H, W, C): three 2×2 convolutions (16, 32, 64 channels), a 2×2
    max-pool after the first, ReLUs; returns the module and its output size.

    Example:
        >>> import torch
        >>> encoder, size = grid_cnn((7, 7, 3))
        >>> size, tuple(encoder(torch.zeros(5, 147)).shape)
        (64, (5, 64))
    """
    import torch
    from torch import nn

    height, width, channels = image_shape
    if min(height, width) < 4 or channels < 1:
        raise ConfigurationError(f"the CNN needs an image of at least 4x4, got {image_shape}")

    class ChannelsFirst(nn.Module):
        def forward(self, flat: Any) -> Any:
            return flat.reshape(-1, height, width, channels).permute(0, 3, 1, 2)

    encoder = nn.Sequential(
        ChannelsFirst(),
        nn.Conv2d(channels, 16, (2, 2)), nn.ReLU(), nn.MaxPool2d((2, 2)),
        nn.Conv2d(16, 32, (2, 2)), nn.ReLU(),
        nn.Conv2d(32, 64, (2, 2)), nn.ReLU(),
        nn.Flatten(),
    )  # fmt: skip
    with torch.no_grad():
        size = int(encoder(torch.zeros(1, height * width * channels)).shape[1])
    return encoder, size


class _Agent:
    def __init__(
        self,
        obs_dim: int,
        actions: int,
        hidden: int,
        two_heads: bool,
        image_shape: tuple[int, int, int] | None = None,
    ) -> None:
        import torch
        from torch import nn

        def layer(i: int, o: int, std: float = float(np.sqrt(2))) -> Any:
            linear = nn.Linear(i, o)
            nn.init.orthogonal_(linear.weight, std)
            nn.init.constant_(linear.bias, 0.0)
            return linear

        def mlp(out: int, std: float) -> Any:
            return nn.Sequential(
                layer(obs_dim, hidden),
                nn.Tanh(),
                layer(hidden, hidden),
                nn.Tanh(),
                layer(hidden, out, std),
            )

        def heads(inputs: int, out: int, std: float) -> Any:
            return nn.Sequential(layer(inputs, hidden), nn.Tanh(), layer(hidden, out, std))

        self.encoder: Any = nn.Identity()
        if image_shape is None:
            self.actor = mlp(actions, 0.01)
            self.critic = mlp(2 if two_heads else 1, 1.0)
        else:
            self.encoder, size = grid_cnn(image_shape)
            self.actor = heads(size, actions, 0.01)
            self.critic = heads(size, 2 if two_heads else 1, 1.0)
        self.parameters = (
            list(self.encoder.parameters())
            + list(self.actor.parameters())
            + list(self.critic.parameters())
        )
        self.torch = torch

    def values(self, obs: Any) -> Any:
        return self.critic(self.encoder(obs))

    def logits(self, obs: Any) -> Any:
        return self.actor(self.encoder(obs))

    def act(self, obs: Any, action: Any = None) -> tuple[Any, Any, Any, Any]:
        features = self.encoder(obs)
        logits = self.actor(features)
        # Any, as the modules above: Categorical's methods are unannotated in torch
        dist: Any = self.torch.distributions.Categorical(logits=logits)
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.critic(features)
