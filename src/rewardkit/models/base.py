"""The shape every learned reward model shares: build, train, save, load.

:class:`RewardModel` is the base of the preference (Bradley–Terry), generative
(P(yes)), process (per-step) and frozen-head (a Bradley–Terry head, or a per-step
logistic head, on a frozen LM) reward models. Each subclass names its
``kind``, which its saved manifest (``rewardkit.json``) records, so
:func:`load_saved_model` gives back a model of the right class from a folder,
without an if-chain per kind. Scoring differs by kind (a scalar per completion,
or a score per step) and stays with each class. :class:`CompletionRewardModel`
is the base of the kinds that give a scalar per completion (preference,
generative, frozen-head): it keeps their model, tokenizer, context and manifest one way, and
measures their pair accuracy.

Example:
    >>> import rewardkit.models  # registers every kind the package ships
    >>> sorted(RewardModel.kinds())
    ['frozen-head', 'frozen-head-process', 'generative', 'preference', 'process']
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from rewardkit.models._common import ModelError, check_vocabulary, context_length

__all__ = ["CompletionRewardModel", "RewardModel", "load_saved_model", "saved_kind"]


class RewardModel(ABC):
    """A learned reward model: ``tiny`` builds one from config (tests, labs), ``fit``
    trains it, ``save`` writes it with its manifest and ``load`` reads it back.

    Subclasses register under their ``kind`` (``class X(RewardModel, kind="x")``).
    """

    kind: ClassVar[str]
    _kinds: ClassVar[dict[str, type[RewardModel]]] = {}
    metrics: dict[str, float]

    def __init_subclass__(cls, kind: str | None = None, **options: Any) -> None:
        super().__init_subclass__(**options)
        if kind is not None:
            cls.kind = kind
            RewardModel._kinds[kind] = cls

    @classmethod
    def kinds(cls) -> dict[str, type[RewardModel]]:
        """kind → class, for every reward model class imported so far."""
        return dict(RewardModel._kinds)

    @classmethod
    @abstractmethod
    def tiny(cls, alphabet: str, *args: Any, **kwargs: Any) -> Self:
        """A small model over a character alphabet, built from config (nothing downloaded)."""

    @classmethod
    @abstractmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """The model saved at ``path``."""

    @abstractmethod
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model, its tokenizer and its manifest (with ``kind``) to ``path``."""

    @abstractmethod
    def fit(self, *args: Any, **kwargs: Any) -> Any:
        """Train on the kind's examples; returns the training metrics."""


class CompletionRewardModel(RewardModel):
    """A reward model with one score per (prompt, completion), read by a Hugging Face model.

    ``__init__`` refuses a tokenizer the model does not embed, runs the kind's own
    checks (:meth:`_accept`) and keeps the model, its tokenizer, its context
    (``max_length``, default: the model's position limit) and whether it is trained.

    Args:
        model: a Hugging Face model of the kind's class.
        tokenizer: its tokenizer.
        max_length: tokens the model reads (default: its position limit).
        trained: whether it has been trained.

    Example:
        >>> from rewardkit.models.preference import PreferenceRewardModel
        >>> model = PreferenceRewardModel.tiny("01", n_embd=16)
        >>> isinstance(model, CompletionRewardModel), model.max_length, model.trained
        (True, 64, False)
    """

    def __init__(
        self, model: Any, tokenizer: Any, max_length: int | None = None, trained: bool = False
    ) -> None:
        check_vocabulary(model, tokenizer)
        self._accept(model, tokenizer)
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = context_length(model, max_length)
        self.trained = trained
        self.metrics: dict[str, float] = {}

    @abstractmethod
    def _accept(self, model: Any, tokenizer: Any) -> None:
        """Refuse a model or tokenizer this kind cannot use (and note what it needs of them)."""

    @classmethod
    def _from_manifest(cls, model: Any, tokenizer: Any, manifest: Mapping[str, Any]) -> Self:
        """The model around a loaded ``model`` and ``tokenizer``, as its manifest describes it
        (a folder without one holds a trained model)."""
        loaded = cls(
            model,
            tokenizer,
            manifest.get("max_length"),
            manifest.get("trained", True),
            **cls._options(manifest),
        )
        loaded.metrics = dict(manifest.get("metrics", {}))
        return loaded

    @classmethod
    def _options(cls, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """The kind's own constructor options, read from its manifest (none here)."""
        return {}

    def _manifest(self) -> dict[str, Any]:
        """What :meth:`_from_manifest` reads back: context, whether trained, the metrics."""
        return {"max_length": self.max_length, "trained": self.trained, "metrics": self.metrics}

    @abstractmethod
    def score(
        self, prompts: Sequence[str] | None, completions: Sequence[str], batch_size: int = 64
    ) -> tuple[np.ndarray, np.ndarray]:
        """The score of each completion, and the mask of completions cut to fit the context."""

    def pair_accuracy(self, pairs: Iterable[Mapping[str, Any]]) -> float:
        """Share of ``{"prompt", "chosen", "rejected"}`` pairs whose chosen completion scores
        above the rejected one (NaN for no pairs)."""
        rows = list(pairs)
        if not rows:
            return float("nan")
        prompts = [row.get("prompt", "") for row in rows]
        chosen, _ = self.score(prompts, [row["chosen"] for row in rows])
        rejected, _ = self.score(prompts, [row["rejected"] for row in rows])
        return float(np.mean(chosen > rejected))


def saved_kind(path: str | os.PathLike[str]) -> type[RewardModel]:
    """The class of the reward model saved at ``path``, from its manifest's ``kind``
    (a folder without a manifest is a Hugging Face model: a preference model).

    Raises:
        ModelError: nothing is there, or the kind is not a known reward model.
    """
    from rewardkit.models import (  # noqa: F401
        frozen_head,
        frozen_process,
        generative,
        preference,
        process,
    )
    from rewardkit.models.preference import read_manifest

    kind = read_manifest(Path(path)).get("kind", "preference")
    found = RewardModel.kinds().get(kind)
    if found is None:
        raise ModelError(f"{path} holds a {kind!r} model; known: {sorted(RewardModel.kinds())}")
    return found


def load_saved_model(path: str | os.PathLike[str]) -> RewardModel:
    """The reward model saved at ``path``, of the class :func:`saved_kind` names."""
    return saved_kind(path).load(path)
