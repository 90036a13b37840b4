"""HERON on LunarLander-v3's reward factors, in the delayed-credit harness (``rm-lab``).

LunarLander's reward is a hand-weighted sum of factors: ±100 when the episode ends
landed or crashed, shaping by the distance to the pad, the speed and the tilt, +10 a
leg in contact, and the engines' fuel. HERON replaces the weights by a ranking of the
factors. Designs, each trained by the reference PPO (``rewardkit.train.ppo``, shipped
defaults, 500k frames, the suite's frames/seed budget of ``delayed-credit``):

- ``summed reward``: the environment's own per-step reward (the hand-weighted sum);
- ``HERON-style``: :class:`rewardkit.credit.preference_reward.OnlinePreferenceReward`
  with LunarLander's factors ranked (1) the outcome (+1 landed, −1 crashed, 0 neither:
  read from the last step's ±100), (2) the distance to the pad at the last decision step
  (the state the last action was taken in, not the state after it; smaller wins), (3) the
  speed there (smaller wins), (4) the fuel burnt (0.3 per main
  and 0.03 per side engine firing, smaller wins), margins 1·std over the memory;
- ``BT on the return``: the same learner, labels "the higher summed return wins": the
  summed reward as a preference, so the labeller is the only difference from HERON.

The learned designs never see the step rewards: the agent is paid f_θ(s, a) only.
Per run: the final true return (the mean of the last 3 logged episode returns, the
environment's own reward) and frames/s; medians over seeds.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

__all__ = ["HERON_DESIGNS", "lunar_lander_heron_factors", "run_heron"]

TASK = "LunarLander-v3"
FRAMES = 500_000
QUICK_FRAMES = 100_000
HERON_DESIGNS = ("summed reward", "HERON-style", "BT on the return")
#: larger is better for the outcome, smaller for distance, speed and fuel
SIGNS = (1, -1, -1, -1)


def lunar_lander_heron_factors(
    observations: np.ndarray, actions: np.ndarray, rewards: np.ndarray
) -> list[float]:
    """LunarLander's factors of one episode, most important first: the outcome, the
    distance to the pad and the speed in the last decision step's state, the fuel burnt.

    Example:
        >>> obs = np.zeros((2, 8)); obs[-1, :4] = [0.3, 0.4, 0.0, 0.1]
        >>> lunar_lander_heron_factors(obs, np.array([2, 1]), np.array([0.5, 100.2]))
        [1.0, 0.5, 0.1, 0.33]
    """
    last = float(rewards[-1])
    outcome = 1.0 if last >= 50 else -1.0 if last <= -50 else 0.0
    x, y, vx, vy = (float(v) for v in observations[-1][:4])
    main = int(np.sum(actions == 2))
    side = int(np.sum((actions == 1) | (actions == 3)))
    return [outcome, math.hypot(x, y), math.hypot(vx, vy), round(0.3 * main + 0.03 * side, 6)]


def _episode_return(
    observations: np.ndarray, actions: np.ndarray, rewards: np.ndarray
) -> list[float]:
    return [float(np.sum(rewards))]


def run_heron(unit: tuple[str, int, int]) -> dict[str, Any]:
    """One PPO run of ``design`` on LunarLander for ``frames`` frames with ``seed``."""
    import gymnasium as gym
    import torch

    from rewardkit.credit.preference_reward import OnlinePreferenceReward
    from rewardkit.train.ppo import PPOConfig, PPOTrainer
    from rewardkit_bench.delayed_credit import ppo_curve

    torch.set_num_threads(1)
    design, frames, seed = unit
    if design not in HERON_DESIGNS:
        raise ValueError(f"unknown design {design!r}: one of {HERON_DESIGNS}")
    term = None
    if design == "HERON-style":
        term = OnlinePreferenceReward(lunar_lander_heron_factors, obs_dim=8, actions=4,
                                      signs=SIGNS, seed=seed)  # fmt: skip
    elif design == "BT on the return":
        term = OnlinePreferenceReward(_episode_return, obs_dim=8, actions=4, margin_scale=0.0,
                                      seed=seed)  # fmt: skip
    start = time.monotonic()
    config = PPOConfig(env_id=TASK, total_frames=frames, seed=seed)
    log = PPOTrainer(config, reward=term, env_fn=lambda: gym.make(TASK)).train()
    seconds = time.monotonic() - start
    curve, final = ppo_curve(log)
    decided = float(np.mean(term.decided)) if term is not None and term.decided else math.nan
    return {"design": design, "seed": seed, "frames": frames, "curve": curve, "final": final,
            "fps": frames / seconds, "seconds": seconds, "decided": decided,
            "updates": term.updates if term is not None else 0}  # fmt: skip


if __name__ == "__main__":
    import sys

    frames = int(sys.argv[1]) if len(sys.argv) > 1 else QUICK_FRAMES
    for name in HERON_DESIGNS:
        run = run_heron((name, frames, 0))
        print(name, round(run["final"], 1), f"{run['fps']:.0f} fps", run["decided"], run["updates"])
