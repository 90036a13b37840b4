"""PPO throughput against Stable-Baselines3, in one process, on one thread.

Three rates on the same env factory (MiniGrid with rewardkit's fast view and int
actions by default), same rollout shape (8 envs x 128 steps), same network (two
64-unit tanh layers for the actor and for the critic, orthogonal init), same PPO
settings (4 epochs of 4 minibatches of 256, Adam at 2.5e-4, clip 0.2, GAE 0.95):

- **env**: a ``SyncVectorEnv`` of 8 stepped with random actions, no learning;
- **rewardkit**: :class:`rewardkit.train.ppo.PPOTrainer`;
- **sb3**: ``stable_baselines3.PPO("MlpPolicy", ...)`` on a ``DummyVecEnv`` of the
  same factory.

Each repeat times the three in turn (so drifts in the machine's load hit all three);
the figures are medians over repeats. ``torch.set_num_threads(1)`` throughout, as SB3's
own CPU benchmarks run.

Run: ``python -m rewardkit_bench.ppo_throughput`` (prints the three rates and the
ratios), or as part of ``rewardkit bench control-design``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["PPO_SETTINGS", "measure", "rates", "report_lines"]

ENV_ID = "MiniGrid-DoorKey-8x8-v0"
#: the settings both trainers share (CleanRL / rewardkit defaults, SB3 spelled to match)
PPO_SETTINGS = {
    "num_envs": 8,
    "num_steps": 128,
    "update_epochs": 4,
    "minibatches": 4,
    "learning_rate": 2.5e-4,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_coef": 0.2,
    "ent_coef": 0.01,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "hidden": 64,
}


def _env_fn(env_id: str) -> Callable[[], Any]:
    from rewardkit.envs.minigrid import minigrid_env

    return minigrid_env(env_id)


def env_rate(env_id: str, frames: int) -> float:
    """Frames/s of the vector env alone, random actions."""
    import gymnasium as gym

    envs = gym.vector.SyncVectorEnv(
        [_env_fn(env_id) for _ in range(PPO_SETTINGS["num_envs"])],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    envs.reset(seed=0)
    n = int(PPO_SETTINGS["num_envs"])
    space = envs.single_action_space
    steps = frames // n
    actions = np.random.default_rng(0).integers(0, int(space.n), (steps, n))  # type: ignore[attr-defined]
    start = time.perf_counter()
    for action in actions:
        envs.step(action)
    rate = steps * n / (time.perf_counter() - start)
    envs.close()
    return rate


def rewardkit_rate(env_id: str, frames: int, seed: int = 0) -> float:
    """Frames/s of rewardkit's PPO (training only: construction not timed)."""
    from rewardkit.train.ppo import PPOConfig, PPOTrainer

    config = PPOConfig(env_id=env_id, total_frames=frames, seed=seed, **PPO_SETTINGS)  # type: ignore[arg-type]
    trainer = PPOTrainer(config, env_fn=_env_fn(env_id))
    batch = config.num_steps * config.num_envs
    start = time.perf_counter()
    trainer.train()
    return batch * max(1, frames // batch) / (time.perf_counter() - start)


def sb3_rate(env_id: str, frames: int, seed: int = 0) -> float:
    """Frames/s of Stable-Baselines3's PPO with the same settings (``learn`` only)."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    s = PPO_SETTINGS
    n, steps = int(s["num_envs"]), int(s["num_steps"])
    env = DummyVecEnv([_env_fn(env_id) for _ in range(n)])
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=steps,
        batch_size=n * steps // int(s["minibatches"]),
        n_epochs=int(s["update_epochs"]),
        learning_rate=float(s["learning_rate"]),
        gamma=float(s["gamma"]),
        gae_lambda=float(s["gae_lambda"]),
        clip_range=float(s["clip_coef"]),
        ent_coef=float(s["ent_coef"]),
        vf_coef=float(s["vf_coef"]),
        max_grad_norm=float(s["max_grad_norm"]),
        policy_kwargs={
            "net_arch": {"pi": [int(s["hidden"])] * 2, "vf": [int(s["hidden"])] * 2},
            "activation_fn": torch.nn.Tanh,
        },
        seed=seed,
        device="cpu",
        verbose=0,
    )
    batch = n * steps
    start = time.perf_counter()
    model.learn(total_timesteps=batch * max(1, frames // batch))
    rate = batch * max(1, frames // batch) / (time.perf_counter() - start)
    env.close()
    return rate


def measure(env_id: str = ENV_ID, frames: int = 65_536, repeats: int = 3) -> dict[str, Any]:
    """The three rates, each repeat in turn, and their medians and ratios."""
    import torch

    torch.set_num_threads(1)
    runs: dict[str, list[float]] = {"env": [], "rewardkit": [], "sb3": []}
    for repeat in range(repeats):
        runs["env"].append(env_rate(env_id, frames))
        runs["rewardkit"].append(rewardkit_rate(env_id, frames, seed=repeat))
        runs["sb3"].append(sb3_rate(env_id, frames, seed=repeat))
    medians = {name: statistics.median(values) for name, values in runs.items()}
    return {
        "env_id": env_id,
        "frames": frames,
        "repeats": repeats,
        "rates": runs,
        "median": medians,
        "vs_sb3": medians["rewardkit"] / medians["sb3"],
        "vs_env": medians["rewardkit"] / medians["env"],
    }


def rates(result: dict[str, Any]) -> str:
    """One line: the three median rates and the two ratios."""
    m = result["median"]
    return (
        f"{result['env_id']}, {result['frames']:,} frames, median of {result['repeats']}: "
        f"rewardkit PPO {m['rewardkit']:,.0f} frames/s, SB3 PPO {m['sb3']:,.0f} frames/s "
        f"(x{result['vs_sb3']:.2f}); vector env alone {m['env']:,.0f} frames/s "
        f"(rewardkit PPO at {100 * result['vs_env']:.0f} % of it)"
    )


def report_lines(result: dict[str, Any]) -> list[str]:
    """The claim lines of the issue's throughput targets."""
    return [
        rates(result),
        f"target >= 2x SB3: {'met' if result['vs_sb3'] >= 2 else 'missed'} "
        f"(x{result['vs_sb3']:.2f}); target >= 50 % of the env's rate: "
        f"{'met' if result['vs_env'] >= 0.5 else 'missed'} ({100 * result['vs_env']:.0f} %)",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default=ENV_ID)
    parser.add_argument("--frames", type=int, default=65_536)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    result = measure(args.env, args.frames, args.repeats)
    for line in report_lines(result):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
