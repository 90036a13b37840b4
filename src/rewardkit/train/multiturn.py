"""Multi-turn episodes for a causal LM: sampling, and the turn rewards GRPO can train on.

An environment is any object with

- ``turns``: model turns per episode (the last one answers, ended by EOS);
- ``turn_end``: the one-token text that ends every other turn;
- ``turn_tokens``: the token budget of a turn;
- ``answer_cue``: the text after which the model answers;
- ``reply(row, turn, text) -> str``: the environment's text after model turn
  ``turn`` (0-based) wrote ``text``.

:func:`sample_episodes` plays a batch of episodes, one ``generate`` call per
turn, and records which tokens the model wrote (only those are trained) and
each turn's span. ``GRPOTrainer(environment=...)`` trains on them; with the
``turn`` estimator it also needs ``turn_rewards``, one of:

- :class:`InformationGainTurns`: IGPO (Wang et al. 2025). Turn t's reward is
  the gain of π(answer | history) over the turn, the answer's probability
  being the geometric mean of its tokens' probabilities after the answer cue,
  as in IGPO; the last turn gets the outcome.
- :class:`ProgressTurns`: per-turn increments of a progress estimator over the
  policy's hidden state at each turn's end, trained online so that an
  episode's increments sum to its outcome (SPA's progress attribution without
  its grounding reward); the last turn gets the outcome.

Example (the benchmarks' guessing game is a full environment of this kind):
    >>> class OneQuestion:  # the model writes a turn, is told "!", then answers
    ...     turns, turn_end, turn_tokens, answer_cue = 2, ";", 3, "!"
    ...     def reply(self, row, turn, text):
    ...         return "!"
    >>> from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
    >>> tokenizer = build_char_tokenizer("0123456789;!?")
    >>> model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=32, n_head=2)
    >>> rows = [{"prompt": "?", "answer": "7"}] * 2
    >>> episodes = sample_episodes(model, tokenizer, OneQuestion(), rows)
    >>> len(episodes.turn_spans[0]), len(episodes.reply_ends[0]), episodes.trainable[0].dtype
    (2, 1, dtype('bool'))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.credit.redistribution import information_gain_rewards
from rewardkit.lm.generation import generate
from rewardkit.lm.padding import left_pad, position_ids, right_pad
from rewardkit.lm.tokens import cut_at_eos, decode, encode, single_token

__all__ = [
    "Episodes",
    "InformationGainTurns",
    "ProgressTurns",
    "TextEnvironment",
    "TurnRewards",
    "answer_probabilities",
    "evaluate_episodes",
    "sample_episodes",
    "transcript",
]


class TextEnvironment(Protocol):
    """What :func:`sample_episodes` needs of a multi-turn text task."""

    @property
    def turns(self) -> int: ...

    @property
    def turn_end(self) -> str: ...

    @property
    def turn_tokens(self) -> int: ...

    @property
    def answer_cue(self) -> str: ...

    def reply(self, row: Mapping[str, Any], turn: int, text: str) -> str: ...


@dataclass
class Episodes:
    """A batch of played episodes.

    ``sequences[i]`` is everything after episode i's prompt (the model's and the
    environment's tokens); ``trainable[i]`` marks the model's; ``turn_spans[i][t]``
    is turn t's ``[start, end)`` in the sequence; ``reply_ends[i][t]`` is where the
    environment's reply to turn t ends (one per turn but the last).
    """

    prompts: list[list[int]]
    sequences: list[list[int]]
    trainable: list[np.ndarray]
    turn_spans: list[list[tuple[int, int]]]
    reply_ends: list[list[int]]
    turn_texts: list[list[str]]

    def padded(self, pad: int) -> tuple[Any, Any, int]:
        """(ids, attention, prompt width): prompts left-padded, sequences right-padded; the
        attention covers each prompt and every column after it."""
        import torch

        prompt_ids, prompt_attention = left_pad(self.prompts, pad)
        sequence_ids, _ = right_pad(self.sequences, pad)
        ids = torch.cat([prompt_ids, sequence_ids], dim=1)
        attention = torch.cat([prompt_attention, torch.ones_like(sequence_ids)], dim=1)
        return ids, attention, prompt_ids.shape[1]


def sample_episodes(
    model: Any,
    tokenizer: Any,
    environment: TextEnvironment,
    rows: Sequence[Mapping[str, Any]],
    temperature: float | None = 1.0,
) -> Episodes:
    """Play one episode per row (``temperature=None``: greedy).

    A turn ends at ``turn_end``, at EOS or at ``turn_tokens`` tokens; the last
    turn (the answer) at EOS or at its budget. A turn that never ends is
    answered all the same (``reply`` judges its text).
    """
    if not rows:
        raise ConfigurationError("sample_episodes needs at least one row")
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    end = single_token(tokenizer, environment.turn_end, "turn_end")
    model.eval()
    prompts = [encode(tokenizer, r["prompt"]) for r in rows]
    sequences: list[list[int]] = [[] for _ in rows]
    trainable: list[list[bool]] = [[] for _ in rows]
    spans: list[list[tuple[int, int]]] = [[] for _ in rows]
    reply_ends: list[list[int]] = [[] for _ in rows]
    texts: list[list[str]] = [[] for _ in rows]
    for turn in range(environment.turns):
        last = turn == environment.turns - 1
        contexts = [p + s for p, s in zip(prompts, sequences, strict=True)]
        stops = [eos] if last else [end, eos]
        # the attention comes from the contexts' lengths: a tokenizer whose pad is its EOS
        # still attends to the EOS that ended an earlier turn, as the trainer's forward does
        out = generate(
            model, contexts, pad=pad, eos=stops, max_new_tokens=environment.turn_tokens,
            temperature=temperature,
        )  # fmt: skip
        for i, row in enumerate(out.completions()):
            tokens = cut_at_eos(row, stops)  # as sampled, through the first stop token
            start = len(sequences[i])
            sequences[i].extend(tokens)
            trainable[i].extend([True] * len(tokens))
            spans[i].append((start, len(sequences[i])))
            text = decode(tokenizer, tokens, skip=(end, eos))
            texts[i].append(text)
            if last:
                continue
            reply = environment.reply(rows[i], turn, text)
            reply_ids = encode(tokenizer, reply)
            sequences[i].extend(reply_ids)
            trainable[i].extend([False] * len(reply_ids))
            reply_ends[i].append(len(sequences[i]))
    return Episodes(
        prompts, sequences, [np.array(t, dtype=bool) for t in trainable], spans, reply_ends, texts
    )


def answer_probabilities(
    model: Any,
    tokenizer: Any,
    contexts: Sequence[Sequence[int]],
    answers: Sequence[Sequence[int]],
    batch_size: int = 256,
) -> np.ndarray:
    """exp(mean_j log π(a_j | context, a_<j)) for each (context, answer) pair: IGPO's
    probability of the answer, the geometric mean of its tokens' probabilities."""
    import torch

    if len(contexts) != len(answers):
        raise ConfigurationError(f"{len(contexts)} contexts for {len(answers)} answers")
    if any(len(a) == 0 for a in answers) or any(len(c) == 0 for c in contexts):
        raise ConfigurationError("every context and every answer needs at least one token")
    pad = tokenizer.pad_token_id
    out = np.empty(len(contexts))
    model.eval()
    for start in range(0, len(contexts), batch_size):
        pairs = list(zip(contexts[start : start + batch_size], answers[start : start + batch_size],
                         strict=True))  # fmt: skip
        ids, attention = right_pad([list(c) + list(a) for c, a in pairs], pad)
        with torch.no_grad():
            log_probs = model(input_ids=ids, attention_mask=attention).logits.log_softmax(-1)
        for j, (context, answer) in enumerate(pairs):
            positions = torch.arange(len(context) - 1, len(context) + len(answer) - 1)
            chosen = log_probs[j, positions, torch.tensor(list(answer))]
            out[start + j] = float(chosen.mean().exp())
    return out


#: the smallest answer probability IGPO uses: a log-space gain stays within ±14
PROBABILITY_FLOOR = 1e-6


class TurnRewards(Protocol):
    """``(model, tokenizer, environment, episodes, rows, outcome) -> (N, T)`` turn rewards."""

    def __call__(
        self,
        model: Any,
        tokenizer: Any,
        environment: TextEnvironment,
        episodes: Episodes,
        rows: Sequence[Mapping[str, Any]],
        outcome: np.ndarray,
    ) -> np.ndarray: ...


@dataclass
class InformationGainTurns:
    """IGPO's turn rewards (see the module docs); ``log_space`` uses log-probabilities.

    p_0 is read after the prompt and the answer cue, p_t after turn t's reply (and
    the cue, unless the reply ends with it); the answer is ``row["answer"]``
    followed by EOS.
    """

    log_space: bool = False

    def __call__(
        self,
        model: Any,
        tokenizer: Any,
        environment: TextEnvironment,
        episodes: Episodes,
        rows: Sequence[Mapping[str, Any]],
        outcome: np.ndarray,
    ) -> np.ndarray:
        if any(row.get("answer") in (None, "") for row in rows):
            raise ConfigurationError("IGPO needs each row's known answer in its 'answer' column")
        cue = encode(tokenizer, environment.answer_cue)
        contexts, answers = [], []
        for prompt, sequence, ends, row in zip(
            episodes.prompts, episodes.sequences, episodes.reply_ends, rows, strict=True
        ):
            answer = encode(tokenizer, str(row["answer"]))
            for end in [0, *ends]:
                context = prompt + sequence[:end]
                if context[-len(cue) :] != cue:
                    context = context + cue
                contexts.append(context)
                answers.append([*answer, tokenizer.eos_token_id])
        turns = environment.turns
        p = answer_probabilities(model, tokenizer, contexts, answers).reshape(len(rows), turns)
        outcome = np.asarray(outcome, dtype=np.float64)
        # an episode whose probabilities or outcome are not finite is not applicable (NaN
        # row: no advantage, out of the group's statistics), never a crash
        broken = ~np.isfinite(p).all(axis=1) | ~np.isfinite(outcome)
        p = np.clip(np.where(broken[:, None], 1.0, p), PROBABILITY_FLOOR, 1.0)
        rewards: np.ndarray = information_gain_rewards(
            p.T, np.where(broken, 0.0, outcome), self.log_space
        ).T
        rewards[broken] = np.nan
        return rewards


class ProgressTurns:
    """Turn rewards from a progress estimator over the policy's hidden state at each turn's
    end (after the environment's reply; the last turn: after the answer).

    Each call scores the batch with the estimator as it is, then fits it on the
    batch (``epochs`` steps) so that each episode's increments sum to its
    outcome. Turns but the last get their increment; the last gets the outcome.
    The first call fits it for ``warmup_epochs`` steps first (SPA, too, trains its
    estimator before RL), so an untrained estimator never pays the turns.
    """

    def __init__(
        self,
        feature_dim: int,
        epochs: int = 20,
        learning_rate: float = 1e-2,
        warmup_epochs: int = 200,
        seed: int = 0,
    ) -> None:
        from rewardkit.models.decomposition import ProgressEstimator

        if epochs < 1 or warmup_epochs < 0:
            raise ConfigurationError("epochs must be at least 1 and warmup_epochs at least 0")
        self.estimator = ProgressEstimator(feature_dim, learning_rate=learning_rate, seed=seed)
        self.epochs, self.warmup_epochs = epochs, warmup_epochs
        self.calls = 0
        self.last_loss = float("nan")

    def features(self, model: Any, tokenizer: Any, episodes: Episodes) -> np.ndarray:
        """The last layer's hidden state at each turn's end, shape (N, T, feature_dim)."""
        import torch

        ids, attention, width = episodes.padded(tokenizer.pad_token_id)
        positions = position_ids(attention)  # as generate counts them
        with torch.no_grad():
            hidden = model(
                input_ids=ids, attention_mask=attention, position_ids=positions,
                output_hidden_states=True,
            ).hidden_states[-1]  # fmt: skip
        rows = []
        for i, (ends, sequence) in enumerate(zip(episodes.reply_ends, episodes.sequences,
                                                 strict=True)):  # fmt: skip
            turn_ends = [width + e - 1 for e in [*ends, len(sequence)]]
            rows.append(hidden[i, turn_ends].numpy())
        return np.stack(rows).astype(np.float32)

    def __call__(
        self,
        model: Any,
        tokenizer: Any,
        environment: TextEnvironment,
        episodes: Episodes,
        rows: Sequence[Mapping[str, Any]],
        outcome: np.ndarray,
    ) -> np.ndarray:
        features = self.features(model, tokenizer, episodes)
        if features.shape[-1] != self.estimator.feature_dim:
            raise ConfigurationError(
                f"the model's hidden size is {features.shape[-1]}, the estimator's "
                f"feature_dim {self.estimator.feature_dim}"
            )
        outcome = np.asarray(outcome, dtype=np.float64)
        usable = np.isfinite(outcome) & np.isfinite(features).all(axis=(1, 2))
        episodes_to_fit = [(features[i], float(outcome[i])) for i in np.flatnonzero(usable)]
        if episodes_to_fit and self.calls == 0 and self.warmup_epochs:
            self.estimator.update(episodes_to_fit, epochs=self.warmup_epochs)
        self.calls += 1
        rewards = np.full((len(features), features.shape[1]), np.nan)
        for i in np.flatnonzero(usable):  # the others are not applicable: NaN rows
            rewards[i] = self.estimator.step_rewards(features[i])
            rewards[i, -1] = outcome[i]
        if episodes_to_fit:
            self.last_loss = self.estimator.update(episodes_to_fit, epochs=self.epochs)
        return rewards


def evaluate_episodes(
    model: Any,
    tokenizer: Any,
    environment: TextEnvironment,
    rows: Sequence[Mapping[str, Any]],
    correct: Any,
    temperature: float | None = None,
    batch_size: int = 256,
) -> float:
    """Mean of ``correct`` (a term over ``completion`` and the rows' columns) over one
    episode per row; greedy unless ``temperature`` is given."""
    scores: list[float] = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        episodes = sample_episodes(model, tokenizer, environment, chunk, temperature)
        batch = {key: [r[key] for r in chunk] for key in chunk[0]} | {
            "completion": [transcript(tokenizer, s) for s in episodes.sequences]
        }
        scores.extend(np.nan_to_num(correct(batch).total, nan=0.0).tolist())
    return float(np.mean(scores))


def transcript(tokenizer: Any, sequence: Sequence[int]) -> str:
    """An episode's text after the prompt, without EOS and padding."""
    return decode(tokenizer, sequence)
