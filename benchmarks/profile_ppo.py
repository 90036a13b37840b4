"""Where the reference PPO spends its time on a MiniGrid task (cProfile; not a benchmark).

Usage: .venv/bin/python benchmarks/profile_ppo.py [--network mlp|cnn] [--frames 32768]
                                                  [--slow-view] [--compare [--envs-only]]

``--slow-view`` profiles the env as MiniGrid makes it: its own ``gen_obs`` instead
of the fast view (``rewardkit.envs.minigrid_view``), numpy actions. ``--compare``
trains PPO without cProfile three times, with the env as MiniGrid makes it, with
the fast view, and with the fast view and int actions (``minigrid_env``'s
default), and prints the frames/s of each and their ratio to the first;
``--envs-only`` times the same environments stepped with random actions in a
``SyncVectorEnv`` of 8 instead, no PPO.
"""

import argparse
import cProfile
import pstats
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from rewardkit.envs.minigrid import minigrid_env
from rewardkit.train.ppo import PPOConfig, PPOTrainer

EnvFactory = Callable[[], Any]


#: (label, fast_view, int_actions) of the env factories --compare times
SETTINGS = (
    ("MiniGrid as is", False, False),
    ("fast view", True, False),
    ("fast view + int actions", True, True),
)


def ppo_rate(env_id: str, frames: int, network: str, env_fn: EnvFactory) -> float:
    """Frames/s of PPO training on ``env_id``."""
    config = PPOConfig(env_id=env_id, total_frames=frames, network=network)
    trainer = PPOTrainer(config, env_fn=env_fn)
    batch = config.num_steps * config.num_envs
    start = time.monotonic()
    trainer.train()
    return batch * max(1, frames // batch) / (time.monotonic() - start)  # frames trained


def env_rate(frames: int, env_fn: EnvFactory, num_envs: int = 8) -> float:
    """Frames/s of a ``SyncVectorEnv`` of ``num_envs`` stepped with random actions."""
    import gymnasium as gym

    envs = gym.vector.SyncVectorEnv(
        [env_fn for _ in range(num_envs)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    envs.reset(seed=0)
    space = envs.single_action_space
    assert isinstance(space, gym.spaces.Discrete)
    steps = frames // num_envs
    actions = np.random.default_rng(0).integers(0, int(space.n), (steps, num_envs))
    start = time.monotonic()
    for action in actions:
        envs.step(action)
    rate = steps * num_envs / (time.monotonic() - start)
    envs.close()
    return rate


def compare(env_id: str, frames: int, network: str, envs_only: bool) -> None:
    what = "env stepping (SyncVectorEnv of 8, random actions)" if envs_only else "PPO"
    base = 0.0
    for label, fast_view, int_actions in SETTINGS:
        env_fn = minigrid_env(env_id, fast_view=fast_view, int_actions=int_actions)
        rate = env_rate(frames, env_fn) if envs_only else ppo_rate(env_id, frames, network, env_fn)
        base = base or rate
        print(f"{env_id} {what}, {label}: {rate:,.0f} frames/s (x{rate / base:.2f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", default="MiniGrid-DoorKey-8x8-v0")
    parser.add_argument("--network", default="mlp", choices=("mlp", "cnn"))
    parser.add_argument("--frames", type=int, default=32768)
    parser.add_argument("--slow-view", action="store_true", help="the env as MiniGrid makes it")
    parser.add_argument("--compare", action="store_true", help="frames/s, each env setting")
    parser.add_argument("--envs-only", action="store_true", help="with --compare: no PPO")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.compare:
        compare(args.env, args.frames, args.network, args.envs_only)
        return
    config = PPOConfig(env_id=args.env, total_frames=args.frames, network=args.network)
    fast = not args.slow_view
    env_fn = minigrid_env(config.env_id, fast_view=fast, int_actions=fast)
    trainer = PPOTrainer(config, env_fn=env_fn)
    profile = cProfile.Profile()
    start = time.monotonic()
    profile.enable()
    trainer.train()
    profile.disable()
    rate = args.frames / (time.monotonic() - start)
    print(f"{args.network}: {rate:,.0f} frames/s under cProfile")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(20)


if __name__ == "__main__":
    main()
