"""Likelihood rewards: how likely the policy finds the reference answer after its own reasoning.

"Likelihood-Based Reward Designs for General LLM Reasoning" (Kwiatkowski et
al., arXiv:2602.03979): with prompt p, the completion's chain of thought z
(the completion up to the answer delimiter, VeriFree's truncation) and the
reference answer a*,

    log_prob       R = log π(a* | p, z) = Σ_t log π(a*_t | p, z, a*_<t)   (Eq. 2; the paper's pick)
    avg_log_prob   R = (1/|a*|) log π(a* | p, z)                          (Eq. 3)
    probability    R = π(a* | p, z) = Π_t π(a*_t | ...)                   (Eq. 5; VeriFree)
    avg_probability R = (1/|a*|) Σ_t π(a*_t | ...)                        (Eq. 8; RLPR)

No verifier is needed: the answer is scored, not parsed. The paper pairs
these rewards with a leave-one-out baseline (``GRPOConfig(estimator="rloo")``)
and, since R itself depends on θ, its gradient adds ∇ log π(a* | p, z), a
supervised term on the reference answer after each sampled thought (Eq. 4):
:meth:`LikelihoodReward.answer_loss` is that term as a loss, to pass to the
trainer (``GRPOTrainer(..., auxiliary_loss=reward.answer_loss)``).

Example:
    >>> from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2
    >>> tokenizer = build_char_tokenizer("0123456789+=>,")
    >>> model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2).eval()
    >>> term = LikelihoodReward(model, tokenizer, delimiter=">")
    >>> out = term({"prompt": ["1+2="], "completion": ["3>4"], "answer": ["3"]})
    >>> bool(out.total[0] < 0)  # log π("3" | "1+2=", "3>")
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import RewardOutput, Status
from rewardkit.lm.scoring import continuation_log_likelihood
from rewardkit.lm.tokens import encode
from rewardkit.signals._policy import PolicySignalTerm, split_at

__all__ = ["LIKELIHOOD_KINDS", "LikelihoodReward", "likelihood_value"]

LIKELIHOOD_KINDS = ("log_prob", "avg_log_prob", "probability", "avg_probability")


def likelihood_value(token_log_probs: Any, kind: str) -> float:
    """The reward of one answer from its per-token log-probs.

    Example:
        >>> lp = np.log([0.5, 0.2])
        >>> [round(likelihood_value(lp, k), 4) for k in LIKELIHOOD_KINDS]
        [-2.3026, -1.1513, 0.1, 0.35]
    """
    values = np.asarray(token_log_probs, dtype=np.float64)
    if values.size == 0:
        return float("nan")
    if kind == "log_prob":
        return float(values.sum())
    if kind == "avg_log_prob":
        return float(values.mean())
    if kind == "probability":
        return float(np.exp(values.sum()))
    if kind == "avg_probability":
        return float(np.exp(values).mean())
    raise ConfigurationError(f"kind must be one of {LIKELIHOOD_KINDS}, got {kind!r}")


class LikelihoodReward(PolicySignalTerm):
    """The policy's likelihood of the reference answer after its own chain of thought.

    Args:
        model: the policy (the trainer's object: the reward follows it as it trains).
        tokenizer: its tokenizer.
        kind: ``log_prob`` (default, the paper's recommendation), ``avg_log_prob``,
            ``probability`` (VeriFree) or ``avg_probability`` (RLPR).
        delimiter: where the chain of thought ends (``"<answer>"``, ``">"``); the
            completion is cut there and the reference scored after it. None, or a
            completion without it: the whole completion is the chain of thought.
        answer_prefix: text between the chain of thought and the answer when the
            completion has no delimiter (default: the delimiter itself).
        answer_suffix: text scored after the answer (``"</answer>"``), part of a*.
        append_eos: also score the EOS token after the answer (the answer ends there).
        max_tokens: longer rows are not applicable (default: the model's limit).
        batch_size: rows per forward pass.
        name: the term's name.

    Columns: ``prompt``, ``completion``, ``answer`` (a missing answer is not applicable).
    """

    columns = ("prompt", "completion", "answer")

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        kind: str = "log_prob",
        delimiter: str | None = None,
        answer_prefix: str | None = None,
        answer_suffix: str = "",
        append_eos: bool = False,
        max_tokens: int | None = None,
        batch_size: int = 32,
        name: str = "likelihood",
    ) -> None:
        super().__init__(model, tokenizer, name, max_tokens, batch_size)
        if kind not in LIKELIHOOD_KINDS:
            raise ConfigurationError(f"kind must be one of {LIKELIHOOD_KINDS}, got {kind!r}")
        self.kind, self.delimiter = kind, delimiter
        self.answer_prefix = answer_prefix if answer_prefix is not None else (delimiter or "")
        self.answer_suffix, self.append_eos = answer_suffix, append_eos

    def answer_ids(self, answer: str) -> list[int]:
        ids = encode(self.tokenizer, str(answer) + self.answer_suffix)
        return [*ids, self.tokenizer.eos_token_id] if self.append_eos else ids

    def context_ids(self, prompt: Any, completion: str) -> list[int]:
        thought, _, found = split_at(completion, self.delimiter)
        marker = self.delimiter if found and self.delimiter else self.answer_prefix
        return self.prompt_ids(prompt) + encode(self.tokenizer, thought + marker)

    def _rows(self, batch: Batch) -> tuple[list[int], list[list[int]], list[list[int]]]:
        prompts, answers = get_column(batch, "prompt"), get_column(batch, "answer")
        completions = self.texts(batch)
        rows = [i for i, a in enumerate(answers) if a is not None and str(a) != ""]
        contexts = [self.context_ids(prompts[i], completions[i]) for i in rows]
        targets = [self.answer_ids(str(answers[i])) for i in rows]
        return rows, contexts, targets

    def answer_loss(self, batch: Batch) -> Any:
        """−mean_i log π(a*_i | p_i, z_i) over the rows with an answer that fit, with its
        gradient: the supervised half of the likelihood objective (a torch scalar)."""
        import torch

        _, contexts, targets = self._rows(batch)
        fits = [
            (c, t) for c, t in zip(contexts, targets, strict=True)
            if len(c) + len(t) <= self.max_tokens
        ]  # fmt: skip
        if not fits:
            return torch.zeros((), requires_grad=True)
        total = continuation_log_likelihood(
            self.model, [c for c, _ in fits], [t for _, t in fits], pad=self.pad
        )
        return -total.mean()

    def _compute(self, batch: Batch) -> RewardOutput:
        n = len(get_column(batch, "completion"))
        values, status = np.full(n, np.nan), np.full(n, Status.OK, dtype=np.int8)
        messages: list[str | None] = [None] * n
        rows, contexts, targets = self._rows(batch)
        for i in set(range(n)) - set(rows):
            status[i], messages[i] = Status.NOT_APPLICABLE, "no reference answer"
        for i, scored in zip(rows, self.score(contexts, targets), strict=True):
            if scored is None:
                status[i], messages[i] = Status.NOT_APPLICABLE, self.too_long(i)
            else:
                values[i] = likelihood_value(scored.log_probs, self.kind)
        return RewardOutput(values, status=status, messages=tuple(messages))
