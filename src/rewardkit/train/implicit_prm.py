"""An online implicit PRM for the GRPO trainer's ``step_rewards=``: OPRL-style, learnt by
trajectory DPO on the policy's own rollouts.

OPRL / iStar (Liu et al. 2025, arXiv 2509.19199, §3.1, Algorithm 1). The implicit PRM
π_φ is a language model, initialised from the policy. At each policy step, before the
policy's optimizer step (so the policy is π_θold):

1. the verifier labels each completion: τ⁺ if its outcome > ``threshold``, else τ⁻
   (NaN or a non-ok status: neither); each τ⁺ is paired with each τ⁻ of its group
   (:func:`~rewardkit.credit.implicit_prm.outcome_pairs`);
2. π_φ takes ``updates_per_step`` AdamW steps on the trajectory DPO loss (Eq. 2), with
   sequence log-prob sums over the completion's tokens, the reference being π_θold:

       J_PRM = −E log σ(β [log π_φ/π_θold (τ⁺) − log π_φ/π_θold (τ⁻)])

3. each step k of a completion (its text split at ``separator``) gets, under the
   updated π_φ (Eq. 1),

       r_k = β · Σ_{t in step k} (log π_φ(y_t | x, y_<t) − log π_θold(y_t | x, y_<t)),

   so the step rewards of a completion sum to β · (log π_φ − log π_θold)(completion).

Groups: the batch's ``group`` column when it has one (:class:`~rewardkit.train.GRPOTrainer`
writes it), else runs of consecutive rows sharing a prompt. Log-probs are read at
temperature 1 with :func:`~rewardkit.lm.scoring.score_continuations` (per token, no
gradient) and :func:`~rewardkit.lm.scoring.continuation_log_likelihood` (sums, with the
gradient), the prompt's tokens as context. Tokens after the last text step (the EOS)
belong to the last step; a completion with no text (a lone EOS) is one step. Steps that
end in the same token are merged. π_φ is kept in eval mode (dropout off, as TRL's DPO
does by default).

What is OPRL's here: the PRM's initialisation, Eq. 1 and 2 with β (the paper: 0.05),
pairs per group, the alternation. What is not: one completion is one trajectory
(single-turn; the paper's steps are an agent's turns, here pieces of text), the policy
update is the trainer's (the paper's is a clipped loss with no KL, with RLOO episode
advantages by default), log-probs are read at temperature 1 whatever the sampling
temperature, and the learning rate and update count are this class's settings.
Pair with :class:`~rewardkit.credit.oprl.OPRLEstimator` (``estimator="oprl"``).

Example:
    >>> import torch
    >>> from rewardkit.core import RewardOutput
    >>> from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2
    >>> from rewardkit.lm.tokens import encode
    >>> _ = torch.manual_seed(0)
    >>> tokenizer = build_char_tokenizer("0123456789+=,")
    >>> policy = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2).eval()
    >>> right = lambda batch: RewardOutput.from_values(
    ...     [float(c.endswith("5")) for c in batch["completion"]])
    >>> prm = ImplicitPRMStepRewards(policy, tokenizer, right, ",", learning_rate=1e-2)
    >>> texts = ["2,5", "2,4"]
    >>> rewards, ends = prm({"prompt": ["2+3="] * 2, "completion": texts,
    ...                      "completion_ids": [encode(tokenizer, t) for t in texts]})
    >>> [e.tolist() for e in ends], prm.last_metrics["pairs"]
    ([[2, 3], [2, 3]], 1.0)
    >>> bool(rewards[0][-1] > rewards[1][-1])  # the right last step gains
    True
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.core.output import RewardOutput, Status
from rewardkit.credit.implicit_prm import implicit_step_rewards, outcome_pairs, trajectory_dpo_loss
from rewardkit.lm.modes import evaluating
from rewardkit.lm.scoring import continuation_log_likelihood, score_continuations
from rewardkit.lm.tokens import encode, token_ends

__all__ = ["ImplicitPRMStepRewards"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _positive(value: float, name: str, hint: str) -> float:
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise ConfigurationError(f"{name} must be finite and > 0 ({hint}), got {value}")
    return number


class ImplicitPRMStepRewards:
    """A trainer's ``step_rewards=`` from an implicit PRM learnt online (module docs).

    Args:
        policy: the trained causal LM; π_φ starts as a deep copy of it, and it is read
            (no gradient) as π_θold at each call.
        tokenizer: its tokenizer (the one ``completion_ids`` are in; needs a pad id).
        verifier: a term, batch → :class:`~rewardkit.core.RewardOutput`; its ``total``
            is the outcome (a non-ok status or NaN: no pair).
        separator: the text that ends a step (e.g. ``"\\n"``).
        beta: β of Eq. 1 and 2 (the paper: 0.05).
        learning_rate: π_φ's AdamW learning rate (a full fine-tune's for a billion-parameter
            LM; raise it for tiny models).
        updates_per_step: AdamW steps per call, each on every pair of the batch.
        threshold: an outcome above it is τ⁺ (the paper: 0, or 6 on SOTOPIA).
        seed: seeds any randomness of π_φ's update, apart from the global generator.

    Attributes:
        prm: π_φ.
        last_metrics: the last call's ``pairs``, ``dpo_loss`` and ``dpo_accuracy`` (the
            share of pairs with a positive margin), both from the last update's forward
            pass (NaN when there was no pair, hence no update), and ``step_reward_mean``.
    """

    def __init__(
        self,
        policy: Any,
        tokenizer: Any,
        verifier: Callable[[Mapping[str, Any]], RewardOutput],
        separator: str,
        beta: float = 0.05,
        learning_rate: float = 1e-6,
        updates_per_step: int = 1,
        threshold: float = 0.0,
        seed: int = 0,
    ) -> None:
        import torch

        if not isinstance(separator, str) or not separator:
            raise ConfigurationError("separator must be a non-empty string (the end of a step)")
        if not callable(verifier):
            raise ConfigurationError("verifier must be a term: batch -> RewardOutput")
        if getattr(tokenizer, "pad_token_id", None) is None:
            raise ConfigurationError("the tokenizer needs a pad_token_id")
        if isinstance(updates_per_step, bool) or not isinstance(updates_per_step, int):
            raise ConfigurationError(f"updates_per_step must be an int, got {updates_per_step!r}")
        if updates_per_step < 1:
            raise ConfigurationError(f"updates_per_step must be ≥ 1, got {updates_per_step}")
        if not math.isfinite(threshold):
            raise ConfigurationError(f"threshold must be finite, got {threshold}")
        self.beta = _positive(beta, "beta", "the paper: 0.05")
        self.learning_rate = _positive(learning_rate, "learning_rate", "e.g. 1e-6")
        self.policy, self.tokenizer, self.verifier = policy, tokenizer, verifier
        self.separator, self.updates_per_step = separator, updates_per_step
        self.threshold, self.seed = float(threshold), int(seed)
        self.prm = copy.deepcopy(policy).eval()
        self.prm.requires_grad_(True)
        self.optimizer = torch.optim.AdamW(self.prm.parameters(), lr=self.learning_rate)
        self.calls = 0
        self.last_metrics: dict[str, float] = {}

    def __call__(self, batch: Mapping[str, Any]) -> tuple[list[FloatArray], list[IntArray]]:
        """(per completion, its (K_i,) step rewards; their (K_i,) token ends), after the
        PRM's update on this batch."""
        contexts, texts, sequences = self._rows(batch)
        groups = self._groups(batch, len(texts))
        outcomes = self._outcomes(batch, len(texts))
        with evaluating(self.policy):
            old = self._log_probs(self.policy, contexts, sequences)
            metrics = self._update(contexts, sequences, outcomes, groups)
            rewards, ends = self._step_rewards(contexts, texts, sequences, old)
        flat = np.concatenate([*rewards, np.zeros(0)])
        metrics["step_reward_mean"] = float(flat.mean()) if flat.size else math.nan
        self.last_metrics, self.calls = metrics, self.calls + 1
        return rewards, ends

    def score(self, batch: Mapping[str, Any]) -> tuple[list[FloatArray], list[IntArray]]:
        """What a call returns, under the current π_φ and π_θold, with no update (no
        verifier call): for held-out rows."""
        contexts, texts, sequences = self._rows(batch)
        with evaluating(self.policy):
            old = self._log_probs(self.policy, contexts, sequences)
            return self._step_rewards(contexts, texts, sequences, old)

    def record_metrics(self, trainer: Any, record: dict[str, float]) -> None:
        """A trainer callback: adds ``last_metrics`` to the step's record as ``prm/<name>``."""
        record.update({f"prm/{k}": v for k, v in self.last_metrics.items()})

    # ------------------------------------------------------------ parts
    def _rows(self, batch: Mapping[str, Any]) -> tuple[list[list[int]], list[str], list[list[int]]]:
        """(prompt tokens, completion texts, completion tokens), checked."""
        for key in ("prompt", "completion", "completion_ids"):
            if key not in batch:
                raise ShapeError(f"the batch needs a {key!r} column")
        prompts, texts = list(batch["prompt"]), list(batch["completion"])
        sequences = [[int(t) for t in ids] for ids in batch["completion_ids"]]
        if not prompts or not len(prompts) == len(texts) == len(sequences):
            raise ShapeError(
                f"prompt, completion and completion_ids need one row each, got "
                f"{len(prompts)}, {len(texts)} and {len(sequences)}"
            )
        contexts = [encode(self.tokenizer, p) for p in prompts]
        if any(not c for c in contexts):
            raise ShapeError("every prompt needs at least one token (the PRM reads it first)")
        return contexts, texts, sequences

    def _step_rewards(
        self,
        contexts: list[list[int]],
        texts: list[str],
        sequences: list[list[int]],
        old: list[FloatArray],
    ) -> tuple[list[FloatArray], list[IntArray]]:
        new = self._log_probs(self.prm, contexts, sequences)
        ends = [self._step_ends(t, s) for t, s in zip(texts, sequences, strict=True)]
        return implicit_step_rewards(new, old, ends, self.beta), ends

    def _outcomes(self, batch: Mapping[str, Any], n: int) -> FloatArray:
        out = self.verifier(batch)
        total = np.asarray(out.total, dtype=np.float64)
        status = np.asarray(getattr(out, "status", np.zeros(n)), dtype=np.int64)
        if total.shape != (n,) or status.shape != (n,):
            raise ShapeError(f"the verifier returned {total.shape} outcomes for {n} completions")
        return np.where(status == Status.OK, total, np.nan)

    @staticmethod
    def _groups(batch: Mapping[str, Any], n: int) -> Any:
        """The ``group`` column, else runs of consecutive rows sharing a prompt."""
        if "group" in batch:
            labels = np.asarray(batch["group"])
            if labels.shape != (n,):
                raise ShapeError(f"group {labels.shape} must be ({n},): one id per row")
            return labels
        prompts = list(batch["prompt"])
        return np.cumsum([i > 0 and prompts[i] != prompts[i - 1] for i in range(n)])

    def _log_probs(
        self, model: Any, contexts: list[list[int]], sequences: list[list[int]]
    ) -> list[FloatArray]:
        scores = score_continuations(model, contexts, sequences, pad=self.tokenizer.pad_token_id)
        return [s.log_probs for s in scores]

    def _update(
        self,
        contexts: list[list[int]],
        sequences: list[list[int]],
        outcomes: FloatArray,
        groups: Any,
    ) -> dict[str, float]:
        """``updates_per_step`` AdamW steps of Eq. 2 on the batch's pairs."""
        import torch

        chosen, rejected = outcome_pairs(outcomes, groups, self.threshold)
        metrics = {"pairs": float(chosen.size), "dpo_loss": math.nan, "dpo_accuracy": math.nan}
        if not chosen.size:
            return metrics
        rows = np.unique(np.concatenate([chosen, rejected]))
        index = {int(r): k for k, r in enumerate(rows)}
        c = torch.tensor([index[int(i)] for i in chosen])
        r = torch.tensor([index[int(i)] for i in rejected])
        pad = self.tokenizer.pad_token_id
        pair_contexts, pair_sequences = [contexts[i] for i in rows], [sequences[i] for i in rows]
        with torch.no_grad():  # laid out as π_φ's: at π_φ = π_θold every margin is exactly 0
            reference = continuation_log_likelihood(
                self.policy, pair_contexts, pair_sequences, pad=pad
            )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + self.calls)
            for _ in range(self.updates_per_step):
                logp = continuation_log_likelihood(self.prm, pair_contexts, pair_sequences, pad=pad)
                loss: Any = trajectory_dpo_loss(
                    logp[c], reference[c], logp[r], reference[r], self.beta
                )
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                margin = (logp[c] - reference[c]) - (logp[r] - reference[r])
                metrics["dpo_loss"] = float(loss.detach())
                metrics["dpo_accuracy"] = float((margin.detach() > 0).float().mean())
        return metrics

    def _step_ends(self, text: str, ids: list[int]) -> IntArray:
        """Token ends of the text's steps: repeats merged, the last stretched to the end."""
        from rewardkit.models.process import split_steps

        char_ends = np.cumsum([len(step) for step in split_steps(text, self.separator)])
        ends = [e for e in np.unique(token_ends(self.tokenizer, ids, char_ends.tolist())) if e > 0]
        if ids:
            ends = [*ends[:-1], len(ids)]
        return np.asarray(ends, dtype=np.int64)
