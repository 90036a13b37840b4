"""A process reward model (PRM): a score for every step of a completion, labelled automatically.

Labels follow Math-Shepherd (Wang et al. 2024): the value of a step is
estimated by Monte-Carlo rollouts from the prefix ending at it, each finished
by a policy and checked by the task's verifier,

    soft:  v_k = (1/n) Σ_j 1[verifier(prefix_k + rollout_j)]      (SE)
    hard:  v_k = max_j 1[verifier(prefix_k + rollout_j)]            (HE)

so a step after which no continuation can succeed gets 0, with no human
labels. The model is a one-output sequence classifier over
``prompt + steps[:k]`` trained with binary cross-entropy on v_k, and the
term aggregates its per-step scores by ``min``, ``product`` or ``last``
(:func:`aggregate_steps`); :meth:`ProcessRewardModel.step_scores` returns
the per-step scores themselves, for step-level credit in ``credit/``.

Example:
    >>> rollout = lambda prefix, n: ["" for _ in range(n)]  # finishes nothing
    >>> verifier = lambda text: text.endswith("=4")
    >>> step_labels("2+2", ["=3", "=4"], rollout, verifier, n=4)
    [0.0, 1.0]
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.lm.padding import right_pad
from rewardkit.lm.tokens import encode
from rewardkit.models._common import LoopTraining, ModelError, train_minibatches
from rewardkit.models.base import RewardModel
from rewardkit.models.preference import PreferenceRewardModel, read_manifest, save_model_dir

__all__ = [
    "ProcessRewardModel",
    "ProcessTraining",
    "aggregate_steps",
    "split_steps",
    "step_labels",
]

StepAggregate = Literal["min", "product", "last"]
Rollout = Callable[[str, int], Sequence[str]]
Verifier = Callable[[str], bool]


def split_steps(completion: str, separator: str = "\n") -> list[str]:
    """A completion's steps: the pieces after each separator, the separator kept at the end.

    Example:
        >>> split_steps("1+2=3\\n3+4=7\\n", "\\n")
        ['1+2=3\\n', '3+4=7\\n']
    """
    if not separator:
        raise ConfigurationError("the step separator must not be empty")
    pieces = completion.split(separator)
    steps = [piece + separator for piece in pieces[:-1]]
    if pieces[-1]:
        steps.append(pieces[-1])
    return steps


def step_labels(
    prompt: str,
    steps: Sequence[str],
    rollout: Rollout,
    verifier: Verifier,
    n: int = 8,
    hard: bool = False,
) -> list[float]:
    """Math-Shepherd labels: per step, the share (soft) or any (hard) of ``n`` rollouts from
    ``prompt + steps[:k]`` that the verifier accepts."""
    if n < 1:
        raise ConfigurationError(f"n must be at least 1, got {n}")
    labels = []
    prefix = prompt
    for step in steps:
        prefix += step
        finished = [verifier(prefix + continuation) for continuation in rollout(prefix, n)]
        if len(finished) != n:
            raise ConfigurationError(f"rollout returned {len(finished)} continuations, not {n}")
        labels.append(float(any(finished)) if hard else float(np.mean(finished)))
    return labels


def aggregate_steps(scores: Sequence[float], how: StepAggregate) -> float:
    """One reward from per-step scores in [0, 1]: the weakest step, the product, or the last.

    Example:
        >>> aggregate_steps([0.9, 0.5, 0.8], "min"), aggregate_steps([0.5, 0.5], "product")
        (0.5, 0.25)
    """
    if len(scores) == 0:
        return float("nan")
    if how == "min":
        return float(np.min(scores))
    if how == "product":
        return float(np.prod(scores))
    if how == "last":
        return float(scores[-1])
    raise ConfigurationError(f"aggregate must be min, product or last, got {how!r}")


class ProcessTraining(LoopTraining):
    """Settings of a PRM's training loop (binary cross-entropy on step labels)."""


class ProcessRewardModel(RewardModel, kind="process"):
    """Per-step scores σ(f_θ(prompt + steps[:k])) from a one-output sequence classifier.

    Args:
        backbone: a :class:`PreferenceRewardModel` whose head this model trains
            (its tokenizer, context and EOS handling are reused).
        separator: what ends a step in a completion.
    """

    def __init__(self, backbone: PreferenceRewardModel, separator: str = "\n") -> None:
        if not separator:
            raise ConfigurationError("the step separator must not be empty")
        self.backbone = backbone
        self.separator = separator
        self.metrics: dict[str, float] = {}

    @property
    def trained(self) -> bool:
        return self.backbone.trained

    @property
    def max_length(self) -> int:
        return self.backbone.max_length

    @classmethod
    def tiny(
        cls, alphabet: str, separator: str = "\n", seed: int = 0, **sizes: Any
    ) -> ProcessRewardModel:
        return cls(PreferenceRewardModel.tiny(alphabet + separator, seed=seed, **sizes), separator)

    @classmethod
    def from_policy(
        cls, policy: Any, tokenizer: Any, separator: str = "\n", seed: int = 0
    ) -> ProcessRewardModel:
        """A PRM that starts from the policy's weights (see
        :meth:`PreferenceRewardModel.from_policy`), as Math-Shepherd's PRMs start from an LM."""
        return cls(PreferenceRewardModel.from_policy(policy, tokenizer, seed=seed), separator)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ProcessRewardModel:
        manifest = read_manifest(Path(path))
        if manifest.get("kind") != "process":
            raise ModelError(f"{path} is not a process reward model")
        model = cls(PreferenceRewardModel.load(path), manifest.get("separator", "\n"))
        model.metrics = dict(manifest.get("metrics", {}))
        return model

    def save(self, path: str | os.PathLike[str]) -> Path:
        manifest = {
            "kind": "process",
            "separator": self.separator,
            "max_length": self.backbone.max_length,
            "trained": self.backbone.trained,
            "metrics": self.metrics,
        }
        return save_model_dir(self.backbone.model, self.backbone.tokenizer, manifest, path)

    def fit(
        self, examples: Iterable[Mapping[str, Any]], training: ProcessTraining | None = None
    ) -> dict[str, float]:
        """Train on ``{"prompt", "steps", "labels"}`` examples (labels from :func:`step_labels`)."""
        import torch

        training = training or ProcessTraining()
        prefixes, targets = [], []
        for example in examples:
            steps, labels = list(example["steps"]), list(example["labels"])
            if len(steps) != len(labels):
                raise ConfigurationError(f"{len(steps)} steps but {len(labels)} labels")
            text = example.get("prompt", "")
            for step, label in zip(steps, labels, strict=True):
                text += step
                prefixes.append(text)
                targets.append(float(label))
        model, tokenizer = self.backbone.model, self.backbone.tokenizer
        # a cut prefix would carry the whole prefix's label
        fits = [len(encode(tokenizer, p)) <= self.max_length for p in prefixes]
        too_long = len(prefixes) - sum(fits)
        prefixes = [p for p, ok in zip(prefixes, fits, strict=True) if ok]
        targets = [t for t, ok in zip(targets, fits, strict=True) if ok]
        if not prefixes:
            raise ConfigurationError("no labelled steps (that fit the model's context) to train on")

        def batch_loss(chunk: list[int]) -> Any:
            logits = self._logits([prefixes[i] for i in chunk], tokenizer)
            target = torch.tensor([targets[i] for i in chunk])
            return torch.nn.functional.binary_cross_entropy_with_logits(logits, target)

        start = time.monotonic()
        model.train()
        losses = train_minibatches(list(model.parameters()), len(prefixes), training, batch_loss)
        model.eval()
        self.backbone.trained = True
        self.metrics = {
            "steps": float(len(prefixes)),
            "steps_too_long": float(too_long),
            "seconds": time.monotonic() - start,
            "final_loss": float(np.mean(losses[-10:])) if losses else float("nan"),
        }
        return dict(self.metrics)

    def _logits(self, texts: Sequence[str], tokenizer: Any) -> Any:
        ids = [encode(tokenizer, t)[: self.max_length] for t in texts]
        input_ids, attention = right_pad(ids, tokenizer.pad_token_id)
        logits = self.backbone.model(input_ids=input_ids, attention_mask=attention).logits
        return logits.squeeze(-1)

    def judged_step_scores(
        self, prompts: Sequence[str] | None, completions: Sequence[str], partial: np.ndarray
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Step scores as a term judges them: a partial text only up to its last separator
        (the step still being written is not judged; none: no steps)."""
        sep = self.separator
        judged = [
            text[: text.rfind(sep) + len(sep)]
            if prefix and sep in text
            else ("" if prefix else text)
            for text, prefix in zip(completions, partial, strict=True)
        ]
        return self.step_scores(prompts, judged)

    def step_scores(
        self, prompts: Sequence[str] | None, completions: Sequence[str]
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Per completion, σ(score) of each step prefix; and a mask of completions whose
        text does not fit the context (their later steps are read cut)."""
        import torch

        prompts = prompts if prompts is not None else [""] * len(completions)
        tokenizer = self.backbone.tokenizer
        results: list[np.ndarray] = []
        truncated = np.zeros(len(completions), dtype=bool)
        self.backbone.model.eval()
        with torch.no_grad():
            for index, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
                steps = split_steps(completion, self.separator)
                prefixes, text = [], prompt
                for step in steps:
                    text += step
                    prefixes.append(text)
                if not prefixes:
                    results.append(np.empty(0))
                    continue
                length = len(encode(tokenizer, text))
                truncated[index] = length > self.max_length
                logits = self._logits(prefixes, tokenizer)
                results.append(torch.sigmoid(logits).double().numpy().reshape(-1))
        return results, truncated
