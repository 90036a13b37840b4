"""Behaviour: with every default as shipped, a bonus learns a 2-room MiniGrid task faster than
sparse PPO. Seeded; the learning speed is the mean training success over the run (the area
under the learning curve), so a bonus that learns earlier scores higher."""

import numpy as np
import pytest
import torch

from rewardkit.envs.minigrid import minigrid_env
from rewardkit.explore import EpisodicCountBonus, NovelDBonus
from rewardkit.train.ppo import PPOConfig, PPOTrainer

TASK = "MiniGrid-MultiRoom-N2-S4-v0"  # two rooms joined by a closed door; 40 steps
FRAMES = 40_960
SEEDS = (0, 1, 2)


def learning_speed(bonus_factory, seed: int) -> float:
    torch.set_num_threads(1)
    config = PPOConfig(env_id=TASK, total_frames=FRAMES, seed=seed, learning_rate=1e-3)
    bonus = None if bonus_factory is None else bonus_factory()
    log = PPOTrainer(config, bonus=bonus, env_fn=minigrid_env(TASK)).train()
    return float(np.mean([record["episode_success"] for record in log]))


@pytest.mark.slow
@pytest.mark.parametrize("bonus_factory", [EpisodicCountBonus, NovelDBonus])
def test_a_default_bonus_learns_two_rooms_faster_than_sparse(bonus_factory):
    sparse = [learning_speed(None, seed) for seed in SEEDS]
    bonus = [learning_speed(bonus_factory, seed) for seed in SEEDS]
    wins = sum(b > s for b, s in zip(bonus, sparse, strict=True))
    assert np.median(bonus) > np.median(sparse) and wins >= 2, (sparse, bonus)
