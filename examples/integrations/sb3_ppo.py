"""Stable-Baselines3: PPO on rewardkit rewards, two ways.

1. ``make_vec_env(wrapper_class=RewardkitWrapper)``: the term *is* the reward
   (here CartPole's reward less a 0.5 step cost).
2. ``RewardkitCallback``: a bonus added to the rollout's rewards, after which
   returns and advantages are recomputed (here a SimHash count bonus).

Run: python examples/integrations/sb3_ppo.py
"""

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from rewardkit.adapters.gymnasium import RewardkitWrapper
from rewardkit.adapters.sb3 import RewardkitCallback
from rewardkit.core import constant, env_reward, weighted_sum
from rewardkit.explore import SimHashCountBonus

torch.set_num_threads(1)
reward = weighted_sum([env_reward(), constant(-0.5, name="step_cost")])
env = make_vec_env(
    "CartPole-v1", n_envs=2, seed=0, wrapper_class=RewardkitWrapper, wrapper_kwargs={"term": reward}
)
model = PPO("MlpPolicy", env, n_steps=256, batch_size=128, n_epochs=1, seed=0, device="cpu")
model.learn(2048)
print("rewards PPO learned from:", np.unique(model.rollout_buffer.rewards))  # [0.5]

bonus = SimHashCountBonus(beta=0.5, bits=8)
callback = RewardkitCallback(bonus, coef=1.0)
model = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), n_steps=256,
            batch_size=128, n_epochs=1, seed=0, device="cpu")  # fmt: skip
model.learn(2048, callback=callback)
print("count bonus on the last rollout, mean:", float(bonus(callback.last_batch).total.mean()))
