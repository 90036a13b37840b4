"""The designs and settings of the ``explore-minigrid`` suite, as data.

Each design is a reward spec that :func:`rewardkit.core.build_reward` builds
(or the same keys in a TOML/YAML file, see :mod:`rewardkit.core.spec`), plus
whether PPO gives the bonus its own value head. A user copies the spec of
the report to train with the same bonus. Where a design is ``seeded``, the
run's seed is added as ``seed``; ``scale`` (``--scale``) multiplies ``beta``.

Example:
    >>> design_spec("rnd", seed=1, scale=0.1)
    {'term': 'rnd_bonus', 'beta': 0.1, 'learning_rate': 0.0001, 'seed': 1}
    >>> design_spec("shaping", seed=1, scale=0.1)["term"]
    'potential_shaping'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DESIGNS",
    "DESIGN_LABELS",
    "DESIGN_TABLE",
    "EVAL_EPISODES",
    "GREEDY_EPISODES",
    "PPO_SETTINGS",
    "TASKS",
    "TASK_NOTES",
    "Design",
    "design_spec",
    "make_bonus",
]

TASKS = ("MiniGrid-DoorKey-8x8-v0", "MiniGrid-KeyCorridorS3R3-v0", "MiniGrid-MultiRoom-N4-S5-v0")
#: PPO settings of the suite; the rest are PPOConfig's CleanRL defaults. A learning
#: rate of 1e-3 (as in rl-starter-files for MiniGrid) instead of CleanRL's Atari 2.5e-4:
#: at 2.5e-4, sparse PPO learned DoorKey-8x8 in one seed of three within 1M frames.
PPO_SETTINGS: dict[str, Any] = {"learning_rate": 1e-3}
#: sampled-policy episodes per evaluation point; greedy episodes at the end
EVAL_EPISODES, GREEDY_EPISODES = 20, 10


@dataclass(frozen=True)
class Design:
    """One design: a label for the report, and the bonus as a reward spec.

    Attributes:
        label: what the bonus reads and how it is used.
        spec: the spec of the bonus (``None``: the task reward alone).
        own_head: PPO learns the bonus's return with its own value head.
        seeded: the spec takes the run's seed as ``seed``.
    """

    label: str
    spec: dict[str, Any] | None = field(default=None)
    own_head: bool = False
    seeded: bool = False


#: the designs, in report order (β values as in the published runs)
DESIGN_TABLE: dict[str, Design] = {
    "sparse": Design("task reward only (baseline)"),
    "count": Design(
        "exact counts of the agent's view, 0.005/sqrt(n)",
        {"term": "count_bonus", "beta": 0.005},
    ),
    "simhash": Design(
        "SimHash (32 bits) counts of the view, 0.005/sqrt(n)",
        {"term": "simhash_count_bonus", "beta": 0.005, "bits": 32},
        seeded=True,
    ),
    "rnd": Design(
        "RND on the view, own value head",
        {"term": "rnd_bonus", "beta": 1.0, "learning_rate": 1e-4},
        own_head=True,
        seeded=True,
    ),
    "rdd": Design(
        "RDD on the view, own value head",
        {"term": "rdd_bonus", "beta": 1.0, "learning_rate": 3e-4},
        own_head=True,
        seeded=True,
    ),
    "e3b": Design(
        "episodic elliptical bonus on a random projection of the view, 0.01 scale",
        {"term": "e3b_bonus", "beta": 0.01, "ridge": 0.1, "projection_dim": 32},
        seeded=True,
    ),
    "ecount": Design(
        "episodic counts of the view (reset every episode), 0.005/sqrt(n)",
        {"term": "episodic_count_bonus", "beta": 0.005},
    ),
    "shaping": Design(
        "potential-based, hand-written potential on the agent's view "
        "(carrying / open door in view / goal in view); task knowledge, not an oracle",
        {
            "term": "potential_shaping",
            "potential": "minigrid_view_progress",
            "gamma": float(PPO_SETTINGS.get("gamma", 0.99)),
        },
    ),
}
DESIGNS = tuple(DESIGN_TABLE)
#: how each design is labelled in the report (what it reads, and how it is used)
DESIGN_LABELS = {name: f"{name}: {design.label}" for name, design in DESIGN_TABLE.items()}

#: what a reader needs to know about a task, printed under its table
TASK_NOTES = {
    "MiniGrid-MultiRoom-N4-S5-v0": "minigrid 3.x registers this v0 with 6 rooms of size <= 5 "
    "and 120 steps (its docs call v0 misconfigured; v1 has the 4 rooms of the name and 80 "
    "steps). This is the environment named in the issue and rl-baselines3-zoo's unsolved entry.",
    "MiniGrid-KeyCorridorS3R3-v0": "3x3 rooms of size 3: find the key, open the locked door, "
    "drop the key, pick up the ball; 270 steps.",
    "MiniGrid-DoorKey-8x8-v0": "pick up the key, open the door, reach the goal; 640 steps.",
}


def design_spec(design: str, seed: int = 0, scale: float = 1.0) -> dict[str, Any] | None:
    """The spec of ``design`` for a run with ``seed``, ``beta`` multiplied by ``scale``
    (a shaping has no ``beta``: its size does not change optimal policies).

    Raises:
        ValueError: for an unknown design.
    """
    try:
        entry = DESIGN_TABLE[design]
    except KeyError:
        raise ValueError(f"unknown design {design!r}; choose from {DESIGNS}") from None
    if entry.spec is None:
        return None
    spec = dict(entry.spec)
    if "beta" in spec:
        spec["beta"] = spec["beta"] * scale
    if entry.seeded:
        spec["seed"] = seed
    return spec


def make_bonus(design: str, seed: int, scale: float = 1.0) -> tuple[Any, bool]:
    """(bonus term or None, whether it gets its own value head), built from the spec."""
    from rewardkit.core import build_reward

    spec = design_spec(design, seed, scale)
    return (None if spec is None else build_reward(spec)), DESIGN_TABLE[design].own_head
