"""MiniGrid view encoding and the hand-written view potential, on real environments."""

import gymnasium as gym
import minigrid  # noqa: F401
import numpy as np
import pytest
from minigrid.core.world_object import Key
from minigrid.wrappers import ImgObsWrapper

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.envs.minigrid import (
    ONEHOT_SIZE,
    decode_view,
    encode_view,
    minigrid_env,
    view_progress,
)
from rewardkit.shaping import PotentialShaping


def _views(env_id, steps, seed=0):
    env = ImgObsWrapper(gym.make(env_id))
    image, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    images = [image]
    for _ in range(steps):
        image, *_ = env.step(int(rng.integers(env.action_space.n)))
        images.append(image)
    return env, np.stack(images)


def test_one_hot_round_trip_on_real_views():
    _, images = _views("MiniGrid-KeyCorridorS3R3-v0", 50)
    encoded = encode_view(images)
    assert encoded.shape == (51, ONEHOT_SIZE) and encoded.dtype == np.float32
    assert (encoded.sum(axis=1) == 49 * 3).all()  # one hot per channel per cell
    assert np.array_equal(decode_view(encoded), images.reshape(51, 49, 3))
    assert np.array_equal(decode_view(images.reshape(51, -1) / 10.0), images.reshape(51, 49, 3))


def test_minigrid_env_serves_both_encodings():
    onehot, _ = minigrid_env("MiniGrid-DoorKey-5x5-v0", "onehot")().reset(seed=3)
    scaled, _ = minigrid_env("MiniGrid-DoorKey-5x5-v0")().reset(seed=3)
    assert onehot.shape == (ONEHOT_SIZE,) and scaled.shape == (147,)
    assert np.array_equal(decode_view(onehot[None]), decode_view(scaled[None]))


def test_progress_reads_carrying_open_door_and_goal():
    env, images = _views("MiniGrid-DoorKey-5x5-v0", 0, seed=1)
    phi = view_progress(carrying=0.1, open_door=0.1, goal=0.2)
    start = float(phi(images)[0])
    env.unwrapped.carrying = Key("yellow")
    carrying = env.unwrapped.gen_obs()["image"][None]
    assert float(phi(carrying)[0]) == pytest.approx(start + 0.1)
    view = np.zeros((1, 7, 7, 3))
    view[0, 1, 1] = (4, 0, 0)  # an open door
    assert float(phi(view)[0]) == pytest.approx(0.1)
    view[0, 1, 1] = (4, 0, 2)  # a locked door is not progress
    assert float(phi(view)[0]) == 0.0
    view[0, 5, 2] = (8, 1, 0)  # the goal square
    assert float(phi(view)[0]) == pytest.approx(0.2)


def test_shaping_with_the_view_potential_telescopes_on_a_real_rollout():
    env = minigrid_env("MiniGrid-DoorKey-5x5-v0", "onehot")()
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    rows = {"obs": [], "next_obs": [], "terminated": []}
    for _ in range(200):
        nxt, _, term, trunc, _ = env.step(int(rng.choice([0, 1, 2, 3, 5])))
        rows["obs"].append(obs)
        rows["next_obs"].append(nxt)
        rows["terminated"].append(term)
        obs = nxt
        if term or trunc:
            break
    batch = {k: np.array(v) for k, v in rows.items()}
    shaping = PotentialShaping("minigrid_view_progress", gamma=1.0)
    values = shaping(batch).total
    assert np.count_nonzero(values) > 0  # the rollout passes milestones
    total = values.sum()
    phi = view_progress()
    end = 0.0 if batch["terminated"][-1] else phi(batch["next_obs"][-1:])[0]
    assert total == pytest.approx(end - phi(batch["obs"][:1])[0])


def test_bad_views_are_rejected():
    with pytest.raises(ShapeError, match="MiniGrid views"):
        view_progress()(np.zeros((2, 100)))
    with pytest.raises(ShapeError, match="out of range"):
        encode_view(np.full((7, 7, 3), 12))


def test_minigrid_env_refuses_an_unknown_view():
    with pytest.raises(ConfigurationError, match="view"):
        minigrid_env("MiniGrid-DoorKey-5x5-v0", "pixels")


def test_make_kwargs_reach_gym_make():
    env = minigrid_env("MiniGrid-MultiRoom-N2-S4-v0", maxRoomSize=5)()
    assert env.unwrapped.maxRoomSize == 5
    env.close()
