"""Gymnasium: a rewardkit term applied online, to one env and to a vector env.

The wrapped env keeps the original reward in ``info["original_reward"]`` and
the term's parts in ``info["rewardkit"]``; it passes Gymnasium's
``check_env``, and stacks with other wrappers.

Run: python examples/integrations/gymnasium_wrappers.py
"""

import gymnasium as gym
import numpy as np

from rewardkit.adapters.gymnasium import RewardkitVectorWrapper, RewardkitWrapper
from rewardkit.core import env_reward, weighted_sum
from rewardkit.explore import CountBonus

env = gym.wrappers.RecordEpisodeStatistics(
    RewardkitWrapper(gym.make("FrozenLake-v1", is_slippery=False),
                     weighted_sum([env_reward(), CountBonus(beta=0.1)]))
)  # fmt: skip
env.reset(seed=0)
for action in (2, 2, 1, 1, 1, 2):  # right, right, down, down, down, right: the goal
    _, reward, terminated, truncated, info = env.step(action)
    print(f"reward {reward:.3f}  original {info['original_reward']}  parts {info['rewardkit']}")
    if terminated or truncated:
        print("episode:", info["episode"])
        break

vec = RewardkitVectorWrapper(
    gym.make_vec("CartPole-v1", num_envs=4, vectorization_mode="sync"), env_reward()
)
vec.reset(seed=0)
total = np.zeros(4)
for _ in range(100):
    _, reward, *_ = vec.step(vec.action_space.sample())
    total += reward
print("vector env, 100 steps, reward per env:", total)
