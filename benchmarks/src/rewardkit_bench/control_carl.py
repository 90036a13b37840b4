"""CaRL's claim on LunarLander-v3: a progress reward shrunk by multiplicative penalties
keeps PPO working at a larger minibatch, where the summed shaped reward does not.

CaRL (Jaeger et al. 2025) replaces CARLA's weighted sum of shaped terms by route
completion times a factor per infraction, and reports that PPO then keeps learning as
the minibatch grows, where the summed reward fails. LunarLander-v3's shipped reward is
such a sum: potential shaping on distance, speed and tilt, leg contacts, fuel penalties
(0.3 a main-engine frame, 0.03 a side-engine frame) and ±100 at the end. Two designs
train the same PPO on it (``rewardkit.train.PPOTrainer``, CleanRL defaults, 8 envs ×
128 steps, 4 epochs):

- ``summed``: the shipped reward;
- ``carl``: CaRL-style, through :func:`rewardkit.shaping.multiplicative_reward`,

      r_t = ΔRC_t · 0.97^{main_t} · 0.997^{side_t} − 1 · crash_t,

  with RC the route completion so far, max over the episode of 1 − d(s)/d(s_0) (d the
  distance to the pad), set to 1 when the lander comes to rest; ΔRC_t its gain this step;
  main_t and side_t whether an engine fired; crash_t a crash or a flight off the screen.
  The factors keep the shipped penalties' 10:1 ratio; their size is ours.

Each at two minibatch sizes: 256 (4 minibatches a rollout, the default) and 1,024 (the
whole rollout as one minibatch, a quarter of the gradient steps). Both are scored the
same way, on the shipped task: 20 episodes of the sampled policy on fresh seeds, the
shipped return and the share that come to rest on the ground (landed).

Run: ``python -m rewardkit_bench.control_carl [--quick] [--seed 0]``
(full: 1M frames a run; quick: 100k).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["DESIGNS", "MINIBATCHES", "carl_lander", "run_carl"]

DESIGNS = ("summed", "carl")
#: minibatches a rollout of 1,024 frames: 4 (256 frames each) and 1 (1,024)
MINIBATCHES = (4, 1)
FRAMES, QUICK_FRAMES, EVAL_EPISODES = 1_000_000, 100_000, 20
MAIN_FACTOR, SIDE_FACTOR, CRASH_PENALTY = 0.97, 0.997, 1.0
ENV = "LunarLander-v3"


def carl_lander() -> Any:
    """LunarLander-v3 with the CaRL-style reward (see the module); the shipped reward is
    kept in ``info["shipped_reward"]``."""
    import gymnasium as gym

    from rewardkit.shaping import multiplicative_reward

    class CarlLander(gym.Wrapper):  # type: ignore[type-arg]
        def reset(self, **kwargs: Any) -> Any:
            obs, info = self.env.reset(**kwargs)
            self._start = max(float(np.hypot(obs[0], obs[1])), 1e-6)
            self._best = 0.0
            return obs, info

        def step(self, action: Any) -> Any:
            obs, shipped, terminated, truncated, info = self.env.step(action)
            lander = self.env.unwrapped
            rested = terminated and not lander.lander.awake
            crashed = terminated and not rested
            completion = 1.0 if rested else 1.0 - float(np.hypot(obs[0], obs[1])) / self._start
            gain = max(0.0, completion - self._best)
            self._best = max(self._best, completion)
            counts = [[float(action == 2), float(action in (1, 3))]]
            reward = multiplicative_reward([gain], counts, [MAIN_FACTOR, SIDE_FACTOR],
                                           terminal=[float(crashed)],
                                           terminal_penalty=CRASH_PENALTY)  # fmt: skip
            info = dict(info, shipped_reward=float(shipped), rested=rested)
            return obs, float(reward[0]), terminated, truncated, info

    return CarlLander(gym.make(ENV))


def _score(trainer: Any, episodes: int, seed: int) -> dict[str, float]:
    """The sampled policy on the shipped task: mean shipped return and landed share."""
    import gymnasium as gym
    import torch

    env = gym.make(ENV)
    generator = torch.Generator().manual_seed(seed)
    returns, landed = [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        terminated = False
        while not done:
            with torch.no_grad():
                logits = trainer.agent.logits(torch.as_tensor(obs[None], dtype=torch.float32))
            action = int(torch.multinomial(logits.softmax(-1)[0], 1, generator=generator))
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = bool(terminated or truncated)
        returns.append(total)
        landed.append(bool(terminated and not env.unwrapped.lander.awake))
    env.close()
    return {"return": float(np.mean(returns)), "landed": float(np.mean(landed))}


def run_carl(design: str, minibatches: int, seed: int, quick: bool = False) -> dict[str, Any]:
    """Train one design at one minibatch count; score it on the shipped task."""
    import torch

    from rewardkit.train.ppo import PPOConfig, PPOTrainer, make_env

    if design not in DESIGNS or minibatches not in MINIBATCHES:
        raise ValueError(f"unknown design/minibatches {design!r}/{minibatches}")
    torch.set_num_threads(1)
    started = time.monotonic()
    frames = QUICK_FRAMES if quick else FRAMES
    config = PPOConfig(env_id=ENV, total_frames=frames, seed=seed, minibatches=minibatches)
    env_fn = carl_lander if design == "carl" else make_env(ENV)
    trainer = PPOTrainer(config, env_fn=env_fn)
    log = trainer.train()
    scored = _score(trainer, 5 if quick else EVAL_EPISODES, 20_000)
    return {"design": design, "minibatches": minibatches,
            "minibatch_size": config.num_envs * config.num_steps // minibatches,
            "seed": seed, "frames": frames, **scored,
            "fps": float(log[-1].get("fps", 0.0)) if log else 0.0,
            "seconds": time.monotonic() - started}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for design in DESIGNS:
        for minibatches in MINIBATCHES:
            print(json.dumps(run_carl(design, minibatches, args.seed, args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
