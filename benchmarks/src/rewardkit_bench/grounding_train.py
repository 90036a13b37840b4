"""Train the grounding lab's policy with GRPO's group advantages on one reward design.

Each step draws ``images_per_step`` scenes from a seeded training pool, samples
``group`` token sequences per scene, scores them with the design's rewardkit term,
turns the rewards into advantages with :func:`rewardkit.credit.grpo_advantages` (one
group per scene) and takes one policy-gradient step on −mean(A · log π(tokens)): GRPO
with a single update per batch, so its ratio is 1 and the clip never binds, and no KL
(the policy starts from scratch). Every design sees the same number of samples. The
policy is judged greedily on a held-out set drawn from another seed.

Example:
    >>> record = train_design("click", "binary hit", seed=0,
    ...                       settings=TrainSettings(steps=2, pool=16, test=8, eval_every=1))
    >>> "hit" in record["final"], [point["step"] for point in record["curve"]]
    (True, [0, 1, 2])
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from rewardkit.credit import grpo_advantages
from rewardkit_bench.grounding_designs import DESIGNS
from rewardkit_bench.grounding_metrics import summarize_metrics
from rewardkit_bench.grounding_policy import GroundingPolicy
from rewardkit_bench.grounding_tasks import TASKS, Task

__all__ = ["TrainSettings", "evaluate", "floor_unreadable", "train_design"]


@dataclass(frozen=True)
class TrainSettings:
    """One run's budget: equal for every design of a task."""

    steps: int = 300
    images_per_step: int = 32
    group: int = 8
    learning_rate: float = 1e-3
    pool: int = 2048
    test: int = 512
    eval_every: int = 50

    def __post_init__(self) -> None:
        for name in ("steps", "images_per_step", "pool", "test", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if self.group < 2:
            raise ValueError(
                f"group must be at least 2 (GRPO compares within a group), got {self.group}"
            )


def floor_unreadable(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rewards with each NaN (a sample its term could not read) set to the worst reward
    of its group, so an unreadable answer never beats a readable bad one; and the mask.

    Example:
        >>> floor_unreadable(np.array([1.0, np.nan, -2.0, np.nan]), np.array([0, 0, 0, 1]))
        (array([ 1., -2., -2.,  0.]), array([False,  True, False,  True]))
    """
    invalid = ~np.isfinite(values)
    floored = values.copy()
    for group in np.unique(groups[invalid]):
        members = groups == group
        finite = values[members & ~invalid]
        floored[members & invalid] = finite.min() if finite.size else 0.0
    return floored, invalid


def _tensors(task: Task, scenes: Any, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    images, instructions = task.inputs(scenes, idx)
    return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(instructions)


def evaluate(policy: GroundingPolicy, task: Task, scenes: Any, n: int) -> dict[str, float]:
    """Greedy metrics of ``policy`` over the first ``n`` scenes (means; NaN-free)."""
    idx = np.arange(n)
    with torch.no_grad():
        tokens, _ = policy.sample(*_tensors(task, scenes, idx), group=1, greedy=True)
    return summarize_metrics(task.name, task.metrics(tokens.numpy(), scenes, idx))


def train_design(
    task_name: str, design_name: str, seed: int, settings: TrainSettings
) -> dict[str, Any]:
    """Train one policy on ``task_name`` with reward design ``design_name``; its record."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    task, design = TASKS[task_name], DESIGNS[task_name][design_name]
    rng = np.random.default_rng(seed)
    pool = task.draw(settings.pool, 1_000 + seed)
    test = task.draw(settings.test, 90_000 + seed)
    difficulty = task.difficulty(pool) if task.difficulty is not None else None
    policy = GroundingPolicy(
        task.channels,
        task.size,
        task.instruction_sizes,
        task.slot_sizes,
        task.slot_kinds or None,
        frames=task.frames,
    )
    optimizer = torch.optim.Adam(policy.parameters(), lr=settings.learning_rate)
    reward = design.make_term()
    curve = [{"step": 0, **evaluate(policy, task, test, settings.test)}]
    rewards_seen, invalid_seen, parts_seen = [], [], {}
    start = time.perf_counter()
    for step in range(1, settings.steps + 1):
        eligible = np.arange(settings.pool)
        if design.curriculum is not None and difficulty is not None:
            cap = design.curriculum(step / settings.steps)
            eligible = np.flatnonzero(difficulty <= cap)
            if eligible.size == 0:
                raise ValueError(
                    f"no scene of the pool is at difficulty <= {cap}: enlarge the pool"
                )
        idx = rng.choice(eligible, size=settings.images_per_step)
        tokens, logp = policy.sample(*_tensors(task, pool, idx), group=settings.group)
        sample_idx = np.repeat(idx, settings.group)
        out = reward(task.columns(tokens.numpy(), pool, sample_idx))
        groups = np.repeat(np.arange(settings.images_per_step), settings.group)
        values, invalid = floor_unreadable(np.asarray(out.total, dtype=np.float64), groups)
        advantages = torch.as_tensor(grpo_advantages(values, groups), dtype=torch.float32)
        loss = -(advantages * logp).mean()
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        rewards_seen.append(float(values.mean()))
        invalid_seen.append(float(invalid.mean()))
        for name, part in out.terms.items():
            part = np.asarray(part, dtype=np.float64)
            parts_seen.setdefault(name, []).append(
                float(np.nanmean(part)) if np.isfinite(part).any() else float("nan")
            )
        if step % settings.eval_every == 0 or step == settings.steps:
            curve.append({"step": step, **evaluate(policy, task, test, settings.test)})
    return {"task": task_name, "design": design_name, "seed": seed, "settings": asdict(settings),
            "final": curve[-1], "curve": curve, "train_reward": rewards_seen[::10],
            "invalid": float(np.mean(invalid_seen)),
            "parts": {k: float(np.nanmean(v[-20:])) for k, v in parts_seen.items()},
            "seconds": time.perf_counter() - start}  # fmt: skip
