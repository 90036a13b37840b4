"""A Bradley–Terry preference reward model: a scalar head on a causal LM, trained on pairs.

Given pairs (prompt x, chosen y_c, rejected y_r) in TRL's preference format
(``prompt``, ``chosen``, ``rejected``, optional ``margin``), the model r_θ is
trained on

    L = −E[log σ(r_θ(x, y_c) − r_θ(x, y_r) − m)] + c · E[(r_θ(x, y_c) + r_θ(x, y_r))²]

(Bradley & Terry 1952; Ouyang et al. 2022; the centring term of Eisenstein et
al. 2023 with coefficient c). Training uses TRL's ``RewardTrainer``, which
trains a from-config model on the CPU in seconds: the default backbone is a
tiny GPT-2 (``GPT2ForSequenceClassification``) over a character tokenizer; a
local Hugging Face model directory works too. TRL joins ``prompt + chosen`` and
appends the tokenizer's EOS, and so does :meth:`PreferenceRewardModel.score`.

Saved as a directory: the model's ``config.json`` and ``model.safetensors``,
the tokenizer's files, and ``rewardkit.json`` (max length, whether trained,
training metrics), written to a temporary directory and renamed into place.

Example:
    >>> pairs = [{"prompt": f"{a}+{a}=", "chosen": str(2 * a), "rejected": str(2 * a + 1)}
    ...          for a in range(5)]
    >>> model = PreferenceRewardModel.tiny("0123456789+=", seed=0)
    >>> scores, truncated = model.score(["1+1="], ["2"])
    >>> scores.shape, truncated.tolist()
    ((1,), [False])
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.lm.padding import right_pad
from rewardkit.models._common import ModelError
from rewardkit.models.base import CompletionRewardModel

__all__ = [
    "MANIFEST",
    "ModelError",
    "PreferenceRewardModel",
    "RewardModelTraining",
    "bradley_terry_loss",
    "read_manifest",
    "save_folder",
    "save_model_dir",
]

MANIFEST = "rewardkit.json"


def bradley_terry_loss(
    r_chosen: Any, r_rejected: Any, margin: Any = None, center_coefficient: float = 0.0
) -> Any:
    """−mean(log σ(r_c − r_r − m)) + c · mean((r_c + r_r)²), as torch tensors.

    Example:
        >>> import torch
        >>> loss = bradley_terry_loss(torch.tensor([2.0]), torch.tensor([0.0]))
        >>> round(float(loss), 4)  # −log σ(2) = log(1 + e^−2)
        0.1269
    """
    import torch

    difference = r_chosen - r_rejected
    if margin is not None:
        difference = difference - margin
    loss = -torch.nn.functional.logsigmoid(difference).mean()
    if center_coefficient:
        loss = loss + center_coefficient * torch.mean((r_chosen + r_rejected) ** 2)
    return loss


@dataclass(frozen=True)
class RewardModelTraining:
    """Settings of one training run (passed to TRL's ``RewardConfig``).

    Attributes:
        epochs: passes over the pairs.
        batch_size: pairs per step.
        learning_rate: AdamW learning rate.
        center_coefficient: weight of the centring term (0 disables it).
        seed: seed of the run (and of a bootstrap sample in an ensemble).
    """

    epochs: float = 3.0
    batch_size: int = 32
    learning_rate: float = 3e-3
    center_coefficient: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "learning_rate"):
            value = getattr(self, name)
            if not value > 0:
                raise ConfigurationError(
                    f"RewardModelTraining.{name} must be positive, got {value}"
                )
        if not (math.isfinite(self.center_coefficient) and self.center_coefficient >= 0):
            raise ConfigurationError("center_coefficient must be a finite number >= 0")


def _checkpointing_option(config_class: Any) -> str:
    """TRL turns activation checkpointing on by default; its option's name since transformers
    5 is ``activation_checkpointing`` (``gradient_checkpointing`` is a deprecated alias)."""
    names = {f.name for f in dataclasses.fields(config_class)}
    return (
        "activation_checkpointing"
        if "activation_checkpointing" in names
        else ("gradient_checkpointing")
    )


def save_model_dir(
    model: Any, tokenizer: Any, manifest: Mapping[str, Any], path: str | os.PathLike[str]
) -> Path:
    """Save a HF model (safetensors), its tokenizer and ``rewardkit.json`` into ``path``,
    whole or not at all (:func:`save_folder`)."""

    def write(staging: Path) -> None:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        (staging / MANIFEST).write_text(json.dumps(dict(manifest), indent=2) + "\n")

    return save_folder(path, write)


def save_folder(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Fill ``path`` by ``write(staging)``, atomically.

    Everything is written to a temporary sibling directory first, which is
    renamed into place; an older save is moved aside and removed only after,
    and moved back if the rename fails, so ``path`` holds a whole save or the
    previous one.
    """
    folder = Path(path)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-new-", dir=folder.parent))
    try:
        staging.chmod(0o755)
        write(staging)
        if not folder.exists():
            staging.rename(folder)
            return folder
        retired = Path(tempfile.mkdtemp(prefix=f".{folder.name}-old-", dir=folder.parent))
        retired.rmdir()  # a fresh unique name for the old save
        folder.rename(retired)
        try:
            staging.rename(folder)
        except OSError:
            retired.rename(folder)
            raise
        shutil.rmtree(retired, ignore_errors=True)
        return folder
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The ``rewardkit.json`` of a saved model, or {} (any HF model directory loads)."""
    if not folder.is_dir():
        raise ModelError(f"no reward model at {folder}: train one and save() it there")
    path = folder / MANIFEST
    return dict(json.loads(path.read_text())) if path.is_file() else {}


class PreferenceRewardModel(CompletionRewardModel, kind="preference"):
    """A scalar reward model r_θ(prompt, completion) with its tokenizer.

    Args:
        model: a Hugging Face sequence-classification model with one label.
        tokenizer: its tokenizer (with a pad and an EOS token).
        max_length: tokens the model reads (default: its position limit).
        trained: whether it has been trained (an untrained model is refused
            by :class:`~rewardkit.models.term.RewardModelTerm`).
    """

    def _accept(self, model: Any, tokenizer: Any) -> None:
        if tokenizer.pad_token_id is None or tokenizer.eos_token is None:
            raise ModelError("the tokenizer needs a pad token and an EOS token")
        if getattr(model.config, "num_labels", 1) != 1:
            raise ModelError(f"a reward model has one output, this one {model.config.num_labels}")
        model.config.pad_token_id = tokenizer.pad_token_id

    @classmethod
    def tiny(
        cls,
        alphabet: str,
        n_layer: int = 1,
        n_embd: int = 32,
        n_head: int = 2,
        n_positions: int = 64,
        seed: int = 0,
    ) -> PreferenceRewardModel:
        """An untrained tiny GPT-2 reward model over a character tokenizer, from config."""
        import torch
        from transformers import GPT2Config, GPT2ForSequenceClassification

        from rewardkit.models.tiny import build_char_tokenizer

        tokenizer = build_char_tokenizer(alphabet)
        config = GPT2Config(
            vocab_size=len(tokenizer), n_positions=n_positions, n_embd=n_embd, n_layer=n_layer,
            n_head=n_head, pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        )  # fmt: skip
        config.num_labels = 1
        torch.manual_seed(seed)
        return cls(GPT2ForSequenceClassification(config), tokenizer)

    @classmethod
    def from_policy(cls, policy: Any, tokenizer: Any, seed: int = 0) -> PreferenceRewardModel:
        """An untrained reward model that starts from a causal LM: the LM's transformer
        weights under a new one-output head (as InstructGPT's reward models start from the
        SFT policy), so it begins with what the policy knows of the task.

        Example:
            >>> from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
            >>> tokenizer = build_char_tokenizer("01")
            >>> policy = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2)
            >>> rm = PreferenceRewardModel.from_policy(policy, tokenizer)
            >>> bool((rm.model.transformer.wte.weight == policy.transformer.wte.weight).all())
            True
        """
        import copy

        import torch
        from transformers import AutoModelForSequenceClassification

        config = copy.deepcopy(policy.config)
        config.num_labels, config.pad_token_id = 1, tokenizer.pad_token_id
        torch.manual_seed(seed)
        model = AutoModelForSequenceClassification.from_config(config)  # type: ignore[no-untyped-call]
        missing, _ = model.load_state_dict(policy.state_dict(), strict=False)
        unmatched = [key for key in missing if not key.startswith("score")]
        if unmatched:
            raise ModelError(f"the policy's weights do not fit a reward model: {unmatched[:3]}")
        return cls(model, tokenizer)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PreferenceRewardModel:
        """Load a model saved by :meth:`save` (or any one-label HF reward model directory)."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        folder = Path(path)
        if not folder.is_dir():
            raise ModelError(f"no reward model at {folder}: train one and save() it there")
        manifest = (
            json.loads((folder / MANIFEST).read_text()) if (folder / MANIFEST).is_file() else {}
        )
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model, info = AutoModelForSequenceClassification.from_pretrained(
                folder, num_labels=1, local_files_only=True, output_loading_info=True
            )
        except (OSError, ValueError) as exc:
            raise ModelError(f"{folder} is not a reward model directory: {exc}") from exc
        missing = [key for key in info.get("missing_keys", ()) if "score" in key]
        if missing:
            raise ModelError(
                f"{folder} has no trained reward head ({', '.join(missing)}): it is a language "
                "model, not a reward model; fit() a PreferenceRewardModel on it first"
            )
        loaded = cls._from_manifest(model, tokenizer, manifest)
        model.eval()
        return loaded

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model, tokenizer and manifest to ``path`` atomically (safetensors)."""
        return save_model_dir(self.model, self.tokenizer, self._manifest(), path)

    def fit(
        self, pairs: Iterable[Mapping[str, Any]] | Any, training: RewardModelTraining | None = None
    ) -> dict[str, float]:
        """Train on preference pairs with TRL's ``RewardTrainer``; returns the run's metrics."""
        import torch
        from datasets import Dataset
        from transformers import PrinterCallback
        from trl import RewardConfig, RewardTrainer

        training = training or RewardModelTraining()
        dataset = pairs if isinstance(pairs, Dataset) else Dataset.from_list(list(pairs))
        missing = {"chosen", "rejected"} - set(dataset.column_names)
        if missing:
            raise ConfigurationError(f"preference pairs need columns {sorted(missing)}")
        if len(dataset) and not isinstance(dataset[0]["chosen"], str):
            raise ConfigurationError(
                "conversational pairs are not supported: score() reads plain text, so train "
                "on the text the policy's completions will be scored as"
            )
        start = time.monotonic()
        checkpointing: dict[str, Any] = {_checkpointing_option(RewardConfig): False}
        with tempfile.TemporaryDirectory() as output_dir:
            config = RewardConfig(
                output_dir=output_dir, num_train_epochs=training.epochs,
                per_device_train_batch_size=training.batch_size,
                learning_rate=training.learning_rate, seed=training.seed,
                center_rewards_coefficient=training.center_coefficient or None,
                max_length=self.max_length, report_to=[], use_cpu=True, save_strategy="no",
                logging_steps=10, disable_tqdm=True, bf16=False,
                **checkpointing,
            )  # fmt: skip
            torch.manual_seed(training.seed)
            trainer = RewardTrainer(
                model=self.model,
                args=config,
                train_dataset=dataset,
                processing_class=self.tokenizer,
            )
            trainer.remove_callback(PrinterCallback)  # metrics are returned, not printed
            train_set = trainer.train_dataset
            assert isinstance(train_set, Sized)  # a datasets.Dataset: RewardTrainer maps it
            kept = len(train_set)
            trainer.train()
        self.model.eval()
        self.trained = True
        losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
        self.metrics = {
            "pairs": float(len(dataset)),
            "pairs_too_long": float(len(dataset) - kept),
            "seconds": time.monotonic() - start,
            "final_loss": float(losses[-1]) if losses else float("nan"),
        }
        return dict(self.metrics)

    def _texts(self, prompts: Sequence[str] | None, completions: Sequence[str]) -> list[str]:
        eos = self.tokenizer.eos_token
        prompts = prompts if prompts is not None else [""] * len(completions)
        return [
            p + (c if c.endswith(eos) else c + eos)
            for p, c in zip(prompts, completions, strict=True)
        ]

    def score(
        self,
        prompts: Sequence[str] | None,
        completions: Sequence[str],
        batch_size: int = 64,
    ) -> tuple[np.ndarray, np.ndarray]:
        """r_θ(prompt, completion) for every pair, batched under ``no_grad``, and a mask of
        the completions cut at ``max_length`` (their score reads only the first tokens)."""
        import torch

        texts = self._texts(prompts, completions)
        scores = np.empty(len(texts))
        truncated = np.zeros(len(texts), dtype=bool)
        self.model.eval()
        with torch.no_grad():
            for begin in range(0, len(texts), batch_size):
                chunk = texts[begin : begin + batch_size]
                # as TRL tokenized them for training, special tokens (a BOS) included
                ids = self.tokenizer(chunk)["input_ids"]
                truncated[begin : begin + len(chunk)] = [len(i) > self.max_length for i in ids]
                ids = [i[: self.max_length] for i in ids]
                input_ids, attention = right_pad(ids, self.tokenizer.pad_token_id)
                logits = self.model(input_ids=input_ids, attention_mask=attention).logits
                scores[begin : begin + len(chunk)] = logits.squeeze(-1).float().numpy()
        return scores, truncated
