"""The distilled reward model of :mod:`rewardkit.author.labels`: p(yes | caption) by logistic
regression over signed hashed word and bigram counts.

:func:`hashed_features` turns captions into features (the same in every process);
:func:`fit_logistic` fits L2-regularised logistic regression by Newton steps (soft labels
are its targets as they are); :class:`DistilledClassifier` keeps the fit and the captions'
features, and is safe to score from one thread while another fits.

Example:
    >>> x = hashed_features(["you hold the key", "a wall ahead", "you hold the key now"])
    >>> w, b = fit_logistic(x[:2], np.array([1.0, 0.0]))
    >>> bool(logistic_probability(x[2:], w, b)[0] > 0.5)   # shares words with the "yes"
    True
"""

from __future__ import annotations

import itertools
import re
import threading
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import FloatArray

__all__ = [
    "DistilledClassifier",
    "Features",
    "fit_logistic",
    "hashed_features",
    "logistic_probability",
]

Features = Callable[[Sequence[str]], FloatArray]

_WORD = re.compile(r"[a-z0-9]+")


def hashed_features(captions: Sequence[str], dim: int = 512) -> FloatArray:
    """Signed hashed counts of each caption's words and word bigrams, rows of unit norm.

    CRC-32 of the token picks the column and the sign, so the features are the
    same in every process.
    """
    out = np.zeros((len(captions), dim))
    for i, caption in enumerate(captions):
        words = _WORD.findall(caption.lower())
        for token in words + [f"{a} {b}" for a, b in itertools.pairwise(words)]:
            code = zlib.crc32(token.encode())
            out[i, code % dim] += 1.0 if (code >> 31) & 1 else -1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    result: FloatArray = out / np.where(norms > 0, norms, 1.0)
    return result


def logistic_probability(features: Any, weights: Any, bias: float) -> FloatArray:
    """σ(x·w + b), row by row."""
    z = np.asarray(features, dtype=np.float64) @ np.asarray(weights, dtype=np.float64) + bias
    result: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * z))
    return result


def _newton_step(design: FloatArray, curvature: FloatArray, gradient: FloatArray, l2: float) -> Any:
    """H⁻¹g for H = Aᵀ diag(c) A + l2·I: directly when A has more rows than columns,
    else through the rows (Woodbury), so a few labels over many features stay cheap."""
    n, m = design.shape
    if n >= m:
        hessian = (design.T * curvature) @ design + l2 * np.eye(m)
        return np.linalg.solve(hessian, gradient)
    b = design * np.sqrt(curvature)[:, None]
    inner = np.linalg.solve(l2 * np.eye(n) + b @ b.T, b @ gradient)
    return (gradient - b.T @ inner) / l2


def _objective(design: FloatArray, y: FloatArray, theta: FloatArray, l2: float) -> float:
    """Mean log loss + (l2/2)|θ|², computed without overflow."""
    z = design @ theta
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * float(theta @ theta))


def fit_logistic(
    features: Any,
    labels: Any,
    *,
    l2: float = 1e-2,
    iterations: int = 25,
    start: tuple[Any, float] | None = None,
) -> tuple[FloatArray, float]:
    """Weights and bias minimising mean log loss + (l2/2)(|w|² + b²), by Newton steps
    (from ``start``, a previous fit's ``(weights, bias)``, where given).

    The bias is penalised too, so labels of one class give a finite model
    (it predicts that class everywhere) instead of diverging. Each step is halved until
    the objective falls (a damped Newton step): from a warm start whose predictions are
    saturated, a full step would overshoot.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],) or not len(y):
        raise ConfigurationError(f"features {x.shape} and labels {y.shape} do not match")
    design = np.hstack([x, np.ones((len(y), 1))])
    theta = np.zeros(design.shape[1])
    if start is not None and np.shape(start[0]) == (x.shape[1],):
        theta = np.append(np.asarray(start[0], dtype=np.float64), float(start[1]))
    value = _objective(design, y, theta, l2)
    for _ in range(iterations):
        p = logistic_probability(design, theta, 0.0)
        gradient = design.T @ (p - y) / len(y) + l2 * theta
        step = _newton_step(design, p * (1 - p) / len(y), gradient, l2)
        size, slope = 1.0, float(gradient @ step)
        while size > 1e-10:
            trial = _objective(design, y, theta - size * step, l2)
            if trial <= value - 1e-4 * size * slope:
                break
            size *= 0.5
        else:
            break  # no step lowers the objective: at the optimum, to rounding
        theta, value = theta - size * step, trial
        if float(np.max(np.abs(size * step))) < 1e-8:
            break
    return theta[:-1].copy(), float(theta[-1])


class DistilledClassifier:
    """p(yes | caption) from the labels so far (hashed features, logistic regression).

    A caption's features are computed once and kept (up to ``cache_size``
    captions, then the store starts again): an agent sees the same captions
    over and over, and scoring every state must stay cheap.
    """

    def __init__(
        self, features: Features = hashed_features, l2: float = 1e-2, cache_size: int = 65536
    ) -> None:
        self.features, self.l2, self.cache_size = features, float(l2), int(cache_size)
        self.weights: FloatArray | None = None
        self.bias = 0.0
        self.trained_on = 0
        self._rows: dict[str, FloatArray] = {}
        self._lock = threading.RLock()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _lock=threading.RLock())

    def rows(self, captions: Sequence[str]) -> FloatArray:
        """The features of ``captions``, one row each (from the store where it can)."""
        if not captions:
            return self.features([])
        with self._lock:
            missing = [c for c in dict.fromkeys(captions) if c not in self._rows]
            if missing:
                if len(self._rows) + len(missing) > self.cache_size:
                    self._rows.clear()
                self._rows.update(zip(missing, self.features(missing), strict=True))
            return np.stack([self._rows[c] for c in captions])

    @property
    def fitted(self) -> bool:
        """True once it has been fitted on some labels."""
        return self.weights is not None

    def fit(self, captions: Sequence[str], labels: Sequence[float]) -> DistilledClassifier:
        """Fit on ``captions`` and their labels (Newton steps from the last fit, if any)."""
        with self._lock:
            start = None if self.weights is None else (self.weights, self.bias)
            x, y = self.rows(list(captions)), np.asarray(labels, dtype=np.float64)
            self.weights, self.bias = fit_logistic(x, y, l2=self.l2, start=start)
            self.trained_on = len(captions)
        return self

    def probability(self, captions: Sequence[str]) -> FloatArray:
        """p(yes) of each caption; NaN before the first fit."""
        with self._lock:
            weights, bias = self.weights, self.bias
        if weights is None:
            return np.full(len(captions), np.nan)
        return logistic_probability(self.rows(list(captions)), weights, bias)
