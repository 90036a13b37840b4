"""The runs of ``rewardkit bench steer-lab``: one task and seed (:func:`run_seed`), every method
at every budget, best-of-n under each proxy, and SMC's cost per token against sampling."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rewardkit_bench.rm_lab import completion_budget, gold_term, rows_batch

__all__ = [
    "BLOCK_SIZE",
    "BUDGETS",
    "FK_KINDS",
    "LEARNED",
    "SMALL_MODEL",
    "SMC_BUDGETS",
    "STEERING_SCORERS",
    "TASKS",
    "SteerSettings",
    "run_seed",
    "warm_starts",
]

TASKS = ("carries", "chain_sum")
BUDGETS = (1, 4, 16, 32)
#: SMC's particle counts (best-of-N also runs at 32, to bracket SMC's token counts)
SMC_BUDGETS = (4, 16)
FK_KINDS = ("difference", "max", "sum")
#: SMC blocks end at the delimiter "," (one step: at most 4 tokens with it) or after
#: this many tokens, so that particles wait at most 3 positions for the others
BLOCK_SIZE = 4
#: the smaller warm start of the FK small-vs-large claim (the default one is 3 x 128)
SMALL_MODEL = {"n_layer": 1, "n_embd": 64, "n_head": 4}
#: the learned scorers: the RM picks complete texts only; the PRM and the value head
#: also judge prefixes, so they steer SMC and value-guided decoding as well
LEARNED = ("rm", "prm", "value")
STEERING_SCORERS = ("prm", "value")


@dataclass(frozen=True)
class SteerSettings:
    """What a run of the lab depends on (the full run's defaults)."""

    tasks: tuple[str, ...] = TASKS
    prompts: int = 100
    lam: float = 10.0
    bon_max: int = 64
    rm_pairs: int = 1000
    prm_prompts: int = 600
    value_prompts: int = 1000


def warm_starts(task: str) -> dict[str, tuple[Any, Any]]:
    from rewardkit_bench.grpo_lab import TASK_SETTINGS
    from rewardkit_bench.warmstart import WarmStartSpec, load_or_train_warm_start

    large = WarmStartSpec(task=task, sft_steps=TASK_SETTINGS[task]["sft_steps"])
    small = replace(large, **SMALL_MODEL)
    return {"large": load_or_train_warm_start(large), "small": load_or_train_warm_start(small)}


def _accuracy(task: str, rows: Sequence[Mapping[str, Any]], texts: Sequence[str]) -> float:
    return float(np.mean(gold_term(task)(rows_batch(rows, texts, 1)).total))


def _learned(
    settings: SteerSettings, task: str, seed: int, model: Any, tokenizer: Any
) -> dict[str, Any]:
    """The non-oracle scorers, each fitted on the policy's own samples: a Bradley–Terry RM on
    (correct, incorrect) pairs as in rm-overoptimization, a PRM and a value head."""
    from rewardkit.models import ProcessRewardTerm, RewardModelTerm, ValueTerm
    from rewardkit_bench.rm_lab import LabSettings, fit_preference, sampled_pairs
    from rewardkit_bench.steer_models import fit_lab_prm, fit_lab_value

    lab = replace(LabSettings(), task=task, pair_prompts=600, held_out_prompts=20)
    pairs = sampled_pairs(lab, seed, model, tokenizer)["train"]
    if not pairs:
        raise RuntimeError(f"seed {seed}: the policy's samples gave no (correct, incorrect) pair")
    rm = fit_preference(pairs[: settings.rm_pairs], 3.0, seed, task)
    prm = fit_lab_prm(task, seed, model, tokenizer, prompts=settings.prm_prompts)
    value = fit_lab_value(task, seed, model, tokenizer, prompts=settings.value_prompts)
    return {
        "rm": RewardModelTerm(model=rm, name="rm"),
        "prm": ProcessRewardTerm(model=prm, name="prm"),
        "value": ValueTerm(value, name="value"),
    }


def _methods(
    settings: SteerSettings,
    task: str,
    seed: int,
    model: Any,
    tokenizer: Any,
    rows: list[dict[str, Any]],
    learned: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Every method at every budget on ``rows``: accuracy and tokens per prompt (without
    ``learned`` scorers: sampling and SMC-difference only)."""
    import torch

    from rewardkit.steer import SMCConfig, best_of_n, sample_completions, smc, value_guided
    from rewardkit.train.grpo import evaluate_greedy
    from rewardkit_bench.steer_models import row_columns
    from rewardkit_bench.tasks.arithmetic import StepCheck, StepConsistency

    prompts, budget = [r["prompt"] for r in rows], completion_budget(task)
    count, columns = len(rows), row_columns(rows)
    records = []

    def add(method: str, samples: int, texts: list[str], tokens: float, start: float) -> None:
        records.append({"method": method, "budget": samples,
                        "accuracy": _accuracy(task, rows, texts), "tokens": tokens / count,
                        "seconds": time.monotonic() - start})  # fmt: skip

    start = time.monotonic()
    greedy = evaluate_greedy(model, tokenizer, rows, gold_term(task), budget)
    records.append({"method": "greedy", "budget": 1, "accuracy": greedy.accuracy,
                    "tokens": greedy.mean_length, "seconds": time.monotonic() - start})  # fmt: skip
    torch.manual_seed(seed)
    start = time.monotonic()
    plain = sample_completions(model, tokenizer, prompts, 1, budget)
    add("sampling", 1, plain.texts, plain.lengths.sum(), start)
    selectors: dict[str, Any] = {}
    if learned is not None:
        selectors["bon_gold (oracle)"] = gold_term(task)
        selectors.update({f"bon_{name}": learned[name] for name in LEARNED})
        if task == "carries":  # the check reads column sums: only this task writes them
            selectors["bon_consistency"] = StepConsistency()
    for n in BUDGETS[1:]:
        for name, selector in selectors.items():
            start = time.monotonic()
            picked = best_of_n(
                model, tokenizer, prompts, selector, n, budget, columns=columns, seed=seed + n
            )
            add(name, n, picked.completions, picked.tokens_generated, start)
        if n not in SMC_BUDGETS:
            continue
        potentials = {
            f"smc_steps_{kind}": (StepCheck(), kind)
            for kind in (FK_KINDS if learned is not None else ("difference",))
        }
        if learned is not None:
            potentials.update({f"smc_{name}": (learned[name], "difference")
                               for name in STEERING_SCORERS})  # fmt: skip
        for name, (potential, kind) in potentials.items():
            config = SMCConfig(
                particles=n, max_new_tokens=budget, block_size=BLOCK_SIZE, delimiter=",",
                potential=kind, lam=settings.lam, seed=seed + n,
            )  # fmt: skip
            start = time.monotonic()
            steered = smc(model, tokenizer, prompts, potential, config, columns)
            add(name, n, steered.completions, steered.tokens_generated, start)
        for name in STEERING_SCORERS if learned is not None else ():
            start = time.monotonic()
            searched = value_guided(
                model, tokenizer, prompts, learned[name], candidates=n, max_new_tokens=budget,
                block_size=BLOCK_SIZE, delimiter=",", seed=seed + n, columns=columns,
            )  # fmt: skip
            add(f"vgd_{name}", n, searched.completions, searched.tokens_generated, start)
    return records


def _overoptimization(
    settings: SteerSettings,
    task: str,
    seed: int,
    model: Any,
    tokenizer: Any,
    rows: list[dict[str, Any]],
    learned: Mapping[str, Any],
) -> dict[str, Any]:
    """Gold of best-of-n under each learned scorer (and the consistency check on the carries
    task), n = 1…bon_max; and each one's paired accuracy on the same samples, over all of
    them and within the completions that show their work (``,`` before the answer)."""
    import torch

    from rewardkit.audit.overoptimization import best_of_n_mean, paired_accuracy
    from rewardkit.steer import sample_completions
    from rewardkit_bench.tasks.arithmetic import StepConsistency

    k = settings.bon_max
    torch.manual_seed(9000 + seed)
    texts = sample_completions(
        model, tokenizer, [r["prompt"] for r in rows], k, completion_budget(task)
    )
    batch = rows_batch(rows, texts.texts, k)
    gold = gold_term(task)(batch).total.reshape(-1, k)
    ns = [n for n in (1, 2, 4, 8, 16, 32, 64, 128) if n <= k]
    proxies = dict(learned)
    if task == "carries":
        proxies["consistency"] = StepConsistency()
    worked = np.array([">" in t and "," in t.split(">")[0] for t in texts.texts]).reshape(-1, k)
    curves = {}
    for name, selector in proxies.items():
        scores = selector(batch).total.reshape(-1, k)
        curves[name] = {
            "n": ns,
            "gold": [float(best_of_n_mean(scores, gold, n).mean()) for n in ns],
            "paired_accuracy": paired_accuracy(scores, gold),
            "paired_accuracy_worked": paired_accuracy(scores, gold, worked),
        }
    return curves


def _overhead(
    settings: SteerSettings, task: str, model: Any, tokenizer: Any, rows: list[dict[str, Any]]
) -> dict[str, float]:
    """Seconds per generated token: SMC as the lab runs it (the step-check potential, one block
    per step, 16 particles) against plain sampling of 16 completions per prompt."""
    import torch

    from rewardkit.steer import SMCConfig, sample_completions, smc
    from rewardkit_bench.steer_models import row_columns
    from rewardkit_bench.tasks.arithmetic import StepCheck

    prompts, budget = [r["prompt"] for r in rows], completion_budget(task)
    torch.manual_seed(0)
    start = time.monotonic()
    plain = sample_completions(model, tokenizer, prompts, 16, budget)
    plain_rate = (time.monotonic() - start) / plain.lengths.sum()
    config = SMCConfig(particles=16, max_new_tokens=budget, block_size=BLOCK_SIZE, delimiter=",",
                       lam=settings.lam)  # fmt: skip
    start = time.monotonic()
    steered = smc(model, tokenizer, prompts, StepCheck(), config, row_columns(rows))
    smc_rate = (time.monotonic() - start) / steered.tokens_generated
    return {"sampling_s_per_token": plain_rate, "smc_s_per_token": smc_rate,
            "ratio": smc_rate / plain_rate, "reorders": float(steered.reorders)}  # fmt: skip


def run_seed(unit: tuple[SteerSettings, str, int]) -> dict[str, Any]:
    """Every measurement of one task and seed."""
    import datasets
    import torch
    from transformers.utils import logging as transformers_logging

    from rewardkit_bench.tasks.arithmetic import task_problems

    torch.set_num_threads(1)
    datasets.disable_progress_bars()
    transformers_logging.set_verbosity_error()
    settings, task, seed = unit
    start = time.monotonic()
    models = warm_starts(task)
    rows = task_problems(task, settings.prompts, seed=6000 + seed)
    large, tokenizer = models["large"]
    small, _ = models["small"]
    learned = _learned(settings, task, seed, large, tokenizer)
    fitted = time.monotonic() - start
    records = _methods(settings, task, seed, large, tokenizer, rows, learned)
    small_records = [
        r for r in _methods(settings, task, seed, small, tokenizer, rows) if r["method"] != "greedy"
    ]
    curves = _overoptimization(settings, task, seed, large, tokenizer, rows, learned)
    return {
        "task": task,
        "seed": seed,
        "methods": records,
        "small": small_records,
        "overoptimization": curves,
        "overhead": _overhead(settings, task, large, tokenizer, rows),
        "fit_seconds": fitted,
        "seconds": time.monotonic() - start,
    }
