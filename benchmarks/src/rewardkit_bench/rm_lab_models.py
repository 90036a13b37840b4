"""One seed's reward models for the ``rm-overoptimization`` lab (:func:`train_models`): fitted
on the policy's own preference pairs, saved, and measured: held-out accuracy, best-of-n curves,
scoring throughput and the probe battery."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from rewardkit.audit.overoptimization import best_of_n_mean, kl_best_of_n
from rewardkit_bench.rm_lab import (
    MEMBER_SCALES,
    SELECTORS,
    LabSettings,
    ModelsUnit,
    completion_budget,
    fit_preference,
    gold_term,
    member_names,
    policy,
    quiet,
    reward_terms,
    rows_batch,
    sampled_pairs,
)

__all__ = ["train_models"]


def _fit_all(settings: LabSettings, seed: int, pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Train every reward model of one seed and save it under the seed's folder."""
    from rewardkit.models import GenerativeRewardModel, GenerativeTraining, yes_no_examples
    from rewardkit_bench.tasks.arithmetic import ALPHABET

    folder = settings.models_dir(seed)
    small, large = pairs[: settings.small_pairs], pairs[: settings.large_pairs]
    models: dict[str, Any] = {
        "rm_small": fit_preference(small, settings.rm_epochs, seed),
        "rm": fit_preference(large, settings.rm_epochs, seed),
    }
    rng = np.random.default_rng(seed)
    for index, name in enumerate(member_names(settings)):
        bootstrap = [large[i] for i in rng.integers(0, len(large), len(large))]
        models[name] = fit_preference(bootstrap, settings.rm_epochs, 100 * seed + index + 1)
    generative = GenerativeRewardModel.tiny(ALPHABET, seed=seed)
    generative.fit(
        yes_no_examples(large), GenerativeTraining(epochs=settings.generative_epochs, seed=seed)
    )
    models["generative"] = generative
    for name, model in models.items():
        model.save(folder / name)
    return models


def _save_member_scales(settings: LabSettings, seed: int, batch: Mapping[str, Any]) -> None:
    """Each ensemble member's mean and std on ``batch`` (the initial policy's samples)."""
    from rewardkit.models import RewardModelTerm

    folder = settings.models_dir(seed)
    scales = {}
    for name in member_names(settings):
        scores = RewardModelTerm(folder / name, name=name)(batch).total
        std = float(np.nanstd(scores))
        if not std > 0:
            raise RuntimeError(f"ensemble member {name} gives every sample one score")
        scales[name] = {"mean": float(np.nanmean(scores)), "std": std}
    (folder / MEMBER_SCALES).write_text(json.dumps(scales, indent=2))


def _accuracy(term: Any, pairs: list[dict[str, Any]]) -> float:
    prompts = [p["prompt"] for p in pairs]
    chosen = term({"prompt": prompts, "completion": [p["chosen"] for p in pairs]}).total
    rejected = term({"prompt": prompts, "completion": [p["rejected"] for p in pairs]}).total
    return float(np.mean(chosen > rejected)) if pairs else float("nan")


def _initial_samples(
    settings: LabSettings, seed: int, model: Any, tokenizer: Any
) -> dict[str, Any]:
    """``bon_samples`` completions of the initial policy for each of ``bon_prompts`` prompts."""
    import torch

    from rewardkit.steer.sampling import sample_completions
    from rewardkit_bench.tasks.arithmetic import task_problems

    rows = task_problems(settings.task, settings.bon_prompts, seed=3000 + seed)
    k = settings.bon_samples
    torch.manual_seed(3000 + seed)
    texts = sample_completions(
        model, tokenizer, [r["prompt"] for r in rows], k, completion_budget(settings.task)
    )
    return rows_batch(rows, texts.texts, k)


def _best_of_n(
    settings: LabSettings, batch: Mapping[str, Any], terms: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, float]]:
    """Best-of-n curves of every selector, and the scoring throughput of the RMs."""
    k = settings.bon_samples
    gold = gold_term(settings.task)(batch).total.reshape(-1, k)
    scores = {"gold": gold}
    seconds: dict[str, float] = {}
    for name, term in terms.items():
        start = time.monotonic()
        scores[name] = term(batch).total.reshape(-1, k)
        seconds[name] = time.monotonic() - start
    ns = [n for n in (1, 2, 4, 8, 16, 32, 64, 128, 256) if n <= k]
    curves = {
        name: {
            "n": ns,
            "kl": [kl_best_of_n(n) for n in ns],
            "gold": [float(best_of_n_mean(scores[name], gold, n).mean()) for n in ns],
            "proxy": [float(np.nanmean(best_of_n_mean(scores[name], scores[name], n))) for n in ns],
        }
        for name in SELECTORS
    }
    completions = gold.size
    correct = gold == 1
    throughput = {
        "completions": float(completions),
        "rm_completions_per_s": completions / seconds["rm"],
        "generative_completions_per_s": completions / seconds["generative"],
    }
    for name in ("rm_small", "rm"):  # the probes' bar: the median score of a correct sample
        throughput[f"correct_median_{name}"] = (
            float(np.nanmedian(scores[name][correct])) if correct.any() else float("nan")
        )
    return curves, throughput


def _probes(
    settings: LabSettings, seed: int, thresholds: Mapping[str, float]
) -> dict[str, dict[str, Any]]:
    """The probe battery against each learned reward: the calls ``rewardkit audit probe
    probe-<name>.toml --questions probe-questions.jsonl --threshold T`` makes (both files are
    written to the seed's folder, so the command can be rerun)."""
    from rewardkit.audit.probe import probe
    from rewardkit.core.spec import load_spec
    from rewardkit_bench.tasks.arithmetic import task_problems

    folder = settings.models_dir(seed)
    rows = task_problems(settings.task, settings.probe_questions, seed=4000 + seed)
    questions = [{"question": r["prompt"], "answer": r["answer"]} for r in rows]
    (folder / "probe-questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    reports = {}
    for name, threshold in thresholds.items():
        if math.isnan(threshold):  # no correct sample to set it by
            continue
        spec = folder / f"probe-{name}.toml"
        path = json.dumps(str((folder / name).resolve()))
        spec.write_text(f'term = "reward_model"\npath = {path}\n')
        report = probe(load_spec(spec), questions, threshold=threshold)
        reports[name] = {"threshold": threshold, "max_fpr": report.max_fpr, "fpr": report.fpr}
    return reports


def train_models(unit: ModelsUnit) -> dict[str, Any]:
    """One seed's reward models and their measurements (see the module docs)."""
    quiet()
    settings, seed = unit.settings, unit.seed
    start = time.monotonic()
    model, tokenizer = policy(settings)
    data = sampled_pairs(settings, seed, model, tokenizer)
    pairs, held_out = data["train"], data["held_out"]
    if len(pairs) < settings.large_pairs:
        raise RuntimeError(
            f"only {len(pairs)} preference pairs from {settings.pair_prompts} prompts, "
            f"fewer than large_pairs={settings.large_pairs}: raise pair_prompts"
        )
    fitted = _fit_all(settings, seed, pairs)
    initial = _initial_samples(settings, seed, model, tokenizer)
    _save_member_scales(settings, seed, initial)
    terms = reward_terms(settings, seed)
    accuracy = {name: _accuracy(term, held_out) for name, term in terms.items()}
    curves, throughput = _best_of_n(settings, initial, terms)
    thresholds = {
        "rm_small": throughput["correct_median_rm_small"],
        "rm": throughput["correct_median_rm"],
        "generative": 0.5,
    }
    seconds_per_1k = {
        name: fitted[name].metrics["seconds"] / (fitted[name].metrics["pairs"] / 1000)
        for name in ("rm_small", "rm")
    }
    return {
        "kind": "models",
        "seed": seed,
        "pairs": {"train": len(pairs), "held_out": len(held_out)},
        "sample_accuracy": data["train_sample_accuracy"],
        "accuracy": accuracy,
        "training_seconds_per_1k_pairs": seconds_per_1k,
        "generative_training_seconds": fitted["generative"].metrics["seconds"],
        "throughput": throughput,
        "best_of_n": curves,
        "probes": _probes(settings, seed, thresholds),
        "seconds": time.monotonic() - start,
    }
