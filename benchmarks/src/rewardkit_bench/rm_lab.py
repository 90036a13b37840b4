"""The shared pieces of the ``rm-overoptimization`` lab: its settings and units, the gold, the
preference pairs and the reward models as terms.

One seed's models (:func:`rewardkit_bench.rm_lab_models.train_models`): the warm-started tiny
policy of lab task v2 samples ``samples_per_prompt`` completions per prompt; every
(correct, incorrect) pair of one prompt, as the gold verifier labels them,
is a preference pair, with a share ``label_noise`` of them flipped. Proxy
reward models are trained on two data sizes, an ensemble on bootstrap
samples of the larger set and a generative yes-token model on the same
pairs; each is saved under the seed's folder. Best-of-n curves, RM accuracy
on held-out (noise-free) pairs, scoring throughput and the probe battery come
from the same unit.

One RL run (:func:`rewardkit_bench.rm_lab_policy.train_policy`): GRPO against one design's
reward, with gold, the plain proxy, the optimized reward and √KL(π‖π_init) measured on
held-out prompts every ``eval_every`` steps.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DESIGNS",
    "DR_GRPO_DESIGNS",
    "MEMBER_SCALES",
    "RM_SHAPE",
    "SELECTORS",
    "LabSettings",
    "ModelsUnit",
    "PolicyUnit",
    "completion_budget",
    "fit_preference",
    "gold_term",
    "member_names",
    "policy",
    "preference_pairs",
    "quick_settings",
    "quiet",
    "reward_terms",
    "rows_batch",
    "sampled_pairs",
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


def policy(settings: LabSettings) -> tuple[Any, Any]:
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


def member_names(settings: LabSettings) -> list[str]:
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
        for m in member_names(settings)
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


def quiet() -> None:
    """One thread, and no per-call progress bars from datasets and transformers."""
    import datasets
    import torch
    from transformers.utils import logging as transformers_logging

    torch.set_num_threads(1)
    datasets.disable_progress_bars()
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()


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
