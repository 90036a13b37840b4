"""The training half of ``rewardkit bench token-signals``: the char-level lab, trained for real.

The tiny char-level GPT-2 of the grpo-lab (warm-started on the task, cached)
is trained with rewardkit's GRPO trainer under each design, with the same
steps, prompts, group size and budget (equal samples), and evaluated before
and after: greedy accuracy and length on 300 held-out problems, and pass@k
(k = 1 … 64, the unbiased estimator) and the distinct-answer ratio from 64
samples at temperature 1 of 100 held-out problems.

Designs (reward, estimator):

- ``likelihood``: binary correctness (GRPO) vs the log-probability of the
  reference answer after the model's own reasoning, with no verifier (RLOO,
  the paper's baseline, and the objective's supervised term on the reference
  answer, ``LikelihoodReward.answer_loss``), the probability (VeriFree; the
  same), and binary correctness plus 0.1 × the log-probability (the verifier
  kept);
- ``length``: PEAR (correctness minus the thinking phase's excess entropy,
  the thinking phase being the column sums before ``>``) vs GRPO-λ (the
  length penalty on correct samples in groups at least 75 % correct);
- ``estimators``: on binary correctness, the perplexity weights, the
  positional bonus, Clip_B (at the paper's μ = 2.5, and at μ = 1: on this lab
  μ = 2.5 clips no token), negative-only updates and VERL's rank shaping
  (stride 4: the lab's completions are 20 tokens, the paper's stride of 40
  would leave ERV and ERA at 0);
- ``bstar``: binary GRPO with B-STaR's controller in the loop: every 50 steps
  it samples 16 training prompts 16 times at each temperature of the paper's
  grid (0.5 … 1.2) and sets the sampling temperature with the best balance
  score (n* = 4; threshold 0.5 on the binary reward).

The binary GRPO run is the baseline of all three.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DESIGNS", "TrainSpec", "evaluate", "run_before", "run_training"]

#: design -> (experiment, reward, estimator, estimator parameters)
DESIGNS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "binary": ("baseline", "binary", "grpo", {}),
    "log_prob": ("likelihood", "log_prob", "rloo", {}),
    "probability": ("likelihood", "probability", "rloo", {}),
    "binary_plus_log_prob": ("likelihood", "binary_plus_log_prob", "rloo", {}),
    "pear": ("length", "pear", "grpo", {}),
    "grpo_lambda": ("length", "grpo_lambda", "grpo", {}),
    "ppl_weight": ("estimators", "binary", "ppl_weight", {}),
    "position_bonus": ("estimators", "binary", "position_bonus", {}),
    "entropy_clip": ("estimators", "binary", "entropy_clip", {}),
    "entropy_clip_mu1": ("estimators", "binary", "entropy_clip", {"mu": 1.0}),
    "negative_only": ("estimators", "binary", "negative_only", {}),
    "rank_shaped": ("estimators", "binary", "rank_shaped", {"stride": 4}),
    "bstar": ("bstar", "binary", "grpo", {}),
}
#: B-STaR in the loop: a round every this many steps, on this many prompts x samples
BSTAR_EVERY, BSTAR_PROMPTS, BSTAR_SAMPLES = 50, 16, 16
PASS_KS = (1, 2, 4, 8, 16, 32, 64)


@dataclass(frozen=True)
class TrainSpec:
    """One training run."""

    task: str
    design: str
    seed: int
    steps: int


def build_reward(name: str, model: Any, tokenizer: Any, budget: int) -> tuple[Any, Any]:
    """The reward of a design (the likelihood and PEAR terms read ``model``, the policy), and
    the auxiliary loss it trains with (the likelihood objective's supervised term), or None."""
    from rewardkit.core.compose import weighted_sum
    from rewardkit.signals import LikelihoodReward, PhaseEntropyReward
    from rewardkit_bench.grpo_lab import build_reward as lab_reward
    from rewardkit_bench.tasks.arithmetic import ArithmeticAnswer

    correct = ArithmeticAnswer(missing_score=0.0, name="correct")
    if name == "binary":
        return correct, None
    if name == "grpo_lambda":
        return lab_reward("grpo_lambda", budget), None
    if name == "pear":
        return PhaseEntropyReward(model, tokenizer, correct, delimiter=">"), None
    kind = "probability" if name == "probability" else "log_prob"
    likelihood = LikelihoodReward(
        model, tokenizer, kind=kind, delimiter=">", append_eos=True, name=kind
    )
    if name == "binary_plus_log_prob":
        both = weighted_sum([correct, likelihood], weights=[1.0, 0.1], name="binary_plus_log_prob")
        return both, likelihood.answer_loss
    return likelihood, likelihood.answer_loss


def pass_at_k_eval(
    model: Any, tokenizer: Any, rows: list[dict[str, Any]], budget: int
) -> dict[str, Any]:
    """pass@k for k in :data:`PASS_KS` and the distinct-answer ratio over 64 samples a problem."""
    from rewardkit.audit.exploration import distinct_ratio, pass_at_k_curve
    from rewardkit.lm.sampling import sample_completions
    from rewardkit_bench.tasks.arithmetic import ArithmeticAnswer

    k = max(PASS_KS)
    samples = sample_completions(
        model, tokenizer, [r["prompt"] for r in rows], k, budget, temperature=1.0, seed=0
    )
    batch = {"completion": samples.texts, "answer": [r["answer"] for r in rows for _ in range(k)]}
    correct = np.nan_to_num(ArithmeticAnswer(missing_score=0.0)(batch).total, nan=0.0)
    outcomes = correct.reshape(len(rows), k)
    answers = [
        [
            text.rsplit(">", 1)[-1] if ">" in text else None
            for text in samples.texts[i * k : (i + 1) * k]
        ]
        for i in range(len(rows))
    ]
    curve = pass_at_k_curve(outcomes.tolist(), PASS_KS)
    return {"pass_at_k": {str(key): value for key, value in curve.items()},
            "distinct_ratio": distinct_ratio(answers)}  # fmt: skip


def answer_nll(model: Any, tokenizer: Any, rows: list[dict[str, Any]]) -> float:
    """Mean −log π(">" answer EOS | prompt, the reference column sums): the perplexity the
    likelihood paper reports, of the reference answer after reference reasoning."""
    from rewardkit.lm.scoring import score_continuations
    from rewardkit.lm.tokens import encode
    from rewardkit_bench.tasks.arithmetic import sft_completion

    contexts = [
        encode(tokenizer, r["prompt"] + sft_completion(r, "steps").rsplit(">", 1)[0] + ">")
        for r in rows
    ]
    answers = [[*encode(tokenizer, r["answer"]), tokenizer.eos_token_id] for r in rows]
    scores = score_continuations(model, contexts, answers, pad=tokenizer.pad_token_id)
    return float(-np.mean([s.total for s in scores]))


def evaluate(model: Any, tokenizer: Any, task: str, budget: int) -> dict[str, Any]:
    """Greedy accuracy and length (300 held-out problems), pass@k and distinct answers
    (100 of them, 64 samples each), and the reference answer's NLL (those 100)."""
    from rewardkit.train.grpo import evaluate_greedy
    from rewardkit_bench.tasks.arithmetic import ArithmeticAnswer, task_problems

    held_out = task_problems(task, 300, seed=99_999)
    greedy = evaluate_greedy(
        model, tokenizer, held_out, ArithmeticAnswer(missing_score=0.0), budget
    )
    return {
        "accuracy": greedy.accuracy,
        "length": greedy.mean_length,
        **pass_at_k_eval(model, tokenizer, held_out[:100], budget),
        "answer_nll": answer_nll(model, tokenizer, held_out[:100]),
    }


def run_before(task: str) -> dict[str, Any]:
    """The warm start's evaluation (the same for every design of ``task``)."""
    import torch

    from rewardkit_bench.grpo_lab import TASK_SETTINGS, load_policy

    torch.set_num_threads(1)
    start = time.monotonic()
    model, tokenizer = load_policy(None, task)
    result = evaluate(model, tokenizer, task, TASK_SETTINGS[task]["max_new_tokens"])
    return {"kind": "before", "task": task, **result, "seconds": time.monotonic() - start}


def run_training(spec: TrainSpec) -> dict[str, Any]:
    """Warm start → GRPO → evaluation, in this process (one thread)."""
    import torch

    from rewardkit.train.grpo import GRPOConfig, GRPOTrainer
    from rewardkit_bench.grpo_lab import TASK_SETTINGS, load_policy
    from rewardkit_bench.tasks.arithmetic import ArithmeticAnswer, task_problems

    torch.set_num_threads(1)
    start = time.monotonic()
    model, tokenizer = load_policy(None, spec.task)
    budget = TASK_SETTINGS[spec.task]["max_new_tokens"]
    experiment, reward_name, estimator, params = DESIGNS[spec.design]
    reward, auxiliary = build_reward(reward_name, model, tokenizer, budget)
    correct = ArithmeticAnswer(missing_score=0.0, name="correct")
    config = GRPOConfig(
        steps=spec.steps, prompts_per_step=8, group_size=8, max_new_tokens=budget,
        learning_rate=2e-4, estimator=estimator, estimator_params=dict(params), seed=spec.seed,
    )  # fmt: skip
    rows = task_problems(spec.task, 2000, seed=spec.seed + 17)
    callbacks = []
    if spec.design == "bstar":
        from rewardkit.audit.bstar import BStarCallback, BStarController, policy_sampler

        controller = BStarController(thresholds=(0.5,), n_star=4)
        sample = policy_sampler(
            model, tokenizer, rows[:BSTAR_PROMPTS], correct, correct, BSTAR_SAMPLES, budget
        )
        callbacks.append(BStarCallback(controller, sample, every=BSTAR_EVERY))
    trainer = GRPOTrainer(
        model, tokenizer, reward, rows, config, accuracy=correct, auxiliary_loss=auxiliary,
        callbacks=callbacks,
    )  # fmt: skip
    history = trainer.train()
    temperatures = [r["bstar/temperature"] for r in history if "bstar/temperature" in r]
    keys = ("step", "accuracy", "completion_length", "reward", "entropy")
    return {
        "kind": "train",
        "task": spec.task,
        "design": spec.design,
        "experiment": experiment,
        "seed": spec.seed,
        "steps": spec.steps,
        "after": evaluate(model, tokenizer, spec.task, budget),
        "sampled_tokens": float(sum(r["sampled_tokens"] for r in history)),
        "curve": [{k: round(float(r[k]), 4) for k in keys} for r in history[4::5]],
        "bstar_temperatures": temperatures,
        "seconds": time.monotonic() - start,
    }
