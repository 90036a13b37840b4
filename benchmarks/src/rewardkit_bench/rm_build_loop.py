"""The in-the-loop half of ``rewardkit bench rm-lab``: GRPO with a learned process reward
model's step rewards, as they are and refined by Clip and Delta, the gold verifier watching.

The char-level lab on reasoning-gym's ``chain_sum`` (the grpo-lab's warm-started tiny
GPT-2; a completion is the running sums, comma-separated, then ``>`` and the answer).
Per seed, one PRM (:func:`rewardkit_bench.steer_models.fit_lab_prm`: Math-Shepherd soft
labels from 8 rollouts a step prefix of the warm start's own samples, steps split at
``,``) is fitted once and cached; then every design trains the same warm start for the
same steps, prompts and group size (equal samples):

- ``outcome``: binary correctness, GRPO (no PRM);
- ``prm``: the outcome advantage plus the PRM's process advantage
  (:class:`rewardkit.credit.ProcessEstimator`, weight 1), step rewards as the PRM gives them;
- ``oprl``: OPRL-style (:class:`rewardkit.train.implicit_prm.ImplicitPRMStepRewards`): an
  implicit PRM, a copy of the warm start, trained at every step by trajectory DPO on the
  batch's (right, wrong) pairs (β = 0.05, AdamW at the policy's rate), its step rewards
  β·log π_φ/π_old into A = A^E + A^S (the ``oprl`` estimator);
- ``prm_solution``, ``prm_delta_solution``: the raw and the Delta'd PRM with the whole
  solution's process return on every token (``credit="solution"``) instead of each step's
  return on its tokens;
- ``prm_clip``, ``prm_delta``, ``prm_clip_delta``: the same after Clip, Delta, or both
  (Gao et al. 2024, :mod:`rewardkit.shaping.process`); Clip's threshold η is the median
  of the PRM's step scores on the warm start's own samples (the PRM's scale: on this lab
  most step scores lie far below 0.5); ``prm_clip_half``: Clip at η = 0.5.

Measured after training, greedy on 300 held-out problems: gold accuracy (reasoning-gym's
scorer), steps a completion, and the share of completions that repeat a step (the same
running sum twice in a row: the exploit Clip and Delta target); during training, the
batch's gold accuracy (peak and the last 20 steps' mean).

The planted exploit (:func:`exploit_table`): each held-out problem's reference solution
with its first step repeated r = 0…4 times, scored by the PRM: the process return
Σ_k r̃_k under each refinement (Clip at the median η). Repeats should pay only without one.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DESIGNS",
    "OPRL",
    "LoopSpec",
    "exploit_table",
    "fit_prm",
    "held_out_figures",
    "run_before",
    "run_loop",
]

TASK = "chain_sum"
#: design -> (the process estimator's refinement, Clip's η, its credit); None: outcome-only
#: GRPO. η "median" is the median of the seed's PRM over the warm start's own steps; credit
#: "token" gives each step's tokens its return, "solution" every token the whole return
DESIGNS: dict[str, tuple[str, float | str, str] | None] = {
    "outcome": None,
    "prm": ("none", 0.0, "token"),
    "prm_clip": ("clip", "median", "token"),
    "prm_delta": ("delta", 0.0, "token"),
    "prm_clip_delta": ("clip_delta", "median", "token"),
    "prm_clip_half": ("clip", 0.5, "token"),
    "prm_solution": ("none", 0.0, "solution"),
    "prm_delta_solution": ("delta", 0.0, "solution"),
}
#: OPRL-style: an implicit PRM (a copy of the warm start) trained online by trajectory DPO
OPRL = "oprl"
REPEATS = (0, 1, 2, 3, 4)
CACHE = Path("runs") / "rm-lab-cache"


@dataclass(frozen=True)
class LoopSpec:
    """One training run."""

    design: str
    seed: int
    steps: int


def _prm_path(seed: int) -> Path:
    return CACHE / f"prm-{TASK}-seed{seed}"


def fit_prm(seed: int) -> tuple[Any, float]:
    """The seed's PRM on the warm start's samples, fitted once and cached, and the median
    of its step scores over the warm start's own samples of 200 other problems (Clip's
    calibrated η)."""
    import torch

    from rewardkit.lm.sampling import sample_completions
    from rewardkit.models import ProcessRewardModel
    from rewardkit_bench.grpo_lab import load_policy
    from rewardkit_bench.rm_lab import completion_budget
    from rewardkit_bench.steer_models import fit_lab_prm
    from rewardkit_bench.tasks.arithmetic import task_problems

    path = _prm_path(seed)
    if (path / "done").is_file():
        return ProcessRewardModel.load(path), float(json.loads((path / "done").read_text()))
    torch.set_num_threads(1)
    model, tokenizer = load_policy(None, TASK)
    prm = fit_lab_prm(TASK, seed, model, tokenizer)
    rows = task_problems(TASK, 200, seed=8000 + seed)
    prompts = [r["prompt"] for r in rows]
    texts = sample_completions(
        model, tokenizer, prompts, 4, completion_budget(TASK), temperature=1.0, seed=seed
    ).texts
    scores, _ = prm.step_scores([p for p in prompts for _ in range(4)], texts)
    median = float(np.median(np.concatenate([s for s in scores if len(s)])))
    prm.save(path)
    (path / "done").write_text(json.dumps(median))
    return prm, median


def clip_eta(setting: float | str, median: float) -> float:
    """Clip's η of a design: a number, or the PRM's median step score."""
    return median if setting == "median" else float(setting)


def _steps(text: str) -> list[str]:
    """The running sums before ``>`` (the answer not counted as a step)."""
    body = text.split(">", 1)[0]
    return [s for s in body.split(",") if s] if body else []


def shape_stats(texts: list[str]) -> dict[str, float]:
    """Steps a completion, and the share of completions repeating a step in a row.

    Example:
        >>> shape_stats(["1,3>3", "1,1,3>3"])
        {'steps': 2.5, 'repeat_rate': 0.5}
    """
    steps = [_steps(t) for t in texts]
    repeats = [any(a == b for a, b in itertools.pairwise(s)) for s in steps]
    return {
        "steps": float(np.mean([len(s) for s in steps])),
        "repeat_rate": float(np.mean(repeats)),
    }


def padding_stats(texts: list[str], references: list[list[str]]) -> dict[str, float]:
    """Steps beyond the reference solution's, and repeats where the reference has none
    (a running sum can repeat legitimately: a third operand of 0).

    Example:
        >>> padding_stats(["1,1,3>3", "1,1>1"], [["1", "3"], ["1", "1"]])
        {'extra_steps': 0.5, 'padded_repeat_rate': 0.5}
    """
    extra, padded = [], []
    for text, reference in zip(texts, references, strict=True):
        steps = _steps(text)
        legit = any(a == b for a, b in itertools.pairwise(reference))
        extra.append(max(0, len(steps) - len(reference)))
        padded.append(not legit and any(a == b for a, b in itertools.pairwise(steps)))
    return {"extra_steps": float(np.mean(extra)), "padded_repeat_rate": float(np.mean(padded))}


#: held-out prompts and samples a prompt of the KL estimate
KL_PROMPTS, KL_SAMPLES = 100, 4


def kl_to_warm_start(model: Any, tokenizer: Any) -> float:
    """KL(π ‖ π_warm) on held-out prompts: the mean of log π(y) − log π_warm(y) over
    samples y ~ π (4 each of 100 problems, seeded), floored at 0 as rm-overoptimization's."""
    from rewardkit.lm import evaluating
    from rewardkit.lm.sampling import sample_completions
    from rewardkit_bench.grpo_lab import load_policy
    from rewardkit_bench.rm_lab import completion_budget
    from rewardkit_bench.tasks.arithmetic import task_problems

    warm, _ = load_policy(None, TASK)
    rows = task_problems(TASK, KL_PROMPTS, seed=99_998)
    with evaluating(model), evaluating(warm):
        samples = sample_completions(model, tokenizer, [r["prompt"] for r in rows], KL_SAMPLES,
                                     completion_budget(TASK), reference=warm,
                                     seed=99_998)  # fmt: skip
    return max(float(np.mean(samples.log_ratio)), 0.0)


def held_out_figures(model: Any, tokenizer: Any) -> dict[str, Any]:
    """Greedy gold accuracy, length, steps, repeats and padding on 300 held-out problems,
    and the KL to the warm start."""
    from rewardkit.train.grpo import evaluate_greedy
    from rewardkit_bench.rm_lab import completion_budget, gold_term
    from rewardkit_bench.tasks.arithmetic import task_problems

    rows = task_problems(TASK, 300, seed=99_999)
    greedy = evaluate_greedy(model, tokenizer, rows, gold_term(TASK), completion_budget(TASK))
    texts = list(greedy.completions)
    return {"accuracy": greedy.accuracy, "length": greedy.mean_length, **shape_stats(texts),
            **padding_stats(texts, [list(r["partial_sums"]) for r in rows]),
            "kl_to_warm_start": kl_to_warm_start(model, tokenizer)}  # fmt: skip


def run_before() -> dict[str, Any]:
    """The warm start's held-out figures."""
    import torch

    from rewardkit_bench.grpo_lab import load_policy

    torch.set_num_threads(1)
    model, tokenizer = load_policy(None, TASK)
    return {"kind": "before", **held_out_figures(model, tokenizer)}


def run_loop(spec: LoopSpec) -> dict[str, Any]:
    """Warm start → GRPO under the design → held-out figures (one thread)."""
    import torch

    from rewardkit.credit import ProcessStepRewards
    from rewardkit.train.grpo import GRPOConfig, GRPOTrainer
    from rewardkit_bench.grpo_lab import load_policy
    from rewardkit_bench.rm_lab import completion_budget, gold_term
    from rewardkit_bench.tasks.arithmetic import ArithmeticAnswer, task_problems

    torch.set_num_threads(1)
    start = time.monotonic()
    design = DESIGNS.get(spec.design)
    model, tokenizer = load_policy(None, TASK)
    correct = ArithmeticAnswer(missing_score=0.0, name="correct")
    step_rewards: Any = None
    estimator, params, eta, callbacks = "grpo", {}, None, []
    if spec.design == OPRL:
        from rewardkit.train.implicit_prm import ImplicitPRMStepRewards

        step_rewards = ImplicitPRMStepRewards(
            model, tokenizer, correct, ",", beta=0.05, learning_rate=2e-4, seed=spec.seed
        )
        estimator, params = "oprl", {"alpha": 1.0}
        callbacks.append(step_rewards.record_metrics)
    elif design is not None:
        prm, median = fit_prm(spec.seed)
        eta = clip_eta(design[1], median)
        step_rewards = ProcessStepRewards(prm, tokenizer)
        estimator = "process"
        params = {"refinement": design[0], "eta": eta, "weight": 1.0, "credit": design[2]}
    config = GRPOConfig(
        steps=spec.steps, prompts_per_step=8, group_size=8, max_new_tokens=completion_budget(TASK),
        learning_rate=2e-4, estimator=estimator, estimator_params=params, seed=spec.seed,
    )  # fmt: skip
    rows = task_problems(TASK, 2000, seed=spec.seed + 17)
    trainer = GRPOTrainer(
        model, tokenizer, correct, rows, config, accuracy=gold_term(TASK),
        step_rewards=step_rewards, callbacks=callbacks,
    )  # fmt: skip
    history = trainer.train()
    gold = [float(r["accuracy"]) for r in history]
    keys = ("step", "accuracy", "completion_length")
    return {
        "kind": "train",
        "design": spec.design,
        "seed": spec.seed,
        "steps": spec.steps,
        "eta": eta,
        "after": held_out_figures(model, tokenizer),
        "gold_peak": max(gold),
        "gold_last20": statistics.fmean(gold[-20:]),
        "curve": [{k: round(float(r[k]), 4) for k in keys} for r in history[4::5]],
        "seconds": time.monotonic() - start,
    }


def exploit_table(seed: int, problems: int = 100) -> dict[str, Any]:
    """The planted step-repeat exploit under the seed's PRM (see the module docs)."""
    import torch

    from rewardkit.shaping import REFINEMENTS, refine_step_rewards
    from rewardkit_bench.tasks.arithmetic import sft_completion, task_problems

    torch.set_num_threads(1)
    prm, median = fit_prm(seed)
    rows = task_problems(TASK, problems, seed=99_999)
    table: dict[str, dict[str, float]] = {r: {} for r in REFINEMENTS}
    raw_scores: dict[str, float] = {}
    for repeat in REPEATS:
        texts = []
        for row in rows:
            solution = sft_completion(row, "steps")
            first = solution.split(",", 1)[0]
            texts.append("".join(first + "," for _ in range(repeat)) + solution)
        scores, _ = prm.step_scores([r["prompt"] for r in rows], texts)
        raw_scores[str(repeat)] = float(np.mean([s[0] for s in scores]))
        for refinement in REFINEMENTS:
            refined = refine_step_rewards(scores, refinement, eta=median)
            table[refinement][str(repeat)] = float(np.mean([r.sum() for r in refined]))
    return {"kind": "exploit", "seed": seed, "eta": median, "returns": table,
            "first_step_score": raw_scores}  # fmt: skip
