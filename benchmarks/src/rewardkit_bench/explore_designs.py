"""The designs and settings of the ``explore-minigrid`` suite, as data.

Each design is a reward spec that :func:`rewardkit.core.build_reward` builds
(or the same keys in a TOML/YAML file, see :mod:`rewardkit.core.spec`), plus
whether it is an exploration bonus (PPO scales it and gives it its own value
head) or a shaping added to the task reward. A user copies the spec of the
report to train with the same bonus. Where a design is ``seeded``, the run's
seed is added as ``seed``.

Example:
    >>> design_spec("rnd", seed=1)
    {'term': 'rnd_bonus', 'seed': 1}
    >>> design_spec("shaping", seed=1)["term"]
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
    "make_terms",
]

TASKS = (
    "MiniGrid-DoorKey-8x8-v0",
    "MiniGrid-KeyCorridorS3R3-v0",
    "MiniGrid-MultiRoom-N4-S5-v0",
    "MiniGrid-KeyCorridorS4R3-v0",
)
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
        bonus: an exploration bonus (PPO scales it and learns it with its own value head);
            ``False``: a shaping term added to the task reward.
        seeded: the spec takes the run's seed as ``seed``.
        claim: the paper behind the design and what it claims, for the report.
        drm: train with DrM-style dormant-ratio-guided perturbation
            (:class:`rewardkit.train.drm.DormantPerturbation`, defaults).
    """

    label: str
    spec: dict[str, Any] | None = field(default=None)
    bonus: bool = True
    seeded: bool = False
    claim: str = ""
    drm: bool = False


#: the designs, in report order. Every bonus runs with its shipped defaults: PPO divides
#: it by the running std of its discounted return, so β cancels, and learns it with its
#: own value head (PPOTrainer's defaults); shaping is added to the task reward instead.
DESIGN_TABLE: dict[str, Design] = {
    "sparse": Design("task reward only (baseline)"),
    "count": Design(
        "exact counts of the agent's view, beta/sqrt(n) (beta cancels)",
        {"term": "count_bonus"},
        claim="MBIE-EB (Strehl & Littman 2008): a beta/sqrt(n) bonus explores efficiently "
        "(PAC-MDP) in tabular MDPs",
    ),
    "simhash": Design(
        "SimHash (32 bits) counts of the view, beta/sqrt(n)",
        {"term": "simhash_count_bonus"},
        seeded=True,
        claim="Tang et al. 2017 (#Exploration): counts of SimHash codes give near "
        "state-of-the-art results on hard-exploration Atari and sparse continuous control",
    ),
    "rnd": Design(
        "RND on the view",
        {"term": "rnd_bonus"},
        seeded=True,
        claim="Burda et al. 2018: state of the art on Montezuma's Revenge, above average "
        "human without demonstrations",
    ),
    "rdd": Design(
        "RDD on the view",
        {"term": "rdd_bonus"},
        seeded=True,
        claim="Fang et al. 2025: a bonus that decays like a pseudo-count, better online "
        "exploration than RND-style prediction error",
    ),
    "e3b": Design(
        "episodic elliptical bonus on a random projection of the view",
        {"term": "e3b_bonus"},
        seeded=True,
        claim="Henaff et al. 2022 (E3B): state of the art on MiniHack's procedurally "
        "generated hard-exploration tasks, where counts of unique states fail",
    ),
    "ecount": Design(
        "episodic counts of the view (reset every episode), beta/sqrt(n)",
        {"term": "episodic_count_bonus"},
        claim="E3B's paper (Henaff et al. 2022): the episodic count is what makes "
        "procedurally generated tasks explorable (a strong baseline there)",
    ),
    "noveld": Design(
        "NovelD: RND novelty difference, paid on the first visit in the episode",
        {"term": "noveld_bonus"},
        seeded=True,
        claim="Zhang et al. 2021 (NovelD): solves all static procedurally generated MiniGrid "
        "tasks (KeyCorridor, ObstructedMaze, MultiRoom) within 120M steps",
    ),
    "toponav": Design(
        "TopoNav-style: a map of the views seen, a bonus for a new node and for reaching "
        "the nearest frontier node",
        {"term": "toponav_bonus"},
        claim="TopoNav (2024): a topological map's subgoals and their intrinsic reward "
        "explore sparse-reward navigation faster than flat exploration bonuses",
    ),
    "drm": Design(
        "task reward only, with DrM-style perturbation: every 100k frames the networks "
        "shrink toward a fresh init by the actor's dormant ratio",
        bonus=False,
        drm=True,
        claim="DrM (Xu et al. 2024): minimizing the dormant ratio by perturbation leaves "
        "no broken seeds (0 of 76 runs failed where baselines fail some)",
    ),
    "shaping": Design(
        "potential-based, hand-written potential on the agent's view "
        "(carrying / open door in view / goal in view), added to the task reward; task "
        "knowledge, not an oracle",
        {
            "term": "potential_shaping",
            "potential": "minigrid_view_progress",
            "gamma": float(PPO_SETTINGS.get("gamma", 0.99)),
        },
        bonus=False,
        claim="Ng, Harada & Russell 1999: potential-based shaping leaves the optimal "
        "policies unchanged",
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
    "MiniGrid-KeyCorridorS4R3-v0": "3x3 rooms of size 4 (a 10x10 grid), the same task as "
    "S3R3; 480 steps.",
    "MiniGrid-DoorKey-8x8-v0": "pick up the key, open the door, reach the goal; 640 steps.",
}


def design_spec(design: str, seed: int = 0) -> dict[str, Any] | None:
    """The spec of ``design`` for a run with ``seed``.

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
    if entry.seeded:
        spec["seed"] = seed
    return spec


def make_terms(design: str, seed: int) -> tuple[Any, Any]:
    """(reward term, bonus term) for PPOTrainer, built from the spec; either may be None
    (a shaping design replaces the reward by task reward + shaping)."""
    from rewardkit.core import build_reward, env_reward, weighted_sum

    spec = design_spec(design, seed)
    if spec is None:
        return None, None
    term = build_reward(spec)
    if DESIGN_TABLE[design].bonus:
        return None, term
    return weighted_sum([env_reward(), term], name="shaped"), None
