"""A value head on a frozen policy: V(x, y_{≤t}) ≈ E[r | prefix], for value-guided decoding.

The head reads the policy's last hidden state after each prefix and is
trained on the policy's own rollouts by Monte-Carlo regression: every
prefix y_{≤t} of a rollout y with outcome r ∈ [0, 1] is one example,

    L(φ) = Σ_t BCE(σ(f_φ(h_t)), r),

so σ(f_φ(h_t)) estimates the probability that the policy, continuing from
the prefix, succeeds (the prefix scorer of Controlled Decoding's CD-FUDGE,
Mudgal et al. 2024, "Controlled Decoding from Language Models"). The policy's
weights never change; only the small MLP f_φ trains.

:class:`ValueTerm` makes it a term that judges prefixes as well as complete
texts (``scores_partial``), so it is an SMC potential and the scorer of
:func:`rewardkit.steer.value_guided` unchanged.

Example:
    >>> from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
    >>> tokenizer = build_char_tokenizer("01")
    >>> policy = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2).eval()
    >>> value = PolicyValueHead(policy, tokenizer)
    >>> metrics = value.fit(["0"] * 8, ["1", "11", "0", "00"] * 2, [1, 1, 0, 0] * 2,
    ...                     ValueTraining(epochs=30))
    >>> bool(value.values(["0"], ["1"])[0] > value.values(["0"], ["0"])[0])
    True
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.term import RewardTerm
from rewardkit.lm.modes import evaluating
from rewardkit.lm.padding import right_pad
from rewardkit.lm.tokens import encode
from rewardkit.models._common import LoopTraining, context_length, train_minibatches

__all__ = ["PolicyValueHead", "PrefixStates", "ValueTerm", "ValueTraining"]


@dataclass(frozen=True)
class ValueTraining(LoopTraining):
    """Settings of the value head's loop (binary cross-entropy on rollout outcomes); only a
    small MLP trains, so the defaults take more and larger steps than a whole model's."""

    epochs: int = 20
    learning_rate: float = 1e-2


class PolicyValueHead:
    """σ(MLP(h)) on the frozen ``policy``'s last hidden state after a prefix.

    Args:
        policy: a Hugging Face causal LM (its weights are not trained).
        tokenizer: the policy's tokenizer (prompt and completion are tokenized
            apart and joined, as the policy generated them).
        hidden: width of the MLP's hidden layer.
        seed: initialisation seed of the head.
    """

    def __init__(self, policy: Any, tokenizer: Any, hidden: int = 64, seed: int = 0) -> None:
        import torch

        if policy is None or tokenizer is None:
            raise ConfigurationError("a value head needs a policy and its tokenizer")
        if hidden < 1:
            raise ConfigurationError(f"hidden must be at least 1, got {hidden}")
        self.policy, self.tokenizer = policy, tokenizer
        width = int(policy.config.hidden_size)
        torch.manual_seed(seed)
        self.head = torch.nn.Sequential(
            torch.nn.Linear(width, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1)
        )
        self.max_length = context_length(policy, None)
        self.trained = False
        self.metrics: dict[str, float] = {}

    def _ids(self, prompt: str, completion: str, finished: bool) -> tuple[list[int], int]:
        """Token ids of prompt + completion (+ EOS if it ``finished``), cut to the context,
        and the prompt's length."""
        prompt_ids = encode(self.tokenizer, prompt)
        if not prompt_ids:
            raise ConfigurationError("a value head needs a non-empty prompt")
        if len(prompt_ids) >= self.max_length:
            raise ConfigurationError(
                f"a prompt of {len(prompt_ids)} tokens leaves no room in the policy's context "
                f"of {self.max_length}"
            )
        ids = prompt_ids + encode(self.tokenizer, completion)
        if finished:  # a text that ended is not the same state as the prefix of a longer one
            ids.append(self.tokenizer.eos_token_id)
        return ids[: self.max_length], len(prompt_ids)

    def _encode_all(
        self, prompts: Sequence[str], completions: Sequence[str], finished: Sequence[bool] | None
    ) -> list[tuple[list[int], int]]:
        if (
            not len(prompts)
            == len(completions)
            == (len(completions) if finished is None else len(finished))
        ):
            raise ConfigurationError("as many prompts, completions (and finished flags) are needed")
        ends = [False] * len(completions) if finished is None else [bool(f) for f in finished]
        return [self._ids(p, c, e) for p, c, e in zip(prompts, completions, ends, strict=True)]

    def _hidden(self, rows: Sequence[Sequence[int]]) -> Any:
        import torch

        input_ids, attention = right_pad(rows, self.tokenizer.pad_token_id)
        body = getattr(self.policy, "base_model", self.policy)  # no vocabulary-wide logits
        with torch.no_grad():
            out = body(input_ids=input_ids, attention_mask=attention, output_hidden_states=True)
        return out.hidden_states[-1].float()

    def prefix_states(
        self,
        prompts: Sequence[str],
        completions: Sequence[str],
        batch_size: int = 64,
        finished: Sequence[bool] | None = None,
    ) -> PrefixStates:
        """The policy's last hidden state after every prefix of each text (the prompt alone,
        then each completion token, then EOS where ``finished``): what :meth:`fit_states`
        trains on and :meth:`values_of` reads, so that one pass of the policy serves many
        fits (cross-validation, splits)."""
        import torch

        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
        chunks, counts = [], []
        encoded = self._encode_all(prompts, completions, finished)
        with evaluating(self.policy):
            for start in range(0, len(encoded), batch_size):
                part = encoded[start : start + batch_size]
                hidden = self._hidden([ids for ids, _ in part])
                for row, (ids, prompt_length) in enumerate(part):
                    chunks.append(hidden[row, prompt_length - 1 : len(ids)])
                    counts.append(len(ids) - prompt_length + 1)
        width = int(self.policy.config.hidden_size)
        states = torch.cat(chunks) if chunks else torch.zeros((0, width))
        return PrefixStates(states, np.asarray(counts, dtype=np.int64))

    def fit(
        self,
        prompts: Sequence[str],
        completions: Sequence[str],
        outcomes: Sequence[float],
        training: ValueTraining | None = None,
        finished: Sequence[bool] | None = None,
    ) -> dict[str, float]:
        """Train the head on the policy's rollouts and their outcomes in [0, 1]; ``finished``
        marks the rollouts that ended with EOS (rather than at the budget)."""
        if not len(prompts) == len(completions) == len(outcomes) > 0:
            raise ConfigurationError("fit needs as many prompts, completions and outcomes (> 0)")
        _check_outcomes(outcomes)
        return self.fit_states(self.prefix_states(prompts, completions, 64, finished), outcomes,
                               training)  # fmt: skip

    def fit_states(
        self, states: PrefixStates, outcomes: Sequence[float], training: ValueTraining | None = None
    ) -> dict[str, float]:
        """Train the head on precomputed :meth:`prefix_states` and each text's outcome."""
        import torch

        training = training or ValueTraining()
        targets_per_text = _check_outcomes(outcomes)
        if len(targets_per_text) != len(states.counts) or not len(targets_per_text):
            raise ConfigurationError(
                f"{len(targets_per_text)} outcomes for {len(states.counts)} texts' states (> 0)"
            )
        features = states.states
        targets = torch.tensor(np.repeat(targets_per_text, states.counts), dtype=torch.float32)

        def batch_loss(chunk: list[int]) -> Any:
            rows = torch.tensor(chunk)
            logits = self.head(features[rows]).squeeze(-1)
            return torch.nn.functional.binary_cross_entropy_with_logits(logits, targets[rows])

        start = time.monotonic()
        losses = train_minibatches(list(self.head.parameters()), len(targets), training, batch_loss)
        self.trained = True
        self.metrics = {
            "prefixes": float(len(targets)),
            "seconds": time.monotonic() - start,
            "final_loss": float(np.mean(losses[-20:])) if losses else float("nan"),
        }
        return dict(self.metrics)

    def values(
        self,
        prompts: Sequence[str],
        completions: Sequence[str],
        batch_size: int = 64,
        finished: Sequence[bool] | None = None,
    ) -> np.ndarray:
        """V of each (prompt, completion so far): the head's estimate after its last token
        (after EOS for the texts marked ``finished``)."""
        if len(prompts) != len(completions):
            raise ConfigurationError(f"{len(prompts)} prompts for {len(completions)} completions")
        if not completions:
            return np.empty(0)
        out = []
        for start in range(0, len(completions), batch_size):
            end = start + batch_size
            part = None if finished is None else finished[start:end]
            states = self.prefix_states(prompts[start:end], completions[start:end], batch_size,
                                        part)  # fmt: skip
            out.append(self.values_of(states))
        return np.concatenate(out)

    def values_of(self, states: PrefixStates) -> np.ndarray:
        """V after each text's last prefix, from precomputed :meth:`prefix_states`."""
        import torch

        if not len(states.counts):
            return np.empty(0)
        last = torch.as_tensor(np.cumsum(states.counts) - 1)
        with torch.no_grad():
            found = torch.sigmoid(self.head(states.states[last]).squeeze(-1))
        result: np.ndarray = found.double().numpy()
        return result


@dataclass(frozen=True)
class PrefixStates:
    """The policy's hidden state after every prefix of some texts, text after text.

    Attributes:
        states: (Σ counts, d) float32 tensor.
        counts: (texts,) prefixes of each text.
    """

    states: Any
    counts: np.ndarray

    def select(self, texts: Sequence[int]) -> PrefixStates:
        """The states of the texts at ``texts``, in that order."""
        import torch

        starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        rows = [np.arange(starts[i], starts[i] + self.counts[i]) for i in texts]
        index = torch.as_tensor(np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64))
        return PrefixStates(self.states[index], self.counts[list(texts)])


def _check_outcomes(outcomes: Sequence[float]) -> np.ndarray:
    found = np.asarray(outcomes, dtype=np.float64)
    if not np.all((found >= 0) & (found <= 1)):
        raise ConfigurationError("outcomes must be in [0, 1] (NaN is not an outcome)")
    return found


class ValueTerm(RewardTerm):
    """A :class:`PolicyValueHead`'s estimate as a reward, for prefixes and complete texts:
    a row is read as finished (EOS after it) unless the batch's ``partial`` column marks it
    a prefix.

    Args:
        value: a trained value head (an untrained one is refused).
    """

    scores_partial = True
    columns = ("prompt", "completion")

    def __init__(self, value: PolicyValueHead, name: str = "value") -> None:
        if not value.trained:
            raise ConfigurationError("ValueTerm needs a trained value head (call fit first)")
        super().__init__(name)
        self.value = value

    def _compute(self, batch: Batch) -> list[float | None]:
        prompts = [str(p) for p in get_column(batch, "prompt")]
        completions = [str(c) for c in get_column(batch, "completion")]
        partial = np.asarray(batch.get("partial", np.zeros(len(completions))), dtype=bool)
        values = self.value.values(prompts, completions, finished=(~partial).tolist())
        return [float(v) for v in values]
