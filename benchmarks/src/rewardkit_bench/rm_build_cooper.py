"""Cooper in ``rewardkit bench rm-lab``: GRPO against a learned, reference-aware reward model,
frozen or updated at every step on verifier-chosen pairs (Cooper-style), the gold watching.

Per seed, one tiny char-level Bradley–Terry RM (the rm-overoptimization shape) reads
``prompt | reference ; completion`` (:func:`rewardkit.models.reference_prompt` with the
markers ``|`` and ``;``) and is fitted on (right, wrong) pairs of the warm start's own
samples (1,500 training problems x 8 samples, at most 4,000 pairs, 3 epochs), cached.
Then, at equal samples with the loop's other designs:

- ``rm_frozen``: GRPO's reward is the RM, never updated (what Cooper guards against);
- ``cooper``: the same RM as a :class:`rewardkit.models.CooperStyleReward`: after every policy
  step, one positive per prompt among the samples the verifier marks right, its final
  number rewritten to a wrong one (:class:`rewardkit.models.FinalNumberCorruption`, the
  rule-based stand-in for the paper's assistant-LLM rewrite), one AdamW step of the BT loss
  at a rate of 1e-4 (:data:`ONLINE_RATE`; the RM was fitted at 3e-3);
- ``brain``: the frozen RM's score as log p(G=1 | x, y) (scale s = 1), trained by the
  BRAIn-style gradient (:class:`rewardkit.train.brain.BRAInStyleEstimator`: the samples'
  self-normalised weights toward p_ref · exp(r), p_ref the warm start, instead of GRPO's
  group-normalised advantage);
- ``rm_frozen_kl``: GRPO on the frozen RM with a KL penalty to the warm start at
  ``kl_coef = 1 / BRAIN_SCALE`` (the β whose KL-regularised optimum is BRAIn's target):
  the regularised baseline BRAIn must beat.

Both are scored like the loop's designs (held-out greedy gold accuracy, steps, repeats)
and by the RM's paired accuracy on held-out (right, wrong) pairs after training (is the
RM still right about the policy's new samples?).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["COOPER_DESIGNS", "fit_reference_rm", "run_cooper"]

COOPER_DESIGNS = ("rm_frozen", "cooper", "brain", "rm_frozen_kl")
MARKS = ("|", ";")
CACHE = Path("runs") / "rm-lab-cache"
PAIRS, EPOCHS = 4000, 3.0
#: the online updates' AdamW rate (the RM's own fit uses 3e-3; a first Adam step moves every
#: weight by about the rate, and 3e-3 on one batch of <= 8 pairs cut the RM's accuracy on the
#: policy's pairs from 0.82 to 0.68 in 10 steps of a trial run)
ONLINE_RATE = 1e-4
#: s of the BRAIn design: the target is p_ref · exp(s · r) over the RM's score r
BRAIN_SCALE = 1.0


def _with_reference(pairs: list[dict[str, Any]], answers: dict[str, str]) -> list[dict[str, Any]]:
    from rewardkit.models import reference_prompt

    return [p | {"prompt": reference_prompt(p["prompt"], answers[p["prompt"]], MARKS)}
            for p in pairs]  # fmt: skip


def fit_reference_rm(seed: int) -> tuple[Any, dict[str, Any]]:
    """The seed's reference-aware RM (fitted once, cached) and its held-out pairs."""
    import torch

    from rewardkit.models import PreferenceRewardModel, RewardModelTraining
    from rewardkit_bench.grpo_lab import load_policy
    from rewardkit_bench.rm_build_loop import TASK
    from rewardkit_bench.rm_lab import RM_SHAPE, LabSettings, sampled_pairs
    from rewardkit_bench.tasks.arithmetic import task_alphabet, task_problems

    torch.set_num_threads(1)
    settings = LabSettings(task=TASK)
    path = CACHE / f"cooper-rm-{TASK}-seed{seed}"
    if (path / "done").is_file():
        return PreferenceRewardModel.load(path), json.loads((path / "done").read_text())
    answers = {  # the prompts sampled_pairs draws, by its seeds
        r["prompt"]: r["answer"]
        for offset, count in ((1000, settings.pair_prompts), (2000, settings.held_out_prompts))
        for r in task_problems(TASK, count, seed=offset + seed)
    }
    model, tokenizer = load_policy(None, TASK)
    found = sampled_pairs(settings, seed, model, tokenizer)
    train = _with_reference(found["train"], answers)
    rng = np.random.default_rng(seed)
    train = [train[i] for i in rng.permutation(len(train))[:PAIRS]]
    held_out = _with_reference(found["held_out"], answers)
    rm = PreferenceRewardModel.tiny(task_alphabet(TASK) + "".join(MARKS), seed=seed, **RM_SHAPE)
    rm.fit(train, RewardModelTraining(epochs=EPOCHS, seed=seed))
    info = {"held_out": held_out, "train_pairs": len(train),
            "held_out_accuracy": rm.pair_accuracy(held_out)}  # fmt: skip
    rm.save(path)
    (path / "done").write_text(json.dumps(info))
    return rm, info


def _fresh_pairs(model: Any, tokenizer: Any, seed: int) -> list[dict[str, Any]]:
    """(right, wrong) pairs of the trained policy's own samples on 300 held-out problems."""
    import torch

    from rewardkit.steer.sampling import sample_completions
    from rewardkit_bench.rm_build_loop import TASK
    from rewardkit_bench.rm_lab import completion_budget, gold_term, preference_pairs, rows_batch
    from rewardkit_bench.tasks.arithmetic import task_problems

    rows = task_problems(TASK, 300, seed=3000 + seed)
    torch.manual_seed(3000 + seed)
    texts = sample_completions(model, tokenizer, [r["prompt"] for r in rows], 8,
                               completion_budget(TASK)).texts  # fmt: skip
    labels = gold_term(TASK)(rows_batch(rows, texts, 8)).total
    pairs = preference_pairs(rows, texts, labels, 8, 0.0, seed)
    return _with_reference(pairs, {r["prompt"]: r["answer"] for r in rows})


def _frozen_class() -> Any:
    from rewardkit.models import CooperStyleReward

    class Frozen(CooperStyleReward):
        """The same reference-aware RM as a reward, never updated."""

        def update(self, batch: Any) -> dict[str, float]:
            return {}

    return Frozen


def run_cooper(spec: Any) -> dict[str, Any]:
    """Warm start → GRPO against the frozen or the Cooper-updated RM → held-out figures."""
    import torch

    from rewardkit.models import CooperStyleReward, FinalNumberCorruption
    from rewardkit.train.grpo import GRPOConfig, GRPOTrainer
    from rewardkit_bench.grpo_lab import load_policy
    from rewardkit_bench.rm_build_loop import TASK, held_out_figures
    from rewardkit_bench.rm_lab import completion_budget, gold_term
    from rewardkit_bench.tasks.arithmetic import task_problems

    torch.set_num_threads(1)
    start = time.monotonic()
    _Frozen = _frozen_class()
    rm, info = fit_reference_rm(spec.seed)
    model, tokenizer = load_policy(None, TASK)
    gold = gold_term(TASK)
    from rewardkit.train.brain import BRAInStyleEstimator

    kind = CooperStyleReward if spec.design == "cooper" else _Frozen
    reward = kind(
        rm, gold, FinalNumberCorruption(seed=spec.seed), seed=spec.seed, markers=MARKS,
        learning_rate=ONLINE_RATE, name="rm",
    )  # fmt: skip
    kl = 1.0 / BRAIN_SCALE if spec.design == "rm_frozen_kl" else 0.0
    config = GRPOConfig(
        steps=spec.steps, prompts_per_step=8, group_size=8, max_new_tokens=completion_budget(TASK),
        learning_rate=2e-4, seed=spec.seed, kl_coef=kl,
    )  # fmt: skip
    rows = task_problems(TASK, 2000, seed=spec.seed + 17)
    estimator = BRAInStyleEstimator(scale=BRAIN_SCALE) if spec.design == "brain" else None
    trainer = GRPOTrainer(model, tokenizer, reward, rows, config, accuracy=gold,
                          estimator=estimator)  # fmt: skip
    history = trainer.train()
    accuracy = [float(r["accuracy"]) for r in history]
    keys = ("step", "accuracy", "completion_length", "reward")
    pairs = [float(r.get("reward/rm/pairs", 0.0)) for r in history]
    return {
        "kind": "train",
        "design": spec.design,
        "seed": spec.seed,
        "steps": spec.steps,
        "eta": None,
        "after": held_out_figures(model, tokenizer),
        "gold_peak": max(accuracy),
        "gold_last20": statistics.fmean(accuracy[-20:]),
        "rm_held_out_before": info["held_out_accuracy"],
        "rm_on_policy_after": rm.pair_accuracy(_fresh_pairs(model, tokenizer, spec.seed)),
        "rm_updates": float(sum(p > 0 for p in pairs)),
        "curve": [{k: round(float(r[k]), 4) for k in keys} for r in history[4::5]],
        "seconds": time.monotonic() - start,
    }
