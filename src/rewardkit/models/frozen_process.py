"""A process reward model that trains only a logistic head on a frozen causal LM's features.

The PRM of :mod:`rewardkit.models.process` fine-tunes a sequence classifier:
out of reach on a CPU for a real backbone (SmolLM2-135M). This one keeps the
backbone frozen, as :class:`~rewardkit.models.frozen_head.FrozenHeadRewardModel`
does, and cuts a completion into steps of ``step_tokens`` tokens (a model
whose text has no reliable line structure still has token blocks, and SMC
steers in the same blocks). After step k the features are

    φ_k = [h_L(t_k) ; mean_{t ≤ t_k, t ∈ y} h_L(t)]

the hidden state of layer ``L`` at the step's last token t_k and the mean
over the completion so far; the final step of a finished completion ends at
an appended EOS. One forward pass of ``prompt + completion`` gives every
step's features (the model is causal). The score of step k is

    v_k = σ(w·φ̂_k + b)

fitted by binary cross-entropy, with an L2 penalty, on labels in [0, 1]:
Math-Shepherd's (Wang et al. 2024) Monte-Carlo estimates of the chance that
a continuation from the prefix ends correct (:func:`~rewardkit.models.process.step_labels`,
soft or hard). Read on a prefix, v_k is a value estimate, so the same model
steers SMC and value-guided decoding (:class:`~rewardkit.models.term.ProcessRewardTerm`
judges a partial text's steps without the EOS).

Example:
    >>> model = FrozenHeadProcessRewardModel.tiny("0123456789+=", step_tokens=2, seed=0)
    >>> model.step_count("1+1"), model.step_count("1+1", finished=False)
    (2, 2)
    >>> examples = [{"prompt": f"{a}+{a}=", "completion": str(2 * a), "labels": [float(a % 2)]}
    ...             for a in range(1, 5)]
    >>> metrics = model.fit(examples)
    >>> scores, truncated = model.step_scores(["1+1="], ["2"])
    >>> scores[0].shape, bool(0.0 < scores[0][0] < 1.0), truncated.tolist()
    ((1,), True, [False])
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.progress import progress
from rewardkit.lm.padding import right_pad
from rewardkit.lm.tokens import encode
from rewardkit.models._common import ModelError, check_vocabulary, context_length
from rewardkit.models.base import RewardModel
from rewardkit.models.frozen_head import _checked_layer, load_backbone, save_backbone
from rewardkit.models.preference import MANIFEST, read_manifest, save_folder

__all__ = ["FrozenHeadProcessRewardModel", "LogisticHead", "step_features"]

_HEAD = "head.npz"


def _step_ends(length: int, step_tokens: int, finished: bool) -> list[int]:
    """Where each step ends, in completion tokens (the EOS, if finished, is token
    ``length``): every ``step_tokens`` tokens, and at the end."""
    total = length + int(finished)
    ends = list(range(step_tokens, total, step_tokens))
    if total and (not ends or ends[-1] != total):
        ends.append(total)
    return ends


def step_features(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str] | None,
    completions: Sequence[str],
    finished: Sequence[bool],
    layer: int,
    step_tokens: int,
    max_length: int,
    batch_size: int = 16,
) -> tuple[list[np.ndarray], np.ndarray]:
    """φ_k of every step of every completion (see the module docs), one forward pass each.

    A finished completion is read with an EOS after it (its last step ends there); an
    unfinished one is a prefix, read as it is. Texts longer than ``max_length`` keep
    their end and are marked truncated (a step that ends in the cut part is read at the
    window's first token; a term skips truncated texts by default).

    Returns:
        ``(features, truncated)``: per completion a (steps, 2·d) float64 array (no rows
        for an unfinished empty completion), and the (N,) truncation mask.
    """
    import torch

    prompt_texts = list(prompts) if prompts is not None else [""] * len(completions)
    if not len(prompt_texts) == len(completions) == len(finished):
        raise ConfigurationError(
            f"{len(prompt_texts)} prompts, {len(completions)} completions, {len(finished)} "
            "finished flags: give one of each per completion"
        )
    if step_tokens < 1:
        raise ConfigurationError(f"step_tokens must be at least 1, got {step_tokens}")
    eos = int(tokenizer.eos_token_id)
    rows, starts, ends, truncated = [], [], [], []
    for prompt, completion, done in zip(prompt_texts, completions, finished, strict=True):
        head = encode(tokenizer, prompt) if prompt else []
        body = encode(tokenizer, completion)
        ids = [*head, *body, *([eos] if done else [])]
        cut = max(0, len(ids) - max_length)
        rows.append(ids[cut:])
        starts.append(len(head) - cut)
        ends.append(_step_ends(len(body), step_tokens, bool(done)))
        truncated.append(cut > 0)
    width = 2 * int(model.config.hidden_size)
    out = [np.zeros((len(e), width)) for e in ends]
    body_model = getattr(model, "base_model", model)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))  # less padding per batch
    with torch.no_grad():
        for begin in progress(range(0, len(order), batch_size), "step features", log_every=30.0):
            chunk = [i for i in order[begin : begin + batch_size] if rows[i]]
            if not chunk:
                continue
            padded, attention = right_pad([rows[i] for i in chunk], pad=eos)
            hidden = body_model(
                input_ids=padded, attention_mask=attention, output_hidden_states=True
            ).hidden_states[layer]
            for j, i in enumerate(chunk):
                if not ends[i]:
                    continue
                start = starts[i]
                last = torch.tensor([start + e - 1 for e in ends[i]]).clamp(min=0)
                states = hidden[j, : len(rows[i])].double()
                running = states[max(start, 0) :].cumsum(0)
                counts = torch.arange(1, len(running) + 1, dtype=torch.float64)[:, None]
                means = running / counts
                taken = (last - max(start, 0)).clamp(min=0, max=len(means) - 1)
                out[i] = torch.cat([states[last], means[taken]], dim=1).numpy()
    return out, np.asarray(truncated, dtype=bool)


@dataclass
class LogisticHead:
    """v(φ) = σ(w·(φ − μ)/σ + b): a probability from standardized features, fitted by
    binary cross-entropy (targets in [0, 1], soft labels allowed) and an L2 penalty on w.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> features = rng.normal(size=(200, 3))
        >>> head = LogisticHead.untrained(3)
        >>> metrics = head.fit(features, (features[:, 0] > 0).astype(float), l2=1e-3)
        >>> metrics["train_accuracy"] > 0.95, bool(head.weights[0] > abs(head.weights[1:]).max())
        (True, True)
    """

    weights: np.ndarray
    bias: float
    center: np.ndarray
    spread: np.ndarray

    @classmethod
    def untrained(cls, width: int) -> LogisticHead:
        """w = 0, b = 0 over ``width`` features (every probability 0.5)."""
        return cls(np.zeros(width), 0.0, np.zeros(width), np.ones(width))

    def logits(self, features: np.ndarray) -> np.ndarray:
        """w·(φ − μ)/σ + b of each row."""
        result: np.ndarray = ((features - self.center) / self.spread) @ self.weights + self.bias
        return result

    def score(self, features: np.ndarray) -> np.ndarray:
        """σ(logit) of each row."""
        result: np.ndarray = 1.0 / (1.0 + np.exp(-self.logits(features)))
        return result

    def log_loss(self, features: np.ndarray, targets: np.ndarray, floor: float = 1e-12) -> float:
        """Mean binary cross-entropy of the rows' probabilities against targets in [0, 1]
        (probabilities kept within ``floor`` of 0 and 1)."""
        p = np.clip(self.score(features), floor, 1 - floor)
        t = np.asarray(targets, dtype=np.float64)
        return float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))

    def fit(self, features: np.ndarray, targets: np.ndarray, l2: float = 1e-2) -> dict[str, float]:
        """Fit on (N, D) rows and N targets in [0, 1]; ``train_loss`` (mean cross-entropy),
        ``train_accuracy`` (rounded predictions against targets rounded at 0.5) and ``rows``.

        Raises:
            ConfigurationError: shapes differ, no rows, a target outside [0, 1], or λ < 0.
            ModelError: a feature is NaN or infinite.
        """
        import torch

        targets = np.asarray(targets, dtype=np.float64)
        if features.ndim != 2 or len(features) != len(targets) or not len(features):
            raise ConfigurationError(
                f"features {features.shape} and {targets.shape} targets: need (N, D) and N, N ≥ 1"
            )
        if not (np.isfinite(targets).all() and ((targets >= 0) & (targets <= 1)).all()):
            raise ConfigurationError("every target must be a number in [0, 1]")
        if not np.isfinite(features).all():
            raise ModelError("a feature is NaN or infinite: the backbone's hidden states are")
        if not (math.isfinite(l2) and l2 >= 0):
            raise ConfigurationError(f"l2 must be finite and >= 0, got {l2}")
        self.center, self.spread = features.mean(0), features.std(0) + 1e-6
        standardized = torch.tensor((features - self.center) / self.spread)
        target = torch.tensor(targets)
        weights = torch.zeros(standardized.shape[1] + 1, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.LBFGS([weights], max_iter=200, line_search_fn="strong_wolfe")

        def closure() -> Any:
            optimizer.zero_grad()
            logits = standardized @ weights[:-1] + weights[-1]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
            loss = loss + l2 * (weights[:-1] ** 2).sum()
            loss.backward()  # type: ignore[no-untyped-call]
            return loss

        optimizer.step(closure)  # type: ignore[no-untyped-call]
        found = weights.detach().numpy()
        self.weights, self.bias = found[:-1].copy(), float(found[-1])
        return {
            "train_loss": self.log_loss(features, targets),
            "train_accuracy": float(np.mean((self.score(features) > 0.5) == (targets > 0.5))),
            "rows": float(len(targets)),
        }


class FrozenHeadProcessRewardModel(RewardModel, kind="frozen-head-process"):
    """Per-step scores σ(w·φ̂_k + b) from a logistic head on a frozen causal LM (see the
    module docs).

    Args:
        model: a Hugging Face causal LM (never trained here).
        tokenizer: its tokenizer (with an EOS token).
        layer: the hidden layer read (``-1``: the last).
        step_tokens: tokens per step.
        max_length: tokens read (default: the model's position limit).
        backbone: the name or path the backbone loads from (``None``: saved with the head).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        layer: int = -1,
        step_tokens: int = 16,
        max_length: int | None = None,
        backbone: str | None = None,
    ) -> None:
        check_vocabulary(model, tokenizer)
        if tokenizer.eos_token_id is None:
            raise ModelError("the tokenizer has no EOS token, which ends every finished text")
        if step_tokens < 1:
            raise ConfigurationError(f"step_tokens must be at least 1, got {step_tokens}")
        self.model, self.tokenizer = model, tokenizer
        self.layer = _checked_layer(model, layer)
        self.step_tokens = int(step_tokens)
        self.max_length = context_length(model, max_length)
        self.backbone = backbone
        self.head = LogisticHead.untrained(2 * int(model.config.hidden_size))
        self.trained = False
        self.metrics: dict[str, float] = {}

    @classmethod
    def tiny(
        cls, alphabet: str, step_tokens: int = 4, seed: int = 0, n_embd: int = 32, layer: int = -1
    ) -> Self:
        """A head on a tiny GPT-2 over a character alphabet (built from config)."""
        from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2

        tokenizer = build_char_tokenizer(alphabet)
        model = build_tiny_gpt2(tokenizer, n_layer=2, n_embd=n_embd, n_head=2, seed=seed)
        return cls(model.eval(), tokenizer, layer=layer, step_tokens=step_tokens)

    @classmethod
    def on(cls, backbone: str | os.PathLike[str], layer: int = -1, step_tokens: int = 16) -> Self:
        """An untrained head on a backbone :func:`rewardkit.lm.load` reads (a named model such
        as ``"smollm2-135m-instruct"``, a folder or a GGUF file)."""
        from rewardkit.lm.named import NAMED_MODELS, load

        model, tokenizer = load(backbone)
        name = os.fspath(backbone)
        source = name if name in NAMED_MODELS else str(Path(name).resolve())
        return cls(model, tokenizer, layer, step_tokens, backbone=source)

    def step_count(self, completion: str, finished: bool = True) -> int:
        """How many steps ``completion`` has (a finished one's last step holds its EOS)."""
        body = len(encode(self.tokenizer, completion))
        return len(_step_ends(body, self.step_tokens, finished))

    def step_prefixes(self, completion: str) -> list[str]:
        """The text of the completion up to the end of each step but the last (the prefixes a
        Math-Shepherd rollout continues; decoded from the step's tokens)."""
        from rewardkit.lm.tokens import decode

        ids = encode(self.tokenizer, completion)
        ends = _step_ends(len(ids), self.step_tokens, True)[:-1]
        return [decode(self.tokenizer, ids[:end]) for end in ends]

    def features(
        self,
        prompts: Sequence[str] | None,
        completions: Sequence[str],
        finished: Sequence[bool] | None = None,
        batch_size: int = 16,
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Every step's features (:func:`step_features`); all finished by default."""
        done = [True] * len(completions) if finished is None else list(finished)
        return step_features(
            self.model, self.tokenizer, prompts, completions, done, self.layer,
            self.step_tokens, self.max_length, batch_size,
        )  # fmt: skip

    def step_scores(
        self,
        prompts: Sequence[str] | None,
        completions: Sequence[str],
        finished: Sequence[bool] | None = None,
        batch_size: int = 16,
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Per completion, v_k of each step (empty: no steps); and the truncation mask."""
        features, truncated = self.features(prompts, completions, finished, batch_size)
        return [self.head.score(f) if len(f) else np.empty(0) for f in features], truncated

    def judged_step_scores(
        self, prompts: Sequence[str] | None, completions: Sequence[str], partial: np.ndarray
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Step scores as a term judges them: a partial text's steps so far, read without
        an EOS (every token block is a step, the one being written too)."""
        return self.step_scores(prompts, completions, [not p for p in partial])

    def fit(
        self, examples: Iterable[Mapping[str, Any]], l2: float = 1e-2, batch_size: int = 16
    ) -> dict[str, float]:
        """Fit the head on ``{"prompt", "completion", "labels"}`` examples: one label per step
        of the finished completion (:meth:`step_count`); NaN labels are skipped.

        Raises:
            ConfigurationError: an example's labels do not match its steps, or none is left.
        """
        rows = list(examples)
        prompts = [row.get("prompt", "") for row in rows]
        features, _ = self.features(prompts, [row["completion"] for row in rows], None, batch_size)
        labels = []
        for index, (row, found) in enumerate(zip(rows, features, strict=True)):
            label = np.asarray(row["labels"], dtype=np.float64)
            if len(label) != len(found):
                raise ConfigurationError(
                    f"example {index}: {len(label)} labels for {len(found)} steps of "
                    f"{self.step_tokens} tokens"
                )
            labels.append(label)
        return self.fit_features(features, labels, l2)

    def fit_features(
        self, features: Sequence[np.ndarray], labels: Sequence[np.ndarray], l2: float = 1e-2
    ) -> dict[str, float]:
        """Fit the head on precomputed step features and their labels (NaN: skipped)."""
        if len(features) != len(labels):
            raise ConfigurationError(f"{len(features)} feature sets for {len(labels)} label sets")
        for index, (found, label) in enumerate(zip(features, labels, strict=True)):
            if len(found) != len(np.asarray(label)):
                raise ConfigurationError(
                    f"set {index}: {len(found)} steps of features but {len(label)} labels"
                )
        width = 2 * int(self.model.config.hidden_size)
        stacked = np.concatenate([f for f in features if len(f)] or [np.zeros((0, width))])
        targets = np.concatenate([np.asarray(x, dtype=np.float64) for x in labels] or [np.zeros(0)])
        known = ~np.isnan(targets)
        if not known.any():
            raise ConfigurationError("no labelled step to train on")
        self.metrics = {**self.head.fit(stacked[known], targets[known], l2),
                        "unlabelled_steps": float((~known).sum())}  # fmt: skip
        self.trained = True
        return dict(self.metrics)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the head and its manifest (and, for a backbone built in memory, the backbone
        and tokenizer under ``backbone/``); whole or not at all."""
        head = self.head

        def write(staging: Path) -> None:
            np.savez(staging / _HEAD, weights=head.weights, bias=np.array(head.bias),
                     center=head.center, spread=head.spread)  # fmt: skip
            save_backbone(self.model, self.tokenizer, self.backbone, staging)
            manifest = {
                "kind": self.kind, "layer": self.layer, "step_tokens": self.step_tokens,
                "backbone": self.backbone, "max_length": self.max_length,
                "trained": self.trained, "metrics": self.metrics,
            }  # fmt: skip
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")

        return save_folder(path, write)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """The head saved at ``path`` on its backbone."""
        folder = Path(path)
        if not (folder / MANIFEST).is_file() or not (folder / _HEAD).is_file():
            raise ModelError(f"{folder} holds no saved frozen-head process reward model")
        manifest = read_manifest(folder)
        source = manifest.get("backbone")
        model, tokenizer = load_backbone(folder, source)
        loaded = cls(model, tokenizer, int(manifest["layer"]), int(manifest["step_tokens"]),
                     manifest.get("max_length"), backbone=source)  # fmt: skip
        with np.load(folder / _HEAD) as head:
            loaded.head = LogisticHead(head["weights"], float(head["bias"]), head["center"],
                                       head["spread"])  # fmt: skip
        loaded.trained = bool(manifest.get("trained", True))
        loaded.metrics = dict(manifest.get("metrics", {}))
        return loaded
