"""Exploitation-only meta-RL on a 3-arm bandit: does exploration emerge without a bonus?

"Exploitation Is All You Need... for Exploration" (Rentschler & Roberts 2025) trains an
agent only to exploit and finds that it explores when the task recurs and the agent has
memory; removing either removes the exploration, removing long-horizon credit often
does not. Their agent is a transformer Q-function (Llama 3.2 3B, DQN) on a 3-arm
bandit: full agent 0.704 mean reward against Thompson sampling's 0.614.

Here (:class:`~rewardkit.train.greedy_meta.GreedyMetaLearner`): a GRU policy, REINFORCE
on reward alone (no entropy term, no bonus), evaluated greedily (argmax) on 4,096 fresh
trials of :class:`~rewardkit.envs.bandit.RecurringBandit` (3 Bernoulli arms, means
U(0, 1), 20 pulls a trial). Designs:

- ``full``: one task a trial (structure), GRU memory, γ = 0.9 across pulls;
- ``no_structure``: a new task at every pull (block 1);
- ``no_memory``: the GRU sees only the pull index and forgets every pull;
- ``no_long_credit``: γ = 0, each pull credited with its own reward;
- ``thompson``: the peer, Beta(1, 1) Thompson sampling on the full task (no training).

A history-blind policy, or any policy with a new task every pull, cannot expect more
than 0.5 a pull; E[max of 3 U(0, 1)] = 0.75 bounds every policy.

Run: ``python -m rewardkit_bench.control_meta [--quick] [--seed 0]``
(full: 600 updates of 256 trials per design; quick: 100).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["DESIGNS", "run_meta", "thompson_sampling"]

DESIGNS = ("full", "no_structure", "no_memory", "no_long_credit", "thompson")
ARMS, PULLS, EVAL_TRIALS = 3, 20, 4096
UPDATES, QUICK_UPDATES = 600, 100
#: every design is evaluated on the same 4,096 tasks
EVAL_SEED = 10_000


def thompson_sampling(
    bandit: Any, trials: int, tasks: np.random.Generator, draws: np.random.Generator
) -> dict[str, float]:
    """Beta(1, 1)-Bernoulli Thompson sampling on fresh trials of ``bandit`` (drawn from
    ``tasks``; its posterior samples from ``draws``): the mean reward a pull, the
    distinct arms tried a trial, and how often the last pull is the best arm (the same
    measures as ``GreedyMetaLearner.evaluate``)."""
    bandit.reset(trials, tasks)
    wins = np.ones((trials, bandit.arms))
    losses = np.ones((trials, bandit.arms))
    actions, rewards = [], []
    for _ in range(bandit.pulls):
        chosen = draws.beta(wins, losses).argmax(1)
        reward = bandit.pull(chosen)
        wins[np.arange(trials), chosen] += reward
        losses[np.arange(trials), chosen] += 1 - reward
        actions.append(chosen)
        rewards.append(reward)
    acts = np.stack(actions, 1)
    return {"reward": float(np.mean(rewards)),
            "arms_tried": float(np.mean([len(np.unique(row)) for row in acts])),
            "best_arm_late": float(np.mean(acts[:, -1] == bandit.means.argmax(1)))}  # fmt: skip


def run_meta(design: str, seed: int, quick: bool = False) -> dict[str, Any]:
    """One design, one seed: its greedy evaluation (or Thompson sampling's) and time."""
    import torch

    from rewardkit.envs.bandit import RecurringBandit
    from rewardkit.train.greedy_meta import GreedyMetaConfig, GreedyMetaLearner

    if design not in DESIGNS:
        raise ValueError(f"unknown design {design!r}; choose from {DESIGNS}")
    torch.set_num_threads(1)
    started = time.monotonic()
    bandit = RecurringBandit(ARMS, PULLS, 1 if design == "no_structure" else None)
    updates = QUICK_UPDATES if quick else UPDATES
    if design == "thompson":
        found = thompson_sampling(bandit, EVAL_TRIALS, np.random.default_rng(EVAL_SEED),
                                  np.random.default_rng(seed))  # fmt: skip
        curve: list[float] = []
    else:
        config = GreedyMetaConfig(memory=design != "no_memory",
                                  discount=0.0 if design == "no_long_credit" else 0.9,
                                  updates=updates, seed=seed)  # fmt: skip
        learner = GreedyMetaLearner(bandit, config)
        history = learner.train()
        found = learner.evaluate(trials=EVAL_TRIALS, seed=EVAL_SEED)
        curve = [float(np.mean([r["reward"] for r in history[i : i + 20]]))
                 for i in range(0, len(history), 20)]  # fmt: skip
    return {"design": design, "seed": seed, "updates": 0 if design == "thompson" else updates,
            **found, "training_reward": curve,
            "seconds": time.monotonic() - started}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for design in DESIGNS:
        print(json.dumps({k: v for k, v in run_meta(design, args.seed, args.quick).items()
                          if k != "training_reward"}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
