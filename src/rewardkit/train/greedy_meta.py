"""Exploitation-only meta-RL: a recurrent policy trained on reward alone, which may still
explore (in the style of "Exploitation Is All You Need... for Exploration", Rentschler
& Roberts 2025).

The paper's claim: with no bonus, no randomization and no intrinsic reward, an agent
trained only to exploit explores when (1) the task recurs, (2) the agent has memory and
(3) credit reaches far enough; without (1) or (2) the exploration vanishes, without (3)
it often survives. Each condition is a knob here:

1. recurring structure: the task's own (``RecurringBandit(block=...)`` in
   :mod:`rewardkit.envs.bandit`; any task with ``arms``, ``pulls``, ``reset(trials,
   rng)`` and ``pull(actions)`` will do);
2. memory: ``memory=True`` feeds a GRU the previous arm and reward and carries its state
   through the trial; ``memory=False`` gives it only the pull index and resets its state
   every pull, so the policy is a fixed schedule of arms, blind to outcomes;
3. long-horizon credit: the return credited to pull t is

       G_t = Σ_{k ≥ 0} γ^k r_{t+k}   (to the end of the trial),

   and ``discount`` γ = 0 credits each pull with its own reward only.

The update is REINFORCE with a per-pull baseline over a batch of B trials of T pulls:

    L(θ) = −(1 / BT) Σ_{i,t} (G_{i,t} − (1/B) Σ_j G_{j,t}) log π_θ(a_{i,t} | h_{i,t})

with no entropy term. :meth:`GreedyMetaLearner.evaluate` acts greedily (argmax), so any
exploration it measures comes from the memory, not from sampling.

Ours, not the paper's: the paper fine-tunes Llama 3.2 3B as a transformer Q-function
with DQN and no ε; here a GRU policy is trained by a policy gradient, which samples its
actions from the softmax while training (evaluation does not).

Example (``rewardkit.envs.bandit.RecurringBandit`` is the task with the structure knob;
any object with the same four members will do):
    >>> class SureArm:  # two arms; arm 1 always pays
    ...     arms, pulls = 2, 4
    ...     def reset(self, trials, rng):
    ...         self.means = np.tile([0.0, 1.0], (trials, 1))
    ...     def pull(self, actions):
    ...         return self.means[np.arange(len(actions)), actions]
    >>> learner = GreedyMetaLearner(SureArm(), GreedyMetaConfig(updates=30, learning_rate=0.05))
    >>> len(learner.train()), learner.evaluate(trials=64)["reward"]
    (30, 1.0)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from rewardkit.core.errors import ConfigurationError

__all__ = ["BanditTask", "GreedyMetaConfig", "GreedyMetaLearner", "discounted_to_go"]


class BanditTask(Protocol):
    """A batch of trials of ``pulls`` pulls over ``arms`` arms (see RecurringBandit)."""

    arms: int
    pulls: int
    means: np.ndarray

    def reset(self, trials: int, rng: np.random.Generator) -> None: ...

    def pull(self, actions: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class GreedyMetaConfig:
    """Settings of :class:`GreedyMetaLearner`.

    Args:
        memory: the GRU sees the history and keeps its state (condition 2).
        discount: γ of the credited return (condition 3); 0 is one pull's reward.
        hidden: GRU width.
        trials: trials per update (B).
        updates: policy-gradient updates.
        learning_rate: Adam's step size.
        seed: seeds the network and the tasks.
    """

    memory: bool = True
    discount: float = 0.9
    hidden: int = 32
    trials: int = 256
    updates: int = 300
    learning_rate: float = 3e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.discount <= 1.0:
            raise ConfigurationError(f"discount must be in [0, 1], got {self.discount}")
        for name in ("hidden", "trials", "updates"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ConfigurationError(f"learning_rate must be > 0, got {self.learning_rate}")


def discounted_to_go(rewards: np.ndarray, discount: float) -> np.ndarray:
    """G_t = Σ_{k ≥ 0} γ^k r_{t+k} along the last axis (to the end of the trial).

    Example:
        >>> discounted_to_go(np.array([[1.0, 0.0, 1.0]]), 0.5)
        array([[1.25, 0.5 , 1.  ]])
    """
    returns = np.zeros_like(rewards, dtype=np.float64)
    running = np.zeros(rewards.shape[:-1])
    for t in range(rewards.shape[-1] - 1, -1, -1):
        running = rewards[..., t] + discount * running
        returns[..., t] = running
    return returns


class GreedyMetaLearner:
    """Trains a GRU bandit policy on reward alone and measures its greedy behaviour."""

    def __init__(
        self,
        task: BanditTask,
        config: GreedyMetaConfig | None = None,
        progress: Callable[[dict[str, float]], None] | None = None,
    ) -> None:
        import torch
        from torch import nn

        self.task, self.config, self.progress = task, config or GreedyMetaConfig(), progress
        torch.manual_seed(self.config.seed)
        self._inputs = task.arms + 1 + task.pulls  # previous arm, previous reward, pull index
        self.cell = nn.GRUCell(self._inputs, self.config.hidden)
        self.head = nn.Linear(self.config.hidden, task.arms)
        self.optimizer = torch.optim.Adam(
            [*self.cell.parameters(), *self.head.parameters()], lr=self.config.learning_rate
        )
        self.rng = np.random.default_rng(self.config.seed)
        self.torch = torch

    def _input(self, t: int, previous: np.ndarray | None, reward: np.ndarray | None) -> Any:
        torch = self.torch
        trials = len(self.task.means)
        x = torch.zeros(trials, self._inputs)
        x[:, self.task.arms + 1 + t] = 1.0
        if self.config.memory and previous is not None and reward is not None:
            x[torch.arange(trials), torch.as_tensor(previous)] = 1.0
            x[:, self.task.arms] = torch.as_tensor(reward, dtype=torch.float32)
        return x

    def _rollout(
        self, trials: int, greedy: bool, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, Any]:
        """(actions, rewards, log-probabilities of the actions) of ``trials`` trials."""
        torch = self.torch
        self.task.reset(trials, rng)
        state = torch.zeros(trials, self.config.hidden)
        actions, rewards, logps = [], [], []
        previous: np.ndarray | None = None
        reward: np.ndarray | None = None
        for t in range(self.task.pulls):
            if not self.config.memory:
                state = torch.zeros_like(state)
            state = self.cell(self._input(t, previous, reward), state)
            log_probs = torch.log_softmax(self.head(state), dim=-1)
            if greedy:
                chosen = log_probs.argmax(-1)
            else:
                chosen = torch.multinomial(log_probs.detach().exp(), 1)[:, 0]
            logps.append(log_probs.gather(1, chosen[:, None])[:, 0])
            previous = chosen.numpy()
            reward = self.task.pull(previous)
            actions.append(previous)
            rewards.append(reward)
        return np.stack(actions, 1), np.stack(rewards, 1), torch.stack(logps, 1)

    def train(self) -> list[dict[str, float]]:
        """Run ``config.updates`` updates; one log record (mean reward a pull, loss) each."""
        torch = self.torch
        history: list[dict[str, float]] = []
        for update in range(self.config.updates):
            _, rewards, logps = self._rollout(self.config.trials, False, self.rng)
            returns = discounted_to_go(rewards, self.config.discount)
            advantages = torch.as_tensor(returns - returns.mean(0), dtype=torch.float32)
            loss = -(advantages * logps).mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            record = {"update": float(update), "reward": float(rewards.mean()),
                      "loss": float(loss.detach())}  # fmt: skip
            history.append(record)
            if self.progress is not None:
                self.progress(record)
        return history

    def evaluate(self, trials: int = 4096, seed: int = 10_000) -> dict[str, float]:
        """The greedy policy on fresh trials: mean reward a pull, the mean number of
        distinct arms it tries in a trial, and how often its last pull is the best arm
        of the last block. The tasks are drawn from their own generator (``seed``), so
        evaluating neither depends on nor disturbs training."""
        if trials < 1:
            raise ConfigurationError(f"trials must be >= 1, got {trials}")
        with self.torch.no_grad():
            actions, rewards, _ = self._rollout(trials, True, np.random.default_rng(seed))
        tried = np.mean([len(np.unique(row)) for row in actions])
        best = self.task.means.argmax(1)  # the last block's means
        return {"reward": float(rewards.mean()), "arms_tried": float(tried),
                "best_arm_late": float(np.mean(actions[:, -1] == best))}  # fmt: skip
