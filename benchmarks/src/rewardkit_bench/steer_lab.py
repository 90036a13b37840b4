"""The ``steer-lab`` suite: best-of-N, SMC and value-guided decoding at equal token budgets.

Two tasks, each with its own warm-started tiny GPT-2: the lab's task v2
(3-digit additions with carries, gold: the lab's answer check) and
reasoning-gym's ``chain_sum`` (gold: reasoning-gym's own scorer). Held-out
problems are answered under each method at budgets of 1, 4, 16 and 32
samples (or particles, or candidates) per prompt; accuracy is the gold
verdict on the one completion each method returns, and every generated
token is counted. Per task and seed:

- greedy and plain sampling (budget 1);
- best-of-N selected by the gold verifier (an oracle upper bound), by a
  Bradley–Terry RM trained on the policy's own pairs, by a process reward
  model with Math-Shepherd labels from the policy's rollouts (min over
  steps), by a value head on the frozen policy, and on the carries task by
  ``arith_consistent`` (a self-consistency check that does not know the gold);
- SMC with the ``arith_steps`` potential (the running results checked
  against the reference ones: a process oracle), a block = one step (it
  ends at the delimiter ``,``, or after 4 tokens), under FK's ``difference``,
  ``max`` and ``sum``;
- SMC with the PRM and with the value head as the potential (non-oracle),
  and blockwise value-guided decoding with either;
- a smaller warm start with SMC, against the larger one's sampling;
- best-of-n for n = 1…64 under the learned RM (inference-time overoptimization);
- the time per generated token of SMC against plain sampling, same run.

Run: ``rewardkit bench steer-lab --jobs 2`` (``--quick``: one seed, 30 prompts).
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from rewardkit_bench.rm_claims import median
from rewardkit_bench.rm_lab import completion_budget, gold_term, rows_batch
from rewardkit_bench.runner import (
    RunFolder,
    Suite,
    beyond_noise,
    claim_lines,
    drive,
    environment,
    markdown_table,
    pyplot,
    save_figure,
)

__all__ = ["SteerLab", "SteerSettings", "main", "run_seed"]

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


def _models(task: str) -> dict[str, tuple[Any, Any]]:
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
    models = _models(task)
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


def _table(runs: list[dict[str, Any]], key: str) -> dict[str, dict[str, dict[str, float]]]:
    """method -> budget -> median accuracy, tokens and seconds over seeds."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for record in (r for run in runs for r in run[key]):
        table.setdefault(record["method"], {}).setdefault(str(record["budget"]), {})
    for method, budgets in table.items():
        for budget in budgets:
            mine = [r for run in runs for r in run[key]
                    if r["method"] == method and str(r["budget"]) == budget]  # fmt: skip
            budgets[budget] = {
                field: median([r[field] for r in mine])
                for field in ("accuracy", "tokens", "seconds")
            } | {"seeds": len(mine)}
    return table


def at_tokens(curve: Sequence[tuple[float, float]], tokens: float) -> float:
    """Accuracy of a (tokens, accuracy) curve at ``tokens``, linear in log tokens between
    the bracketing points (NaN outside the curve).

    Example:
        >>> round(at_tokens([(10.0, 0.2), (40.0, 0.6)], 20.0), 3)
        0.4
    """
    for (t0, a0), (t1, a1) in itertools.pairwise(curve):
        if t0 <= tokens <= t1:
            share = (math.log(tokens) - math.log(t0)) / (math.log(t1) - math.log(t0))
            return a0 + share * (a1 - a0)
    return math.nan


def _by_budget(item: tuple[str, float]) -> int:
    return int(item[0])


def _against_best_of_n(
    table: Mapping[str, Any], method: str, baseline: str
) -> tuple[dict[str, float], float, float]:
    """``method`` at the top SMC budget; the best sampling baseline at its tokens: the higher
    of ``baseline``'s best-of-N accuracy read there (interpolated in log tokens) and plain
    sampling's; and the relative gain over it."""
    ours = table[method][str(SMC_BUDGETS[-1])]
    curve = sorted((v["tokens"], v["accuracy"]) for v in table[baseline].values())
    read = at_tokens(curve, ours["tokens"])  # NaN beyond the curve: no comparison
    theirs = read if math.isnan(read) else max(read, table["sampling"]["1"]["accuracy"])
    gain = ours["accuracy"] / theirs - 1 if theirs > 0 else math.nan
    return ours, theirs, gain


def _task_claims(task: str, summary: Mapping[str, Any], prompts: int) -> dict[str, dict[str, Any]]:
    """The claims on one task (names start with the task)."""
    table, small = summary["table"], summary["small_table"]
    top = str(SMC_BUDGETS[-1])
    claims: dict[str, dict[str, Any]] = {}
    # pre-registered: FK's difference potential (the paper's text setting); the others are shown
    ours, oracle, gain = _against_best_of_n(table, "smc_steps_difference", "bon_gold (oracle)")
    kinds = ", ".join(f"{k} {table[f'smc_steps_{k}'][top]['accuracy']:.3f}" for k in FK_KINDS)
    claims[f"[{task}] SMC beats best-of-N at equal tokens, process oracle (Sampling for Quality: "
           "+9-15 % over the best sampling baseline)"] = {
        # NaN (SMC beyond the oracle's curve) is not met; nor is a gain within the noise
        "met": bool(gain >= 0.09) and beyond_noise(ours["accuracy"], oracle, prompts),
        "detail": f"smc_steps_difference with {top} particles: {ours['accuracy']:.3f} "
        f"({ours['tokens']:.0f} tokens/prompt) vs best-of-N by the gold verifier at the same "
        f"tokens (or plain sampling, if higher) {oracle:.3f}: {gain:+.0%}. Both know the "
        f"gold: the step check compares the running results with the reference ones and its "
        f"final reward is an exact match with the reference answer (a process oracle); "
        f"best-of-N by the gold verifier is an outcome oracle. FK potentials: {kinds}.",
    }  # fmt: skip
    ours, theirs, gain = _against_best_of_n(table, "smc_prm", "bon_prm")
    same_prm = f"[{task}] SMC beats best-of-N at equal tokens under the same learned PRM"
    claims[same_prm + " (non-oracle)"] = {
        "met": bool(gain >= 0.09) and beyond_noise(ours["accuracy"], theirs, prompts),
        "detail": f"smc_prm with {top} particles: {ours['accuracy']:.3f} ({ours['tokens']:.0f} "
        f"tokens/prompt) vs best-of-N by the PRM at the same tokens (or plain sampling, if "
        f"higher) {theirs:.3f}: {gain:+.0%}; "
        f"sampling {table['sampling']['1']['accuracy']:.3f}",
    }  # fmt: skip
    ours, theirs, gain = _against_best_of_n(table, "vgd_value", "bon_value")
    claims[f"[{task}] value-guided decoding beats best-of-N under the same value head at equal "
           "tokens (our comparison; no paper's figure)"] = {
        "met": beyond_noise(ours["accuracy"], theirs, prompts),
        "detail": f"vgd_value with {top} candidates: {ours['accuracy']:.3f} "
        f"({ours['tokens']:.0f} tokens/prompt) vs best-of-N by the value head (or plain "
        f"sampling, if higher) {theirs:.3f}: "
        f"{gain:+.0%}; vgd_prm {table['vgd_prm'][top]['accuracy']:.3f}, smc_value "
        f"{table['smc_value'][top]['accuracy']:.3f}",
    }  # fmt: skip
    large_sampling = table["sampling"]["1"]["accuracy"]
    small_fk = {
        b: small["smc_steps_difference"][b]["accuracy"] for b in small["smc_steps_difference"]
    }
    best_budget = min(
        (b for b, a in small_fk.items() if a >= large_sampling), key=int, default=None
    )
    claims[f"[{task}] FK steering lets a smaller model match or beat a larger model's sampling"] = {
        "met": best_budget is not None and large_sampling > 0,
        "detail": "steered by the step check (a process oracle); "
        f"small model ({SMALL_MODEL}) sampling {small['sampling']['1']['accuracy']:.3f}, "
        + ", ".join(
            f"FK-difference K={b}: {a:.3f}" for b, a in sorted(small_fk.items(), key=_by_budget)
        )
        + f"; the large model's sampling {large_sampling:.3f}",
    }  # fmt: skip
    for name, curve in summary["overoptimization"].items():
        gold = curve["gold"]
        peak = max(gold)
        index = gold.index(peak)
        # the standard error of the drop from the peak, at least that of one problem in all
        se = max(((peak * (1 - peak) + gold[-1] * (1 - gold[-1])) / prompts) ** 0.5, 1 / prompts)
        claims[f"[{task}] best-of-n under {name} improves then hurts gold past some n"] = {
            "met": index > 0 and peak - gold[-1] > 2 * se,
            "detail": f"gold {gold[0]:.3f} at n=1, peak {peak:.3f} at n={curve['n'][index]}, "
            f"{gold[-1]:.3f} at n={curve['n'][-1]} (se {se:.3f})",
        }
    overhead = summary["overhead"]
    claims[f"[{task}] SMC bookkeeping costs <= 30 % of the sampling time per token "
           "(as the lab runs it)"] = {
        "met": overhead["ratio"] <= 1.3,
        "detail": f"SMC {overhead['smc_s_per_token'] * 1e3:.3f} ms/token vs sampling "
        f"{overhead['sampling_s_per_token'] * 1e3:.3f} ms/token ({overhead['ratio']:.2f}x)",
    }  # fmt: skip
    return claims


def _summarize_task(runs: list[dict[str, Any]]) -> dict[str, Any]:
    first = runs[0]
    return {
        "seeds": len(runs),
        "table": _table(runs, "methods"),
        "small_table": _table(runs, "small"),
        "overoptimization": {
            name: {"n": first["overoptimization"][name]["n"],
                   "gold": [median([r["overoptimization"][name]["gold"][i] for r in runs])
                            for i in range(len(first["overoptimization"][name]["n"]))]}
                  | {key: median([r["overoptimization"][name].get(key, math.nan) for r in runs])
                     for key in ("paired_accuracy", "paired_accuracy_worked")}
            for name in first["overoptimization"]
        },
        "overhead": {key: median([r["overhead"][key] for r in runs]) for key in first["overhead"]},
    }  # fmt: skip


def _method_rows(table: Mapping[str, Any]) -> list[list[str]]:
    return [[method, *(f"{b[str(x)]['accuracy']:.3f} ({b[str(x)]['tokens']:.0f})"
                       if str(x) in b else "–" for x in BUDGETS)]
            for method, b in table.items()]  # fmt: skip


TASK_TITLES = {
    "carries": "Lab task v2 (3-digit additions with carries; gold: the lab's answer check)",
    "chain_sum": "reasoning-gym chain_sum (3 numbers of 1-2 digits, + and -; gold: "
    "reasoning-gym's own scorer)",
}


class SteerLab(Suite):
    """The steer-lab suite (see the module docs)."""

    name = "steer-lab"
    description = __doc__
    quick_help = "one seed, 30 prompts"
    quick_sets = ("seeds",)
    options = ("seeds", "jobs", "rerender")

    def settings(self, args: argparse.Namespace) -> SteerSettings:
        if args.quick:
            return SteerSettings(prompts=30, bon_max=16, prm_prompts=200, value_prompts=300)
        return SteerSettings()

    def command(self, args: argparse.Namespace) -> str:
        return "rewardkit bench steer-lab" + (" --quick" if args.quick else f" --jobs {args.jobs}")

    def prepare(self, args: argparse.Namespace) -> None:
        for task in self.settings(args).tasks:
            _models(task)  # train and cache every warm start before the pool

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        seeds = 1 if args.quick else args.seeds
        settings = self.settings(args)
        done = {(r["task"], r["seed"]) for r in runs}
        return [(settings, task, seed) for task in settings.tasks for seed in range(seeds)
                if (task, seed) not in done]  # fmt: skip

    def run_unit(self, unit: Any) -> dict[str, Any]:
        return run_seed(unit)

    def describe(self, run: dict[str, Any]) -> str:
        best = max(run["methods"], key=lambda r: r["accuracy"])
        return (
            f"{run['task']} seed {run['seed']}: best {best['method']} x{best['budget']} "
            f"{best['accuracy']:.3f} ({run['seconds']:.0f}s)"
        )

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"settings": asdict(self.settings(args)), "environment": environment(),
                "runs": runs}  # fmt: skip

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        prompts = results["settings"]["prompts"]
        tasks = [t for t in results["settings"]["tasks"]
                 if any(r["task"] == t for r in results["runs"])]  # fmt: skip
        summary: dict[str, Any] = {"tasks": {}, "claims": {}}
        for task in tasks:
            runs = [r for r in results["runs"] if r["task"] == task]
            summary["tasks"][task] = _summarize_task(runs)
            summary["claims"].update(_task_claims(task, summary["tasks"][task], prompts))
        return summary

    def plot(self, folder: RunFolder, results: dict[str, Any]) -> list[str]:
        plt = pyplot()
        if plt is None:
            return []
        tasks = list(results["tasks"])
        methods = list(dict.fromkeys(m for t in tasks for m in results["tasks"][t]["table"]))
        fig, axes = plt.subplots(len(tasks), 2, figsize=(12, 4.2 * len(tasks)), squeeze=False)
        for row, task in enumerate(tasks):
            summary = results["tasks"][task]
            for method, budgets in summary["table"].items():
                order = sorted(budgets, key=int)
                style = "--" if method.startswith(("bon_gold", "smc_steps")) else "-"
                axes[row][0].plot(
                    [budgets[b]["tokens"] for b in order],
                    [budgets[b]["accuracy"] for b in order],
                    style, marker="o", label=method, color=plt.cm.tab20(methods.index(method) % 20),
                )  # fmt: skip
            for name, curve in summary["overoptimization"].items():
                axes[row][1].plot(curve["n"], curve["gold"], marker="o", label=f"by {name}")
            axes[row][0].set_xscale("log")
            axes[row][0].set_xlabel("generated tokens per prompt")
            axes[row][0].set_title(f"{task}: accuracy vs tokens (dashed: oracles)")
            axes[row][1].set_xscale("log", base=2)
            axes[row][1].set_xlabel("n")
            axes[row][1].set_title(f"{task}: gold accuracy of best-of-n under a proxy")
            for axis in axes[row]:
                axis.legend(fontsize=6)
        fig.tight_layout()
        return [save_figure(plt, fig, folder, "steer.png")]

    def report(self, results: dict[str, Any], plots: list[str]) -> str:
        settings = results["settings"]
        lines = [
            "# steer-lab", "",
            f"Regenerate: `{results['command']}` ({results.get('seconds', 0) / 60:.1f} min)", "",
            f"{settings['prompts']} held-out prompts per task, medians over seeds. Accuracy is "
            "the gold verdict on the one completion a method returns; tokens are generated "
            "tokens per prompt, every sample, particle and candidate counted. SMC: "
            f"λ = {settings['lam']:g}, a block ends at the delimiter `,` (one step) or after "
            f"{BLOCK_SIZE} tokens, resampling when ESS < K/2 (systematic). `smc_steps_*` and "
            "`bon_gold` know the gold (oracles); `bon_rm`, `bon_prm`, `bon_value`, "
            "`bon_consistency`, `smc_prm`, `smc_value` and `vgd_*` do not. `vgd_*`: blockwise "
            "value-guided decoding (best of K blocks under the PRM or the value head).", "",
        ]  # fmt: skip
        header = ["method", *(f"x{b}: accuracy (tokens)" for b in BUDGETS)]
        for task, summary in results["tasks"].items():
            lines += [f"## {TASK_TITLES.get(task, task)}", "", f"{summary['seeds']} seed(s).", "",
                      markdown_table(header, _method_rows(summary["table"])), "",
                      f"Smaller model ({SMALL_MODEL}, same warm-start recipe):", "",
                      markdown_table(header, _method_rows(summary["small_table"])), "",
                      "Best-of-n gold accuracy under a proxy (one set of "
                      f"{settings['bon_max']} samples per prompt, all subsets):", ""]  # fmt: skip
            for name, curve in summary["overoptimization"].items():
                pairs = zip(curve["n"], curve["gold"], strict=True)
                lines.append(f"- {name}: " + ", ".join(f"n={n}: {g:.3f}" for n, g in pairs))
            lines += ["", "How well each proxy ranks a prompt's correct samples above its wrong "
                      "ones (paired accuracy on the same samples; 0.5 is chance). Within the "
                      "completions that show their work, style no longer gives the answer away:",
                      ""]  # fmt: skip
            lines += [f"- {name}: {curve['paired_accuracy']:.3f} (worked only: "
                      f"{curve['paired_accuracy_worked']:.3f})"
                      for name, curve in summary["overoptimization"].items()]  # fmt: skip
            lines.append("")
        if "steer.png" in plots:
            lines += ["![steer](steer.png)", ""]
        lines += ["## Claims", ""]
        lines += claim_lines(results["claims"])
        return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench steer-lab``: see the module docs."""
    return drive(SteerLab(), argv)
