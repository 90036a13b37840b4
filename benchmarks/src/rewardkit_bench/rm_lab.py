"""The work of the ``rm-overoptimization`` lab: pairs, proxy reward models, best-of-n and RL runs.

One seed's models (:func:`train_models`): the warm-started tiny policy of
lab task v2 samples ``samples_per_prompt`` completions per prompt; every
(correct, incorrect) pair of one prompt, as the gold verifier labels them,
is a preference pair, with a share ``label_noise`` of them flipped. Proxy
reward models are trained on two data sizes, an ensemble on bootstrap
samples of the larger set and a generative yes-token model on the same
pairs; each is saved under the seed's folder. Best-of-n curves, RM accuracy
on held-out (noise-free) pairs, scoring throughput and the probe battery come
from the same unit.

One RL run (:func:`train_policy`): GRPO against one design's reward, with
gold, the plain proxy, the optimized reward and √KL(π‖π_init) measured on
held-out prompts every ``eval_every`` steps.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rewardkit.audit.overoptimization import best_of_n_mean, kl_best_of_n

__all__ = [
    "DESIGNS",
    "LabSettings",
    "ModelsUnit",
    "PolicyUnit",
    "completion_budget",
    "fit_preference",
    "gold_term",
    "preference_pairs",
    "rows_batch",
    "sampled_pairs",
    "train_models",
    "train_policy",
]

#: the RL designs: what GRPO optimizes (the lab's report explains each)
DESIGNS = (
    "gold",
    "rm_small",
    "rm",
    "rm_dr",
    "ensemble_min",
    "ensemble_mean_std",
    "par",
    "par_dr",
    "kl_penalty",
    "generative",
)
#: designs trained with Dr. GRPO's advantages (centred, not divided by the group's std)
DR_GRPO_DESIGNS = ("rm_dr", "par_dr")
#: best-of-n selectors: the gold (an oracle) and each learned reward
SELECTORS = ("gold", "rm_small", "rm", "ensemble_min", "ensemble_mean_std", "generative")
#: the preference reward models, trained per seed (architecture of PreferenceRewardModel.tiny)
RM_SHAPE = {"n_layer": 2, "n_embd": 64, "n_head": 4, "n_positions": 64}
#: the ensemble members' standardization, in each seed's model folder
MEMBER_SCALES = "member-scales.json"


@dataclass(frozen=True)
class LabSettings:
    """Everything a run of the lab depends on (the full run's defaults)."""

    task: str = "carries"
    pair_prompts: int = 1500
    samples_per_prompt: int = 8
    held_out_prompts: int = 300
    small_pairs: int = 250
    large_pairs: int = 4000
    label_noise: float = 0.0
    rm_epochs: float = 3.0
    generative_epochs: int = 2
    ensemble_size: int = 3
    ensemble_lambda: float = 1.0
    bon_prompts: int = 200
    bon_samples: int = 64
    steps: int = 300
    eval_every: int = 15
    eval_prompts: int = 128
    eval_samples: int = 4
    monitor_window: int = 4
    learning_rate: float = 3e-5
    kl_coef: float = 0.1
    designs: tuple[str, ...] = DESIGNS
    probe_questions: int = 50
    cache: str = "runs/rm-overoptimization-cache"

    def models_key(self) -> str:
        """A hash of the settings the reward models depend on (their cache folder)."""
        fields = asdict(self)
        kept = (
            "task", "pair_prompts", "samples_per_prompt", "held_out_prompts", "small_pairs",
            "large_pairs", "label_noise", "rm_epochs", "generative_epochs", "ensemble_size",
        )  # fmt: skip
        text = json.dumps({k: fields[k] for k in kept} | {"rm": RM_SHAPE}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def models_dir(self, seed: int) -> Path:
        return Path(self.cache) / self.models_key() / f"seed-{seed}"


@dataclass(frozen=True)
class ModelsUnit:
    """Train one seed's reward models; measure best-of-n, accuracy, throughput, probes."""

    settings: LabSettings
    seed: int
    kind: str = field(default="models", init=False)


@dataclass(frozen=True)
class PolicyUnit:
    """One GRPO run of ``design`` for ``seed``."""

    settings: LabSettings
    design: str
    seed: int
    kind: str = field(default="policy", init=False)


def gold_term(task: str = "carries") -> Any:
    """A lab task's gold verifier: 1 for the right answer, 0 otherwise (no answer: 0);
    reasoning-gym's own scorer for its ``chain_sum``."""
    from rewardkit_bench.tasks.arithmetic import ArithmeticAnswer

    if task == "chain_sum":
        from rewardkit_bench.tasks.chain_sum import ReasoningGymAnswer

        return ReasoningGymAnswer("chain_sum", name="gold")
    return ArithmeticAnswer(missing_score=0.0, name="gold")


def completion_budget(task: str) -> int:
    """The lab task's completion budget (max new tokens), as grpo-lab sets it."""
    from rewardkit_bench.grpo_lab import TASK_SETTINGS

    return TASK_SETTINGS[task]["max_new_tokens"]


def _policy(settings: LabSettings) -> tuple[Any, Any]:
    from rewardkit_bench.grpo_lab import load_policy

    return load_policy(None, settings.task)


def rows_batch(rows: Sequence[Mapping[str, Any]], texts: Sequence[str], k: int) -> dict[str, Any]:
    """The rows' columns, each row repeated ``k`` times, beside the ``k`` completions of each."""
    columns = {key: [r[key] for r in rows for _ in range(k)] for key in rows[0]}
    return columns | {"completion": list(texts)}


def preference_pairs(
    rows: Sequence[Mapping[str, Any]],
    texts: Sequence[str],
    gold: np.ndarray,
    k: int,
    label_noise: float = 0.0,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Every (correct, incorrect) pair of one prompt's ``k`` samples, shuffled; a share
    ``label_noise`` of them has chosen and rejected swapped.

    Example:
        >>> pairs = preference_pairs([{"prompt": "1+1="}], ["2", "3", "4"], np.array([1, 0, 0]), 3)
        >>> sorted((p["chosen"], p["rejected"]) for p in pairs)
        [('2', '3'), ('2', '4')]
    """
    if not 0.0 <= label_noise <= 0.5:
        raise ValueError(f"label_noise must be in [0, 0.5], got {label_noise}")
    pairs = []
    for index, row in enumerate(rows):
        own = range(index * k, index * k + k)
        right = [texts[i] for i in own if gold[i] == 1]
        wrong = [texts[i] for i in own if gold[i] == 0]
        pairs += [
            {"prompt": row["prompt"], "chosen": c, "rejected": w} for c in right for w in wrong
        ]
    rng = random.Random(seed)
    rng.shuffle(pairs)
    for pair in pairs:
        if rng.random() < label_noise:
            pair["chosen"], pair["rejected"] = pair["rejected"], pair["chosen"]
    return pairs


def sampled_pairs(settings: LabSettings, seed: int, model: Any, tokenizer: Any) -> dict[str, Any]:
    import torch

    from rewardkit.steer.sampling import sample_completions
    from rewardkit_bench.tasks.arithmetic import task_problems

    gold, budget = gold_term(settings.task), completion_budget(settings.task)
    k = settings.samples_per_prompt
    out: dict[str, Any] = {}
    for split, count, offset, noise in (
        ("train", settings.pair_prompts, 1000, settings.label_noise),
        ("held_out", settings.held_out_prompts, 2000, 0.0),
    ):
        rows = task_problems(settings.task, count, seed=offset + seed)
        torch.manual_seed(offset + seed)
        texts = sample_completions(model, tokenizer, [r["prompt"] for r in rows], k, budget).texts
        labels = gold(rows_batch(rows, texts, k)).total
        out[split] = preference_pairs(rows, texts, labels, k, noise, seed)
        out[f"{split}_sample_accuracy"] = float(np.mean(labels))
    return out


def _member_names(settings: LabSettings) -> list[str]:
    return [f"member-{m}" for m in range(settings.ensemble_size)]


def fit_preference(
    pairs: list[dict[str, Any]], epochs: float, seed: int, task: str = "carries"
) -> Any:
    """A Bradley–Terry RM of the lab's shape over ``task``'s characters, fitted to ``pairs``."""
    from rewardkit.models import PreferenceRewardModel, RewardModelTraining
    from rewardkit_bench.tasks.arithmetic import task_alphabet

    model = PreferenceRewardModel.tiny(task_alphabet(task), seed=seed, **RM_SHAPE)
    model.fit(pairs, RewardModelTraining(epochs=epochs, seed=seed))
    return model


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
    for index, name in enumerate(_member_names(settings)):
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


def reward_terms(settings: LabSettings, seed: int) -> dict[str, Any]:
    """The seed's learned rewards as terms, loaded from its folder (see :data:`SELECTORS`).

    Ensemble members are standardized by their mean and std on the initial
    policy's samples (``member-scales.json``), so that min and std compare
    the members' judgements rather than their arbitrary offsets and scales.
    """
    from rewardkit.core import affine
    from rewardkit.models import RewardEnsemble, RewardModelTerm

    folder = settings.models_dir(seed)
    scales = json.loads((folder / MEMBER_SCALES).read_text())
    members = [
        affine(
            RewardModelTerm(folder / m, name=f"{m}_raw"),
            scale=1.0 / scales[m]["std"],
            shift=-scales[m]["mean"] / scales[m]["std"],
            name=m,
        )
        for m in _member_names(settings)
    ]
    return {
        "rm_small": RewardModelTerm(folder / "rm_small", name="rm_small"),
        "rm": RewardModelTerm(folder / "rm", name="rm"),
        "ensemble_min": RewardEnsemble(members, "min", name="ensemble_min"),
        "ensemble_mean_std": RewardEnsemble(
            members, "mean_minus_std", settings.ensemble_lambda, name="ensemble_mean_std"
        ),
        "generative": RewardModelTerm(folder / "generative", name="generative"),
    }


def _save_member_scales(settings: LabSettings, seed: int, batch: Mapping[str, Any]) -> None:
    """Each ensemble member's mean and std on ``batch`` (the initial policy's samples)."""
    from rewardkit.models import RewardModelTerm

    folder = settings.models_dir(seed)
    scales = {}
    for name in _member_names(settings):
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


def _quiet() -> None:
    """One thread, and no per-call progress bars from datasets and transformers."""
    import datasets
    import torch
    from transformers.utils import logging as transformers_logging

    torch.set_num_threads(1)
    datasets.disable_progress_bars()
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()


def train_models(unit: ModelsUnit) -> dict[str, Any]:
    """One seed's reward models and their measurements (see the module docs)."""
    _quiet()
    settings, seed = unit.settings, unit.seed
    start = time.monotonic()
    model, tokenizer = _policy(settings)
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

    _quiet()
    settings, design, seed = unit.settings, unit.design, unit.seed
    start = time.monotonic()
    model, tokenizer = _policy(settings)
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


def quick_settings() -> LabSettings:
    """A small run: one seed's worth of everything, a few minutes on 2 cores."""
    return replace(
        LabSettings(),
        pair_prompts=500,
        held_out_prompts=100,
        small_pairs=100,
        large_pairs=1000,
        ensemble_size=2,
        generative_epochs=1,
        bon_prompts=48,
        bon_samples=16,
        steps=60,
        eval_every=10,
        eval_prompts=64,
        eval_samples=2,
        designs=("rm", "ensemble_min", "par"),
        probe_questions=20,
    )
