"""RLP's information-gain reward: how much a sampled thought helps predict what comes next.

"RLP: Reinforcement as a Pretraining Objective" (Hatamizadeh et al., NVIDIA,
arXiv:2510.01265), Eqs. 3-5: for a context x_<t, a sampled thought c_t and the
document's next token x_t,

    S_pred = log p_θ(x_t | x_<t, c_t)     (the policy, reading its thought)
    S_ema  = log p̄_φ(x_t | x_<t)          (a no-think baseline: an EMA of the policy)
    r(c_t) = S_pred − S_ema

The baseline φ starts as a copy of θ at the first call and follows it,
φ ← τ·φ + (1 − τ)·θ with τ = 0.999, each time :meth:`InformationGain.update`
is called (after each optimizer step). The paper scores one next token
(``window=1``); a longer window sums the gain over the next ``window`` tokens.
Its advantage, G/(G−1)·(r_i − r̄) over the G thoughts of one context, is
exactly RLOO's (``GRPOConfig(estimator="rloo")``).

Example:
    >>> from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2
    >>> tokenizer = build_char_tokenizer("0123456789+=>,")
    >>> model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2).eval()
    >>> gain = InformationGain(model, tokenizer, target_column="answer")
    >>> batch = {"prompt": ["1+2="], "completion": ["3"], "answer": ["3"]}
    >>> out = gain(batch)   # the baseline is the policy itself at the first call
    >>> bool(np.isfinite(out.total[0])), gain.update(batch)["ema_decay"]
    (True, 0.999)
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import RewardOutput, Status
from rewardkit.lm.tokens import encode
from rewardkit.signals._policy import PolicySignalTerm

__all__ = ["InformationGain", "ema_update"]


def ema_update(baseline: Any, model: Any, decay: float) -> None:
    """φ ← decay·φ + (1 − decay)·θ for every parameter of two same-shaped models (buffers,
    such as attention masks, are left as they are)."""
    import torch

    with torch.no_grad():
        for phi, theta in zip(baseline.parameters(), model.parameters(), strict=True):
            phi.mul_(decay).add_(theta.detach(), alpha=1.0 - decay)


class InformationGain(PolicySignalTerm):
    """RLP's reward: log-likelihood gain of the next tokens from reading the thought.

    Args:
        model: the policy (the thought's reader).
        tokenizer: its tokenizer.
        target_column: the column holding the text that follows the context (the
            document's next tokens; ``answer`` for a question).
        window: how many of its tokens are scored (the paper: 1); None scores all.
        decay: τ of the EMA baseline (the paper: 0.999).
        thought_prefix: text before the thought (``"<think>"``).
        thought_suffix: text after it (``"</think>"``).
        max_tokens: longer rows are not applicable (default: the model's limit).
        batch_size: rows per forward pass.
        name: the term's name.

    Columns: ``prompt`` (the context), ``completion`` (the thought) and ``target_column``.
    """

    columns: tuple[str, ...] = ("prompt", "completion")

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        target_column: str = "continuation",
        window: int | None = 1,
        decay: float = 0.999,
        thought_prefix: str = "",
        thought_suffix: str = "",
        max_tokens: int | None = None,
        batch_size: int = 32,
        name: str = "information_gain",
    ) -> None:
        super().__init__(model, tokenizer, name, max_tokens, batch_size)
        if window is not None and window < 1:
            raise ConfigurationError(f"window must be >= 1 or None, got {window}")
        if not 0.0 <= decay < 1.0:
            raise ConfigurationError(f"decay must be in [0, 1), got {decay}")
        self.target_column, self.window, self.decay = target_column, window, decay
        self.thought_prefix, self.thought_suffix = thought_prefix, thought_suffix
        self.columns = ("prompt", "completion", target_column)
        self.baseline: Any = None

    def _ensure_baseline(self) -> Any:
        if self.baseline is None:
            self.baseline = copy.deepcopy(self.model).eval()
            for parameter in self.baseline.parameters():
                parameter.requires_grad_(False)
        return self.baseline

    def _compute(self, batch: Batch) -> RewardOutput:
        baseline = self._ensure_baseline()
        prompts, targets = get_column(batch, "prompt"), get_column(batch, self.target_column)
        thoughts = self.texts(batch)
        n = len(thoughts)
        values, status = np.full(n, np.nan), np.full(n, Status.OK, dtype=np.int8)
        messages: list[str | None] = [None] * n
        rows, contexts, with_thought, future = [], [], [], []
        for i in range(n):
            ids = encode(self.tokenizer, str(targets[i])) if targets[i] is not None else []
            if not ids:
                status[i], messages[i] = Status.NOT_APPLICABLE, f"no {self.target_column}"
                continue
            context = self.prompt_ids(prompts[i])
            thought = encode(
                self.tokenizer, self.thought_prefix + thoughts[i] + self.thought_suffix
            )
            rows.append(i)
            contexts.append(context)
            with_thought.append(context + thought)
            future.append(ids[: self.window] if self.window is not None else ids)
        reading = self.score(with_thought, future)
        # the G thoughts of a group share their context and next tokens: score those once
        keys = [(tuple(c), tuple(f)) for c, f in zip(contexts, future, strict=True)]
        distinct = list(dict.fromkeys(keys))
        once = self.score(
            [list(c) for c, _ in distinct], [list(f) for _, f in distinct], model=baseline
        )
        scored = dict(zip(distinct, once, strict=True))
        plain = [scored[key] for key in keys]
        for i, pred, ema in zip(rows, reading, plain, strict=True):
            if pred is None or ema is None:
                status[i], messages[i] = Status.NOT_APPLICABLE, self.too_long(i)
            else:
                values[i] = pred.total - ema.total
        return RewardOutput(values, status=status, messages=tuple(messages))

    def update(self, batch: Batch) -> Mapping[str, float]:
        """Move the EMA baseline one step toward the policy (call after each optimizer step)."""
        del batch
        ema_update(self._ensure_baseline(), self.model, self.decay)
        return {"ema_decay": self.decay}
