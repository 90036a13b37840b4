"""The fast MiniGrid view gives MiniGrid's own observation, to the bit, on real rollouts."""

import copy
import pickle

import gymnasium as gym
import minigrid  # noqa: F401  (registers the environments)
import numpy as np
import pytest
from minigrid.core.grid import Grid
from minigrid.core.world_object import Door, Wall
from minigrid.envs import DoorKeyEnv
from minigrid.wrappers import ViewSizeWrapper

from rewardkit.envs.minigrid import _int_action, _scaled_codes, minigrid_env
from rewardkit.envs.minigrid_view import egocentric_view, use_fast_view, visibility

ENVS = (
    "MiniGrid-DoorKey-8x8-v0",
    "MiniGrid-KeyCorridorS3R3-v0",
    "MiniGrid-KeyCorridorS4R3-v0",
    "MiniGrid-MultiRoom-N4-S5-v0",
    "MiniGrid-MultiRoom-N4-S5-v1",
    "MiniGrid-MultiRoom-N6-v0",
    "MiniGrid-ObstructedMaze-1Dlhb-v0",  # no v1 of this one in minigrid 3.2...
    "MiniGrid-ObstructedMaze-2Dlhb-v1",  # ...but of the two-room one
)
#: forward twice as often as any other action, so the agent gets around
ACTIONS = (0, 1, 2, 2, 3, 4, 5)


def _reference(env):
    """MiniGrid's own observation of the current state."""
    base = env.unwrapped
    return type(base).gen_obs(base)


def _numpy_view(base):
    carrying = base.carrying.encode() if base.carrying else None
    return egocentric_view(
        base.grid.encode(),
        base.agent_pos,
        base.agent_dir,
        base.agent_view_size,
        base.see_through_walls,
        carrying,
    )


def _rollout(env, seed, steps=300, episodes=3):
    """Compare fast and reference views at every step; return what the rollout went through."""
    assert use_fast_view(env)
    base = env.unwrapped
    rng = np.random.default_rng(seed)
    seen = {"carrying": 0, "open door": 0, "closed door": 0, "steps": 0}
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        for _ in range(steps // episodes):
            reference = _reference(env)
            image = obs["image"]
            assert image.dtype == np.uint8 and image.shape == reference["image"].shape
            assert np.array_equal(image, reference["image"]), (base.agent_pos, base.agent_dir)
            assert obs["direction"] == reference["direction"]
            assert obs["mission"] == reference["mission"]
            assert np.array_equal(_numpy_view(base), reference["image"])
            seen["steps"] += 1
            seen["carrying"] += base.carrying is not None
            kinds, states = image[..., 0], image[..., 2]
            seen["open door"] += bool(((kinds == 4) & (states == 0)).any())
            seen["closed door"] += bool(((kinds == 4) & (states > 0)).any())
            obs, _, terminated, truncated, _ = env.step(int(rng.choice(ACTIONS)))
            if terminated or truncated:
                break
    return seen


@pytest.mark.filterwarnings("ignore:.*is out of date:DeprecationWarning")
@pytest.mark.parametrize("env_id", ENVS)
def test_fast_view_matches_minigrid_on_random_rollouts(env_id):
    seen = _rollout(gym.make(env_id), seed=ENVS.index(env_id) * 10)
    assert seen["steps"] >= 150 and seen["closed door"] > 0


def test_the_rollouts_carry_objects_and_open_doors():
    totals = {"carrying": 0, "open door": 0}
    for seed in range(4):
        seen = _rollout(gym.make("MiniGrid-DoorKey-8x8-v0"), seed=100 + seed, steps=400)
        totals = {key: totals[key] + seen[key] for key in totals}
    assert totals["carrying"] > 0 and totals["open door"] > 0


@pytest.mark.parametrize("env_id", ["MiniGrid-DoorKey-8x8-v0", "MiniGrid-KeyCorridorS3R3-v0"])
def test_fast_view_matches_minigrid_seeing_through_walls(env_id):
    env = gym.make(env_id)
    env.unwrapped.see_through_walls = True  # RoomGrid envs take no such argument
    seen = _rollout(env, seed=7, steps=150)
    assert seen["steps"] >= 50


@pytest.mark.parametrize(
    ("env_id", "view_size"),
    [
        ("MiniGrid-DoorKey-8x8-v0", 5),
        ("MiniGrid-MultiRoom-N6-v0", 3),
        ("MiniGrid-KeyCorridorS3R3-v0", 9),
    ],
)
def test_fast_view_matches_minigrid_with_other_view_sizes(env_id, view_size):
    env = gym.make(env_id, agent_view_size=view_size)
    assert env.unwrapped.agent_view_size == view_size
    seen = _rollout(env, seed=7, steps=150)
    assert seen["steps"] >= 50


@pytest.mark.filterwarnings("ignore:.*not within the observation space")  # the space is 7×7
def test_a_view_size_changed_after_install_is_followed():
    env = gym.make("MiniGrid-DoorKey-8x8-v0")
    assert use_fast_view(env)
    env.reset(seed=0)
    env.unwrapped.agent_view_size = 5
    obs, *_ = env.step(1)
    assert obs["image"].shape == (5, 5, 3)
    assert np.array_equal(obs["image"], _reference(env)["image"])


def test_view_size_wrapper_still_works_on_top():
    # ViewSizeWrapper builds its view with gen_obs_grid, which the fast view leaves alone
    fast = ViewSizeWrapper(gym.make("MiniGrid-DoorKey-8x8-v0"), agent_view_size=5)
    use_fast_view(fast)
    slow = ViewSizeWrapper(gym.make("MiniGrid-DoorKey-8x8-v0"), agent_view_size=5)
    assert np.array_equal(fast.reset(seed=0)[0]["image"], slow.reset(seed=0)[0]["image"])
    assert np.array_equal(fast.step(2)[0]["image"], slow.step(2)[0]["image"])


def test_the_view_is_writable_and_fresh_each_step():
    env = gym.make("MiniGrid-DoorKey-5x5-v0")
    use_fast_view(env)
    first, _ = env.reset(seed=0)
    second, *_ = env.step(0)
    first["image"][:] = 0  # as MiniGrid's own array: the caller's to keep or change
    assert second["image"].any()


def test_an_env_with_the_fast_view_pickles_and_copies_with_it():
    env = gym.make("MiniGrid-DoorKey-8x8-v0")
    use_fast_view(env)
    env.reset(seed=0)
    for twin in (pickle.loads(pickle.dumps(env.unwrapped)), copy.deepcopy(env.unwrapped)):
        assert twin.gen_obs.env is twin  # the copy's view is the copy's
        assert np.array_equal(twin.gen_obs()["image"], env.unwrapped.gen_obs()["image"])


def test_visibility_is_process_vis_on_random_grids():
    rng = np.random.default_rng(0)
    for size in (3, 4, 5, 7, 9):
        for _ in range(200):
            grid = Grid(size, size)
            see_behind = np.ones((size, size), dtype=bool)
            for i, j in zip(*np.nonzero(rng.random((size, size)) < 0.3), strict=True):
                if rng.random() < 0.5:
                    grid.set(i, j, Wall())
                    see_behind[i, j] = False
                else:
                    door = Door("red", is_open=bool(rng.random() < 0.5))
                    grid.set(i, j, door)
                    see_behind[i, j] = door.is_open
            expected = grid.process_vis(agent_pos=(size // 2, size - 1))
            assert np.array_equal(visibility(see_behind), expected)


def test_egocentric_view_of_a_door_carried_key_and_unseen_cells():
    codes = np.zeros((6, 6, 3), dtype=np.uint8)
    codes[..., 0] = 1
    codes[:, 2] = (2, 5, 0)  # a wall across the room...
    codes[3, 2] = (4, 4, 1)  # ...with a closed yellow door, straight ahead of the agent
    view = egocentric_view(codes, (3, 4), agent_dir=3, view_size=5, carrying=(5, 4, 0))
    types = view[..., 0].T  # rows from the farthest to the agent's
    assert (types[:2] == 0).all()  # behind the wall and the door: not seen
    assert types[2].tolist() == [2, 2, 4, 2, 2]
    assert view[2, 4].tolist() == [5, 4, 0]  # the key the agent carries
    codes[3, 2, 2] = 0  # the door opens: the cells beyond it come into view
    view = egocentric_view(codes, (3, 4), agent_dir=3, view_size=5)
    assert view[2, 0].tolist() == [1, 0, 0] and view[2, 4].tolist() == [1, 0, 0]


def test_envs_that_compute_their_own_view_keep_it():
    class OwnView(DoorKeyEnv):
        def gen_obs(self):
            return super().gen_obs()

    env = OwnView(size=5)
    assert not use_fast_view(env)
    assert "gen_obs" not in vars(env)
    with pytest.raises(TypeError, match="MiniGridEnv"):
        use_fast_view(gym.make("CartPole-v1"))


def test_minigrid_env_serves_the_same_observations_either_way():
    fast = minigrid_env("MiniGrid-KeyCorridorS3R3-v0")()
    slow = minigrid_env("MiniGrid-KeyCorridorS3R3-v0", fast_view=False, int_actions=False)()
    assert "gen_obs" in vars(fast.unwrapped) and "gen_obs" not in vars(slow.unwrapped)
    rng = np.random.default_rng(0)
    for seed in range(2):
        a, _ = fast.reset(seed=seed)
        b, _ = slow.reset(seed=seed)
        for _ in range(100):
            assert a.dtype == b.dtype == np.float32 and np.array_equal(a, b)
            action = rng.choice(ACTIONS)  # a numpy integer, as a vector env gives
            a, reward_a, term_a, trunc_a, _ = fast.step(action)
            b, reward_b, term_b, trunc_b, _ = slow.step(action)
            assert (reward_a, term_a, trunc_a) == (reward_b, term_b, trunc_b)
            if term_a or trunc_a:
                break


def test_scaled_codes_by_table_are_the_division():
    codes = np.arange(256, dtype=np.uint8).reshape(-1, 1, 1)
    divided = codes.astype(np.float32).reshape(-1) / 10.0
    scaled = _scaled_codes(codes)
    assert scaled.dtype == np.float32 and np.array_equal(scaled, divided)
    assert np.array_equal(_scaled_codes(codes.astype(np.int64)), divided)


def test_only_numpy_integer_actions_are_converted():
    assert type(_int_action(np.int64(3))) is int and _int_action(np.uint8(2)) == 2
    action = np.array([3])  # anything else goes to MiniGrid as it came
    assert _int_action(action) is action and _int_action(4) == 4
