"""A reward model that trains only a linear head on a frozen causal LM's features.

Fine-tuning a real backbone (SmolLM2-135M: 28 s per step of 32 sequences on
two cores) is out of reach on a CPU; reading its features once is not. For a
prompt x and completion y the backbone, frozen, reads ``x + y + EOS`` and the
features are

    φ(x, y) = [h_L(EOS) ; mean_{t ∈ y} h_L(t)]

the hidden state of layer ``L`` at the final EOS and its mean over the
completion's tokens (2·d values), standardized with the training set's mean
and spread. The reward is linear, r(x, y) = w·φ̂(x, y), and ``fit`` trains
w on preference pairs with the Bradley–Terry loss and an L2 penalty,

    L(w) = −E[log σ(w·(φ̂_c − φ̂_r))] + λ‖w‖²

(Bradley & Terry 1952; the linear-probe reward of Ouyang et al. 2022's RM
without its fine-tuning), by L-BFGS. Only the head is saved; the manifest names
the backbone (a named model such as ``"smollm2-135m-instruct"`` or a path, read
back with :func:`rewardkit.lm.load`), and a backbone built in memory is saved
beside the head.

Example:
    >>> model = FrozenHeadRewardModel.tiny("0123456789+=", seed=0)
    >>> pairs = [{"prompt": f"{a}+{a}=", "chosen": str(2 * a), "rejected": str(2 * a + 1)}
    ...          for a in range(5)]
    >>> metrics = model.fit(pairs)
    >>> model.trained, 0.0 <= metrics["train_accuracy"] <= 1.0
    (True, True)
    >>> scores, truncated = model.score(["1+1="], ["2"])
    >>> scores.shape, truncated.tolist()
    ((1,), [False])
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.progress import progress
from rewardkit.lm.padding import right_pad
from rewardkit.lm.tokens import encode
from rewardkit.models._common import ModelError
from rewardkit.models.base import CompletionRewardModel
from rewardkit.models.preference import MANIFEST, read_manifest, save_folder

__all__ = ["BradleyTerryHead", "FrozenHeadRewardModel", "HiddenFeatures", "hidden_features"]

_HEAD = "head.npz"


class FrozenHeadRewardModel(CompletionRewardModel, kind="frozen-head"):
    """A linear Bradley–Terry head on a frozen causal LM (see the module docs).

    Args:
        model: a Hugging Face causal LM (it is never trained here).
        tokenizer: its tokenizer (with an EOS token).
        max_length: tokens read (default: the model's position limit); longer texts keep
            their end and are reported as truncated.
        trained: whether the head has been fitted.
        layer: the hidden layer read (``-1``: the last; ``0``: the embeddings).
        backbone: the name or path the backbone loads from (``None``: it is saved with the
            head).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        max_length: int | None = None,
        trained: bool = False,
        layer: int = -1,
        backbone: str | None = None,
    ) -> None:
        super().__init__(model, tokenizer, max_length, trained)
        self.layer = _checked_layer(model, layer)
        self.backbone = backbone
        self.head = BradleyTerryHead.untrained(2 * int(model.config.hidden_size))

    def _accept(self, model: Any, tokenizer: Any) -> None:
        if tokenizer.eos_token_id is None:
            raise ModelError("the tokenizer has no EOS token, which ends every scored text")
        if getattr(model.config, "hidden_size", None) is None:
            raise ModelError(f"{type(model).__name__} has no hidden_size: not a causal LM")

    @classmethod
    def tiny(cls, alphabet: str, seed: int = 0, n_embd: int = 32, layer: int = -1) -> Self:
        """A head on a tiny GPT-2 over a character alphabet (built from config).

        Args:
            alphabet: the characters the tokenizer knows.
            seed: the backbone's initialization seed.
            n_embd: its width.
            layer: the hidden layer read.
        """
        from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2

        tokenizer = build_char_tokenizer(alphabet)
        model = build_tiny_gpt2(tokenizer, n_layer=2, n_embd=n_embd, n_head=2, seed=seed)
        return cls(model.eval(), tokenizer, layer=layer)

    @classmethod
    def on(cls, backbone: str | os.PathLike[str], layer: int = -1) -> Self:
        """An untrained head on a backbone :func:`rewardkit.lm.load` reads.

        Args:
            backbone: a named model (``"smollm2-135m-instruct"``), a folder or a GGUF file.
            layer: the hidden layer read.
        """
        from rewardkit.lm.named import NAMED_MODELS, load

        model, tokenizer = load(backbone)
        name = os.fspath(backbone)
        source = name if name in NAMED_MODELS else str(Path(name).resolve())
        return cls(model, tokenizer, layer=layer, backbone=source)

    def features(
        self, prompts: Sequence[str] | None, completions: Sequence[str], batch_size: int = 16
    ) -> tuple[np.ndarray, np.ndarray]:
        """φ(x, y) of each (prompt, completion), unstandardized, and the truncation mask.

        Returns:
            ``(features, truncated)``: (N, 2·d) float64 and (N,) bool.
        """
        found = hidden_features(
            self.model, self.tokenizer, prompts, completions, [self.layer], self.max_length,
            batch_size,
        )  # fmt: skip
        return found.by_layer[self.layer], found.truncated

    def score(
        self, prompts: Sequence[str] | None, completions: Sequence[str], batch_size: int = 16
    ) -> tuple[np.ndarray, np.ndarray]:
        """r(x, y) = w·φ̂(x, y) for each completion, and the truncation mask."""
        features, truncated = self.features(prompts, completions, batch_size)
        return self.score_features(features), truncated

    def score_features(self, features: np.ndarray) -> np.ndarray:
        """The reward of precomputed :meth:`features` rows."""
        return self.head.score(features)

    def fit(
        self, pairs: Sequence[Mapping[str, Any]], l2: float = 1e-2, batch_size: int = 16
    ) -> dict[str, float]:
        """Fit the head on ``{"prompt", "chosen", "rejected"}`` pairs (Bradley–Terry).

        Args:
            pairs: TRL's preference format (``prompt`` may be absent).
            l2: λ, the penalty on ‖w‖².
            batch_size: texts per forward pass.

        Returns:
            ``train_loss`` and ``train_accuracy`` (share of pairs ranked right).
        """
        if not pairs:
            raise ConfigurationError("fit needs at least one preference pair")
        prompts = [row.get("prompt", "") for row in pairs]
        chosen, _ = self.features(prompts, [row["chosen"] for row in pairs], batch_size)
        rejected, _ = self.features(prompts, [row["rejected"] for row in pairs], batch_size)
        return self.fit_features(chosen, rejected, l2)

    def fit_features(
        self, chosen: np.ndarray, rejected: np.ndarray, l2: float = 1e-2
    ) -> dict[str, float]:
        """Fit the head on precomputed features of chosen and rejected completions
        (:meth:`BradleyTerryHead.fit`)."""
        self.metrics = self.head.fit(chosen, rejected, l2)
        self.trained = True
        return self.metrics

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the head, its manifest (kind, layer, backbone) and, for a backbone built
        in memory, the backbone and tokenizer under ``backbone/``; whole or not at all."""
        head = self.head

        def write(staging: Path) -> None:
            np.savez(staging / _HEAD, weights=head.weights, center=head.center, spread=head.spread)
            save_backbone(self.model, self.tokenizer, self.backbone, staging)
            manifest = {"kind": self.kind, "layer": self.layer, "backbone": self.backbone,
                        **self._manifest()}  # fmt: skip
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")

        return save_folder(path, write)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """The head saved at ``path`` on its backbone."""
        folder = Path(path)
        if not (folder / MANIFEST).is_file() or not (folder / _HEAD).is_file():
            raise ModelError(f"{folder} holds no saved frozen-head reward model")
        manifest = read_manifest(folder)
        source = manifest.get("backbone")
        model, tokenizer = load_backbone(folder, source)
        loaded = cls(model, tokenizer, manifest.get("max_length"), manifest.get("trained", True),
                     layer=int(manifest["layer"]), backbone=source)  # fmt: skip
        with np.load(folder / _HEAD) as head:
            loaded.head = BradleyTerryHead(head["weights"], head["center"], head["spread"])
        loaded.metrics = dict(manifest.get("metrics", {}))
        return loaded


def save_backbone(model: Any, tokenizer: Any, source: str | None, staging: Path) -> None:
    """A head's backbone in its save: nothing when ``source`` names where it loads from, else
    the model and tokenizer under ``backbone/`` (one built in memory)."""
    if source is None:
        model.save_pretrained(staging / "backbone")
        tokenizer.save_pretrained(staging / "backbone")


def load_backbone(folder: Path, source: str | None) -> tuple[Any, Any]:
    """The backbone a saved head names (:func:`rewardkit.lm.load`), or the one saved with it."""
    from rewardkit.lm.local import load_causal_lm
    from rewardkit.lm.named import load

    return load(source) if source else load_causal_lm(folder / "backbone")


def _checked_layer(model: Any, layer: int) -> int:
    """``layer`` if the model has it (0: the embeddings, -1 or L: the last layer)."""
    layers = getattr(model.config, "num_hidden_layers", None) or getattr(
        model.config, "n_layer", None
    )
    if layers is not None and not -(layers + 1) <= layer <= layers:
        raise ConfigurationError(
            f"layer {layer} is out of range: the model has hidden states 0..{layers} "
            f"(or -{layers + 1}..-1)"
        )
    return layer


@dataclass(frozen=True)
class HiddenFeatures:
    """What :func:`hidden_features` reads in its one pass.

    Attributes:
        by_layer: layer → (N, 2·d) float64 features φ(x, y).
        truncated: (N,) bool, the texts cut to fit.
        mean_log_prob: (N,) mean log π(y_t | x, y_<t) over each completion's tokens and
            its EOS (temperature 1), where asked for; else None. A text's first kept
            token has no prediction, so where the prompt is empty or cut away the mean
            starts at the completion's second token.
        prefix_states: per text, the last layer's state after every prefix (the prompt's
            last token, then each completion token; not the EOS), float32, where asked for:
            what :meth:`rewardkit.models.PolicyValueHead.fit_states` trains on.
    """

    by_layer: dict[int, np.ndarray]
    truncated: np.ndarray
    mean_log_prob: np.ndarray | None
    prefix_states: list[np.ndarray] | None = None


def hidden_features(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str] | None,
    completions: Sequence[str],
    layers: Sequence[int],
    max_length: int,
    batch_size: int = 16,
    log_probs: bool = False,
    prefix_states: bool = False,
) -> HiddenFeatures:
    """φ(x, y) = [h_L(EOS) ; mean over y of h_L] at each of ``layers``, in one pass per batch.

    Each text is ``prompt + completion + EOS`` (token ids, no special tokens added), cut
    to its last ``max_length`` tokens; texts are batched by length and right-padded, so
    a row's states are those it gets alone, in less time. Without ``log_probs`` the LM
    head is skipped (no (batch, length, vocabulary) logits are built); with it, the same
    pass also gives each completion's mean token log-probability; with
    ``prefix_states``, the last layer's state after every prefix of the text (the states
    a value head reads; a causal model's states before the EOS do not depend on it).

    Raises:
        ConfigurationError: the prompts and completions differ in number.
    """
    import torch

    texts_prompts = list(prompts) if prompts is not None else [""] * len(completions)
    if len(texts_prompts) != len(completions):
        raise ConfigurationError(f"{len(texts_prompts)} prompts for {len(completions)} completions")
    if max_length < 2:
        raise ConfigurationError(f"max_length must be at least 2 tokens, got {max_length}")
    for layer in layers:
        _checked_layer(model, layer)
    eos = int(tokenizer.eos_token_id)
    rows, starts, truncated = [], [], []
    for prompt, completion in zip(texts_prompts, completions, strict=True):
        head = encode(tokenizer, prompt) if prompt else []
        ids = [*head, *encode(tokenizer, completion), eos]
        cut = max(0, len(ids) - max_length)
        rows.append(ids[cut:])
        starts.append(max(0, len(head) - cut))
        truncated.append(cut > 0)
    width = 2 * int(model.config.hidden_size)
    out = {layer: np.zeros((len(rows), width)) for layer in layers}
    mean_log_prob = np.full(len(rows), np.nan) if log_probs else None
    found_states: dict[int, np.ndarray] = {}
    body = model if log_probs else getattr(model, "base_model", model)
    # batches of similar length: padding costs nothing in the results, only in time
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    with torch.no_grad():
        for begin in progress(range(0, len(rows), batch_size), "features", log_every=30.0):
            members = order[begin : begin + batch_size]
            batch = [rows[i] for i in members]
            padded, attention = right_pad(batch, pad=eos)
            found = body(input_ids=padded, attention_mask=attention, output_hidden_states=True)
            for layer in layers:
                hidden = found.hidden_states[layer]
                for j, (i, row) in enumerate(zip(members, batch, strict=True)):
                    span = hidden[j, starts[i] : len(row)]
                    features = torch.cat([hidden[j, len(row) - 1], span.mean(0)])
                    out[layer][i] = features.double().numpy()
            if prefix_states:
                last = found.hidden_states[-1]
                for j, (i, row) in enumerate(zip(members, batch, strict=True)):
                    start = max(starts[i], 1)  # the prompt's last token, where kept
                    found_states[i] = last[j, start - 1 : len(row) - 1].float().numpy().copy()
            if mean_log_prob is not None:
                for j, (i, row) in enumerate(zip(members, batch, strict=True)):
                    first = max(starts[i], 1)  # the first token has no prediction
                    steps = found.logits[j, first - 1 : len(row) - 1].log_softmax(-1)
                    chosen = steps.gather(-1, padded[j, first : len(row), None])
                    mean_log_prob[i] = float(chosen.mean())
    states = [found_states[i] for i in range(len(rows))] if prefix_states else None
    return HiddenFeatures(out, np.asarray(truncated), mean_log_prob, states)


@dataclass
class BradleyTerryHead:
    """r(φ) = w·(φ − μ)/σ: a linear reward on standardized features, fitted on pairs.

    ``fit`` minimizes −E[log σ(w·(φ̂_c − φ̂_r))] + λ‖w‖² by L-BFGS, with μ and σ the mean
    and spread over both sides' rows (a Bradley–Terry loss cannot see a bias).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> rejected = rng.normal(size=(100, 3))
        >>> head = BradleyTerryHead.untrained(3)
        >>> metrics = head.fit(rejected + [1.0, 0.0, 0.0], rejected)
        >>> metrics["train_accuracy"], bool(head.weights[0] > abs(head.weights[1:]).max())
        (1.0, True)
    """

    weights: np.ndarray
    center: np.ndarray
    spread: np.ndarray

    @classmethod
    def untrained(cls, width: int) -> BradleyTerryHead:
        """w = 0 over ``width`` features (every score 0)."""
        return cls(np.zeros(width), np.zeros(width), np.ones(width))

    def score(self, features: np.ndarray) -> np.ndarray:
        """w·(φ − μ)/σ of each row."""
        result: np.ndarray = ((features - self.center) / self.spread) @ self.weights
        return result

    def fit(self, chosen: np.ndarray, rejected: np.ndarray, l2: float = 1e-2) -> dict[str, float]:
        """Fit on rows of chosen and rejected features; ``train_loss``, ``train_accuracy``
        and ``pairs``.

        Raises:
            ConfigurationError: the arrays are not two equal (N, D) with N ≥ 1, or λ < 0.
            ModelError: a feature is NaN or infinite.
        """
        import torch

        if chosen.shape != rejected.shape or chosen.ndim != 2 or not len(chosen):
            raise ConfigurationError(
                f"chosen {chosen.shape} and rejected {rejected.shape}: need two equal (N, D)"
            )
        if not (np.isfinite(chosen).all() and np.isfinite(rejected).all()):
            raise ModelError("a feature is NaN or infinite: the backbone's hidden states are")
        if not (math.isfinite(l2) and l2 >= 0):
            raise ConfigurationError(f"l2 must be finite and >= 0, got {l2}")
        both = np.concatenate([chosen, rejected])
        self.center = both.mean(0)
        self.spread = both.std(0) + 1e-6
        difference = torch.tensor((chosen - rejected) / self.spread)
        weights = torch.zeros(difference.shape[1], dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.LBFGS([weights], max_iter=200, line_search_fn="strong_wolfe")

        def closure() -> Any:
            optimizer.zero_grad()
            loss = -torch.nn.functional.logsigmoid(difference @ weights).mean()
            loss = loss + l2 * (weights**2).sum()
            loss.backward()  # type: ignore[no-untyped-call]
            return loss

        optimizer.step(closure)  # type: ignore[no-untyped-call]
        self.weights = weights.detach().numpy().copy()
        margin = difference.numpy() @ self.weights
        return {
            "train_loss": float(np.mean(np.logaddexp(0.0, -margin))),
            "train_accuracy": float(np.mean(margin > 0)),
            "pairs": float(len(chosen)),
        }
