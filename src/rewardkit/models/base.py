"""The shape every learned reward model shares: build, train, save, load.

:class:`RewardModel` is the base of the preference (Bradley–Terry), generative
(P(yes)) and process (per-step) reward models. Each subclass names its
``kind``, which its saved manifest (``rewardkit.json``) records, so
:func:`load_saved_model` gives back a model of the right class from a folder,
without an if-chain per kind. Scoring differs by kind (a scalar per completion,
or a score per step) and stays with each class.

Example:
    >>> sorted(RewardModel.kinds())
    ['generative', 'preference', 'process']
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Self

from rewardkit.models._common import ModelError

__all__ = ["RewardModel", "load_saved_model", "saved_kind"]


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


def saved_kind(path: str | os.PathLike[str]) -> type[RewardModel]:
    """The class of the reward model saved at ``path``, from its manifest's ``kind``
    (a folder without a manifest is a Hugging Face model: a preference model).

    Raises:
        ModelError: nothing is there, or the kind is not a known reward model.
    """
    from rewardkit.models import generative, preference, process  # noqa: F401  (register)
    from rewardkit.models.preference import read_manifest

    kind = read_manifest(Path(path)).get("kind", "preference")
    found = RewardModel.kinds().get(kind)
    if found is None:
        raise ModelError(f"{path} holds a {kind!r} model; known: {sorted(RewardModel.kinds())}")
    return found


def load_saved_model(path: str | os.PathLike[str]) -> RewardModel:
    """The reward model saved at ``path``, of the class :func:`saved_kind` names."""
    return saved_kind(path).load(path)
