"""PPO's networks: the actor-critic MLP (with an optional intrinsic value head) and the
MiniGrid baselines' small CNN, shared by the actor and the critic.

Rollouts call the policy once a step on a handful of observations, where torch's
per-operation overhead, not arithmetic, is the cost. :meth:`_Agent.step` therefore runs
an MLP's forward pass in numpy, on views of the parameters' own memory (the optimizer
updates them in place; a parameter whose storage is replaced, by ``.to(dtype)`` say, is
noticed and the views rebuilt), and draws actions as ``Categorical`` draws them, from
torch's generator; the CNN runs in torch under ``inference_mode``.
:meth:`_Agent.evaluate` is the training pass, log-softmax instead of a
``Categorical`` per minibatch.
"""

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


def _numpy_layers(module: Any) -> list[tuple[str, Any, Any]] | None:
    """A ``Sequential`` of Linear/Tanh/ReLU layers as (kind, weight view, bias view), or None.

    The views share the parameters' memory: an in-place optimizer step shows through.
    """
    from torch import nn

    layers: list[tuple[str, Any, Any]] = []
    for layer in module:
        if isinstance(layer, nn.Linear) and layer.bias is not None:
            weight = layer.weight.detach().numpy()
            layers.append(("linear", weight.T, layer.bias.detach().numpy()))
        elif isinstance(layer, nn.Tanh):
            layers.append(("tanh", None, None))
        elif isinstance(layer, nn.ReLU):
            layers.append(("relu", None, None))
        else:
            return None
    return layers


def _numpy_forward(layers: list[tuple[str, Any, Any]], x: np.ndarray) -> np.ndarray:
    for kind, weight, bias in layers:
        if kind == "linear":
            x = x @ weight + bias
        elif kind == "tanh":
            x = np.tanh(x)
        else:
            x = np.maximum(x, 0.0)
    return x


def _sample_logits(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(actions, their log-probabilities) sampled from rows of ``logits``.

    The draw is ``torch.multinomial`` on the softmax, from torch's global generator, as
    ``Categorical(logits=...).sample()`` draws it, at a fraction of its cost: the same
    distribution and the same random stream. Seeded runs start out identical to the
    ``Categorical`` trainer's; the numpy forward pass and the fused optimizer round in
    the last bits differently, so long runs drift apart like runs on another machine.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> actions, logp = _sample_logits(np.array([[0.0, -1e9], [-1e9, 0.0]], np.float32))
        >>> actions.tolist(), logp.round(6).tolist()
        ([0, 1], [0.0, 0.0])
    """
    import torch

    z = torch.from_numpy(np.ascontiguousarray(logits, dtype=np.float32))
    log_probs = torch.log_softmax(z, dim=-1)
    actions = torch.multinomial(log_probs.exp(), 1, True)[:, 0]
    return actions.numpy(), log_probs.gather(1, actions[:, None])[:, 0].numpy()


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

        self._shape = (obs_dim, actions, hidden, two_heads, image_shape)

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
        self._mlp = image_shape is None
        self._views()

    def _views(self) -> None:
        """(Re)build the numpy views of the MLP's parameters, noting their storage."""
        self._actor_np = _numpy_layers(self.actor) if self._mlp else None
        self._critic_np = _numpy_layers(self.critic) if self._mlp else None
        self._storage = [p.data_ptr() for p in self.parameters]

    def _fresh_views(self) -> None:
        if [p.data_ptr() for p in self.parameters] != self._storage:
            self._views()

    def fresh_networks(self) -> tuple[Any, Any, Any]:
        """Newly initialized (encoder, actor, critic), drawn as this agent's were
        (orthogonal weights, zero biases, the heads' own gains): what shrink-and-perturb
        moves toward."""
        fresh = _Agent(*self._shape)
        return fresh.encoder, fresh.actor, fresh.critic

    def step(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(actions, log-probabilities, values) for a rollout step, sampled, no gradients."""
        self._fresh_views()
        if self._actor_np is not None and self._critic_np is not None:
            x = np.asarray(obs, dtype=np.float32)
            logits = _numpy_forward(self._actor_np, x)
            values = _numpy_forward(self._critic_np, x)
        else:
            with self.torch.inference_mode():
                features = self.encoder(self.torch.as_tensor(obs, dtype=self.torch.float32))
                logits = self.actor(features).numpy()
                values = self.critic(features).numpy()
        actions, logp = _sample_logits(logits)
        return actions, logp, values

    def step_values(self, obs: np.ndarray) -> np.ndarray:
        """Values of ``obs``, no gradients."""
        self._fresh_views()
        if self._critic_np is not None:
            return _numpy_forward(self._critic_np, np.asarray(obs, dtype=np.float32))
        with self.torch.inference_mode():
            obs_t = self.torch.as_tensor(obs, dtype=self.torch.float32)
            values: np.ndarray = self.critic(self.encoder(obs_t)).numpy()
        return values

    def evaluate(self, obs: Any, actions: Any) -> tuple[Any, Any, Any]:
        """(log π(a|s), entropy, values) with gradients, for the PPO update."""
        features = self.encoder(obs)
        log_probs = self.torch.log_softmax(self.actor(features), dim=-1)
        logp = log_probs.gather(1, actions[:, None])[:, 0]
        entropy = -(log_probs.exp() * log_probs).sum(-1)
        return logp, entropy, self.critic(features)

    def values(self, obs: Any) -> Any:
        return self.critic(self.encoder(obs))

    def logits(self, obs: Any) -> Any:
        return self.actor(self.encoder(obs))
