"""Where the reference PPO spends its time on a MiniGrid task (cProfile; not a benchmark).

Usage: .venv/bin/python benchmarks/profile_ppo.py [--network mlp|cnn] [--frames 32768]
"""

import argparse
import cProfile
import pstats
import time

import torch

from rewardkit.envs.minigrid import minigrid_env
from rewardkit.train.ppo import PPOConfig, PPOTrainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", default="MiniGrid-DoorKey-8x8-v0")
    parser.add_argument("--network", default="mlp", choices=("mlp", "cnn"))
    parser.add_argument("--frames", type=int, default=32768)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = PPOConfig(env_id=args.env, total_frames=args.frames, network=args.network)
    trainer = PPOTrainer(config, env_fn=minigrid_env(config.env_id))
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
