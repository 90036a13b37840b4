"""MiniGrid DoorKey in words: captions of states and transitions, with the env's own truth.

A language model reads the grid as text: what the agent holds, the door's
state, the cell ahead and (optionally) where the key, door and goal lie
relative to the agent, all written from the env's state (not its pixels).
:func:`doorkey_transitions` steps a random agent and keeps, for every
transition, its caption (before, action, after) and three predicates read
from the env: the key was picked up, the door was opened, the goal was
reached in that step. The benchmarks of :mod:`rewardkit.author` (the CALM-style
subgoal judgments, the ONI-style labels) use them as the lab task; the predicates
are the ground truth the model's judgments are compared with.

Example:
    >>> rows = doorkey_transitions(200, seed=0)
    >>> print(rows[0]["caption"].splitlines()[1])
    Action: move forward
    >>> rows[0]["truth"]
    (False, False, False)
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import minigrid  # noqa: F401  (registers the MiniGrid envs)
import numpy as np
from minigrid.core.world_object import Door, Goal, Key

from rewardkit.author.subgoals import transition_caption

__all__ = ["ACTIONS", "DOORKEY", "POLICY", "doorkey_caption", "doorkey_transitions"]

DOORKEY = "MiniGrid-DoorKey-5x5-v0"
#: MiniGrid's seven actions, in words
ACTIONS = ("turn left", "turn right", "move forward", "pick up", "drop", "toggle", "done")
#: the random agent's action probabilities: no drop, no done
POLICY = np.array([0.2, 0.2, 0.3, 0.15, 0.0, 0.15, 0.0])


def _find(grid: Any, kind: type) -> Any:
    for index, cell in enumerate(grid.grid):
        if isinstance(cell, kind):
            return cell, (index % grid.width, index // grid.width)
    return None, None


def _where(env: Any, pos: tuple[int, int]) -> str:
    delta = np.asarray(pos) - np.asarray(env.agent_pos)
    ahead, right = int(delta @ env.dir_vec), int(delta @ env.right_vec)
    parts = [f"{abs(ahead)} {'ahead' if ahead > 0 else 'behind'}"] if ahead else []
    parts += [f"{abs(right)} to your {'right' if right > 0 else 'left'}"] if right else []
    return " and ".join(parts) or "here"


def doorkey_caption(env: Any, *, positions: bool = True) -> str:
    """One DoorKey state in words, from the grid: what the agent holds, the door, the cell
    ahead, and (``positions``) where the key, door and goal are relative to the agent."""
    u = env.unwrapped
    door, door_pos = _find(u.grid, Door)
    key, key_pos = _find(u.grid, Key)
    ahead = u.grid.get(*u.front_pos)
    names = {Key: "the key", Door: "the door", Goal: "the green goal square"}
    front = "a wall" if ahead is not None and ahead.type == "wall" else "empty floor"
    state = "open" if door.is_open else "locked" if door.is_locked else "closed"
    text = f"You hold {'the key' if u.carrying else 'nothing'}. The door is {state}. "
    text += f"Ahead of you is {names.get(type(ahead), front)}."
    if positions:
        text += f" The key is {_where(u, key_pos)}." if key is not None and not u.carrying else ""
        _, goal_pos = _find(u.grid, Goal)
        text += f" The door is {_where(u, door_pos)}. The goal is {_where(u, goal_pos)}."
    return text


def doorkey_transitions(steps: int, seed: int) -> list[dict[str, Any]]:
    """``steps`` transitions of the random agent, each with its caption, its action and the
    env's own predicates (key picked up, door opened, goal reached in that step)."""
    env = gym.make(DOORKEY)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    rows = []
    for _ in range(steps):
        u: Any = env.unwrapped
        door, _ = _find(u.grid, Door)
        before, had_key, was_open = doorkey_caption(env), u.carrying is not None, door.is_open
        action = int(rng.choice(len(POLICY), p=POLICY))
        _, reward, terminated, truncated, _ = env.step(action)
        reached = bool(terminated and float(reward) > 0)
        after = "You stand on the green goal square." if reached else doorkey_caption(env)
        truth = (not had_key and u.carrying is not None, not was_open and door.is_open, reached)
        rows.append(
            {
                "caption": transition_caption(before, ACTIONS[action], after),
                "action": action,
                "truth": truth,
                "terminated": bool(terminated),
                "truncated": bool(truncated),
            }
        )
        if terminated or truncated:
            env.reset(seed=int(rng.integers(2**31)))
    env.close()
    return rows
