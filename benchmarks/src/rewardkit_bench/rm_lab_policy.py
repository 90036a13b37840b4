"""One RL run of the ``rm-overoptimization`` lab (:func:`train_policy`): GRPO against one
design's reward, with gold, the plain proxy, the optimized reward and √KL(π‖π_init) measured on
held-out prompts every ``eval_every`` steps."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from rewardkit_bench.rm_lab import (
    DR_GRPO_DESIGNS,
    LabSettings,
    PolicyUnit,
    completion_budget,
    gold_term,
    policy,
    quiet,
    reward_terms,
    rows_batch,
)

__all__ = ["train_policy"]


def _design_reward(design: str, terms: Mapping[str, Any]) -> Any:
    """What ``design`` optimizes, built from the seed's learned rewards ``terms``."""
    from rewardkit.shaping.par import preference_as_reward

    if design == "gold":
        return gold_term()
    if design in ("rm", "rm_dr", "kl_penalty"):
        return terms["rm"]
    if design in ("par", "par_dr"):
        return preference_as_reward(terms["rm"], reference="reference", name="par")
    return terms[design]


def _with_references(
    rows: list[dict[str, Any]], model: Any, tokenizer: Any, budget: int, seed: int
) -> list[dict[str, Any]]:
    """``rows`` with a ``reference`` column: one completion of the initial policy each (PAR)."""
    import torch

    from rewardkit.steer.sampling import sample_completions

    torch.manual_seed(5000 + seed)
    texts = sample_completions(model, tokenizer, [r["prompt"] for r in rows], 1, budget).texts
    return [{**row, "reference": text} for row, text in zip(rows, texts, strict=True)]


def _evaluate(
    step: int,
    model: Any,
    reference: Any,
    tokenizer: Any,
    rows: list[dict[str, Any]],
    settings: LabSettings,
    rewards: Mapping[str, Any],
) -> dict[str, float]:
    from rewardkit.steer.sampling import sample_completions

    k = settings.eval_samples
    samples = sample_completions(
        model,
        tokenizer,
        [r["prompt"] for r in rows],
        k,
        completion_budget(settings.task),
        reference=reference,
    )
    batch = rows_batch(rows, samples.texts, k)
    batch["reference"] = [r["reference"] for r in rows for _ in range(k)]
    kl = max(float(np.mean(samples.log_ratio)), 0.0)
    record = {"step": float(step), "kl": kl, "d": kl**0.5, "length": float(samples.lengths.mean())}
    for key, term in rewards.items():
        record[key] = float(np.nanmean(term(batch).total))
    return record


def train_policy(unit: PolicyUnit) -> dict[str, Any]:
    """GRPO against one design's reward, measured every ``eval_every`` steps."""
    import torch

    from rewardkit.audit.overoptimization import peak_and_drop
    from rewardkit.train.grpo import GRPOConfig, GRPOTrainer
    from rewardkit_bench.tasks.arithmetic import task_problems

    quiet()
    settings, design, seed = unit.settings, unit.design, unit.seed
    start = time.monotonic()
    model, tokenizer = policy(settings)
    initial = copy.deepcopy(model).eval()
    budget = completion_budget(settings.task)
    train_rows = task_problems(settings.task, 2000, seed=seed + 17)
    eval_rows = task_problems(settings.task, settings.eval_prompts, seed=99_999)
    train_rows = _with_references(train_rows, initial, tokenizer, budget, seed)
    eval_rows = _with_references(eval_rows, initial, tokenizer, budget, seed + 1)
    terms = reward_terms(settings, seed)
    optimized = _design_reward(design, terms)
    rewards = {"gold": gold_term(settings.task), "proxy": terms["rm"], "optimized": optimized}
    config = GRPOConfig(
        steps=settings.steps, prompts_per_step=8, group_size=8, max_new_tokens=budget,
        learning_rate=settings.learning_rate, seed=seed, loss_aggregation="token_mean",
        kl_coef=settings.kl_coef if design == "kl_penalty" else 0.0,
        estimator="dr_grpo" if design in DR_GRPO_DESIGNS else "grpo",
    )  # fmt: skip
    trainer = GRPOTrainer(model, tokenizer, optimized, train_rows, config)
    torch.manual_seed(7000 + seed)
    curve = [_evaluate(0, model, initial, tokenizer, eval_rows, settings, rewards)]
    for index in range(settings.steps):
        trainer.step(index)
        if (index + 1) % settings.eval_every == 0 or index + 1 == settings.steps:
            curve.append(
                _evaluate(index + 1, model, initial, tokenizer, eval_rows, settings, rewards)
            )
    peak, peak_step, fallen_step = peak_and_drop(
        [r["step"] for r in curve], [r["gold"] for r in curve]
    )
    return {
        "kind": "policy",
        "design": design,
        "seed": seed,
        "curve": [{k: round(v, 5) for k, v in r.items()} for r in curve],
        "gold_initial": curve[0]["gold"],
        "gold_final": curve[-1]["gold"],
        "gold_peak": peak,
        "gold_peak_step": peak_step,
        "gold_fell_10pct_step": fallen_step,
        "proxy_initial": curve[0]["proxy"],
        "proxy_final": curve[-1]["proxy"],
        "kl_final": curve[-1]["kl"],
        "seconds": time.monotonic() - start,
    }
