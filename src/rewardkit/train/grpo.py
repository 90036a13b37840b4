"""A small, readable GRPO trainer for causal LMs on CPU, with pluggable rewards and credit.

Each step samples ``group_size`` completions for each of ``prompts_per_step``
prompts, scores them with any rewardkit term, turns rewards into per-token
advantages with any estimator (sequence-level ones from
:mod:`rewardkit.credit.group` are broadcast over tokens; TEMPO and sibling
advantages are token-level), and takes a PPO-style clipped policy-gradient
step, optionally with a KL penalty to the reference (initial) policy.

Loss aggregations (``loss_aggregation``):

- ``token_mean``: sum over all tokens / number of tokens (DAPO);
- ``sequence_mean``: mean over sequences of each sequence's token mean
  (the original GRPO);
- ``dr_grpo``: sum over all tokens / (number of sequences · max new tokens)
  (Dr. GRPO's length-unbiased constant).

Multi-turn episodes: with ``environment`` (see :mod:`rewardkit.train.multiturn`)
each sample is an episode of several model turns with the environment's
replies between them; only the model's tokens are trained. The ``turn``
estimator credits each turn with IGPO's turn advantages over the rewards a
``turn_rewards`` callable gives (information gain, progress increments).
In multi-turn runs ``completion`` and ``completion_length`` cover the whole
episode, the environment's replies included, and ``dr_grpo``'s constant is
still ``max_new_tokens``: set it to the episode's token budget.

Works with any Hugging Face causal LM and tokenizer; the lab uses the tiny
character-level GPT-2 of :mod:`rewardkit.models.tiny`.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.progress import progress as show_progress
from rewardkit.core.rollout import update_metrics
from rewardkit.core.term import Term
from rewardkit.credit.group import group_statistics
from rewardkit.credit.process import StepRewards
from rewardkit.credit.token import (
    ESTIMATORS,
    Estimator,
    EstimatorExtras,
    PrefixEstimator,
    TokenAdvantages,
    make_estimator,
)
from rewardkit.credit.token_signals import effective_rank
from rewardkit.lm.generation import Generation, generate
from rewardkit.lm.logprobs import completion_log_probs
from rewardkit.lm.tokens import cut_at_eos, decode, encode
from rewardkit.train.grpo_config import GRPOConfig
from rewardkit.train.multiturn import Episodes, TextEnvironment, TurnRewards, sample_episodes
from rewardkit.train.policy_signals import PolicySignals

__all__ = ["ESTIMATORS", "GRPOConfig", "GRPOTrainer", "TokenAdvantages"]


#: called after each step with the trainer and the step's record
StepCallback = Callable[["GRPOTrainer", dict[str, float]], None]


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class GRPOTrainer:
    """GRPO on a causal LM.

    Args:
        model: a ``transformers`` causal LM (trained in place).
        tokenizer: its tokenizer (needs ``pad_token_id`` and ``eos_token_id``).
        reward: a rewardkit term over ``prompt, completion, answer, group,
            completion_ids`` and any extra dataset column.
        prompts: dataset rows, each with ``prompt`` and ``answer`` (and
            optional extra columns).
        config: :class:`GRPOConfig`.
        accuracy: optional term whose mean is logged as ``accuracy``.
        estimator: a custom advantage estimator
            ``(rewards, group, sequences, step, total_steps) -> TokenAdvantages``
            (see :mod:`rewardkit.credit.token`); overrides ``config.estimator``.
        environment: a multi-turn text environment; each sample is then an episode
            (see :mod:`rewardkit.train.multiturn`).
        turn_rewards: the per-turn rewards of the ``turn`` estimator, e.g.
            :class:`~rewardkit.train.multiturn.InformationGainTurns`.
        callbacks: called as ``callback(trainer, record)`` after each step; they may add
            keys to the step's record and change ``trainer.config`` (B-STaR's
            :class:`~rewardkit.audit.bstar.BStarCallback` sets the temperature).
        auxiliary_loss: a loss over the step's reward batch added to the policy loss in
            every epoch (a torch scalar with its gradient), e.g. the likelihood reward's
            supervised term :meth:`~rewardkit.signals.LikelihoodReward.answer_loss`.
        step_rewards: per-step rewards of the ``process`` estimator, e.g.
            :class:`~rewardkit.credit.process.ProcessStepRewards` over a PRM.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        reward: Term,
        prompts: Sequence[Mapping[str, Any]],
        config: GRPOConfig,
        accuracy: Term | None = None,
        estimator: Estimator | None = None,
        environment: TextEnvironment | None = None,
        turn_rewards: TurnRewards | None = None,
        callbacks: Sequence[StepCallback] = (),
        auxiliary_loss: Callable[[dict[str, Any]], Any] | None = None,
        step_rewards: StepRewards | None = None,
    ) -> None:
        import copy

        import torch

        if not prompts:
            raise ConfigurationError("GRPOTrainer needs at least one prompt")
        self.model, self.tokenizer, self.reward = model, tokenizer, reward
        self.prompts = list(prompts)
        self.config = config
        self.accuracy = accuracy
        self.estimator: Estimator = estimator or make_estimator(
            config.estimator, **config.estimator_params
        )
        requires: frozenset[str] = getattr(self.estimator, "requires", frozenset())
        if "turn_rewards" in requires and (environment is None or turn_rewards is None):
            raise ConfigurationError(
                "a turn estimator needs multi-turn episodes: pass environment= and turn_rewards="
            )
        if environment is not None and requires & {"continuation_rewards", "reference_logprobs"}:
            raise ConfigurationError(  # BRAIn's weights would sum the environment's tokens too
                "PPPO and BRAIn-style estimators take single-turn completions, not an environment"
            )
        if "step_rewards" in requires and step_rewards is None:
            raise ConfigurationError("a process estimator needs step_rewards= (e.g. a PRM's)")
        self.environment, self.turn_rewards = environment, turn_rewards
        self.step_rewards = step_rewards
        self._episodes: Episodes | None = None
        seed_everything(config.seed)
        wants_reference = config.kl_coef > 0 or "reference_logprobs" in requires
        self.reference = copy.deepcopy(model).eval() if wants_reference else None
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
        self.rng = random.Random(config.seed)
        self.history: list[dict[str, float]] = []
        self.callbacks = list(callbacks)
        self.auxiliary_loss = auxiliary_loss

    # ------------------------------------------------------------ sampling
    def _generate(
        self, prompt_ids: list[list[int]], repeat: int, max_new_tokens: int
    ) -> tuple[Generation, list[list[int]]]:
        """Sample ``repeat`` completions of each token-id prompt (left-padded).

        Returns the generation and each completion's tokens (through its EOS,
        without padding; a completion of padding alone becomes a lone EOS).
        """
        pad, eos = self.tokenizer.pad_token_id, self.tokenizer.eos_token_id
        self.model.eval()
        out = generate(
            self.model, prompt_ids, pad=pad, eos=eos, max_new_tokens=max_new_tokens,
            temperature=self.config.temperature, repeat=repeat,
        )  # fmt: skip
        sequences = [
            [t for t in cut_at_eos(row, eos) if t != pad] or [eos] for row in out.completions()
        ]
        return out, sequences

    def _batch(
        self, rows: list[Mapping[str, Any]], sequences: list[list[int]], group: np.ndarray
    ) -> dict[str, Any]:
        """The reward's batch: one row of ``rows`` per completion, plus dataset columns."""
        batch: dict[str, Any] = {
            "prompt": [r["prompt"] for r in rows],
            "completion": [decode(self.tokenizer, s) for s in sequences],
            "completion_ids": sequences,
            "answer": [r.get("answer") for r in rows],
            "group": group,
        }
        for key in rows[0]:
            if key not in batch:
                batch[key] = [r.get(key) for r in rows]
        return batch

    def _continuation_rewards(
        self,
        rows: list[Mapping[str, Any]],
        sequences: list[list[int]],
        group: np.ndarray,
        prefix_lengths: np.ndarray,
        count: int,
    ) -> tuple[np.ndarray, int]:
        """(rewards (N, count) of completions continued from each prefix, tokens sampled)."""
        eos = self.tokenizer.eos_token_id
        prefixes = [s[: int(k)] for s, k in zip(sequences, prefix_lengths, strict=True)]
        prompts = [
            encode(self.tokenizer, r["prompt"]) + p for r, p in zip(rows, prefixes, strict=True)
        ]
        budget = self.config.max_new_tokens
        _, continued = self._generate(prompts, count, budget - int(min(prefix_lengths)))
        completions: list[list[int]] = []
        for index, continuation in enumerate(continued):
            prefix = prefixes[index // count]
            if eos in prefix:  # the completion already ended inside its prefix
                completions.append(prefix)
            else:
                completions.append(prefix + continuation[: budget - len(prefix)])
        expanded = [row for row in rows for _ in range(count)]
        batch = self._batch(expanded, completions, np.repeat(group, count))
        rewards = self.reward(batch).total.reshape(len(sequences), count)
        sampled = sum(len(c) - len(prefixes[i // count]) for i, c in enumerate(completions))
        return rewards, int(sampled)

    def _token_logprobs(self, model: Any, full: Any, attention: Any, width: int) -> tuple[Any, Any]:
        """Per-token log-probs of the sampled tokens and the policy's entropy, at the
        sampling temperature."""
        chosen, log_probs = completion_log_probs(
            model, full, attention, width, self.config.temperature
        )
        entropy = -(log_probs.exp() * log_probs).sum(-1)
        return chosen, entropy

    # ------------------------------------------------------------ a step
    def _advantages(
        self,
        reward_out: Any,
        batch: dict[str, Any],
        rows: list[Mapping[str, Any]],
        sequences: list[list[int]],
        group: np.ndarray,
        step_index: int,
        signals: PolicySignals,
    ) -> tuple[TokenAdvantages, int]:
        """The estimator's advantages, given what it ``requires``; and extra tokens sampled."""
        requires: frozenset[str] = getattr(self.estimator, "requires", frozenset())
        extras: EstimatorExtras = {}
        sampled = 0
        lengths = [len(s) for s in sequences]
        if "token_logprobs" in requires:
            extras["token_logprobs"] = signals.per_sequence(signals.logprobs, lengths)
        if "reference_logprobs" in requires:  # the initial policy's, e.g. BRAIn's prior
            extras["reference_logprobs"] = signals.per_sequence(signals.reference, lengths)
        if "token_entropies" in requires:
            extras["token_entropies"] = signals.per_sequence(signals.entropies, lengths)
        if "hidden_states" in requires:
            extras["hidden_states"] = signals.hidden_states(self.model, lengths)
            ranks = [effective_rank(h) for h in extras["hidden_states"] if len(h) > 1]
            signals.logged["effective_rank"] = float(np.mean(ranks)) if ranks else math.nan
        if "channels" in requires:
            extras["channels"] = reward_out.terms
        if "step_rewards" in requires and self.step_rewards is not None:
            extras["step_rewards"], extras["step_ends"] = self.step_rewards(batch)
        if "turn_rewards" in requires and self._episodes is not None:
            assert self.turn_rewards is not None and self.environment is not None
            extras["turn_rewards"] = self.turn_rewards(
                self.model, self.tokenizer, self.environment, self._episodes, rows,
                reward_out.total,
            )  # fmt: skip
            extras["turn_spans"] = self._episodes.turn_spans
        if "continuation_rewards" in requires:
            if not isinstance(self.estimator, PrefixEstimator):
                raise ConfigurationError(
                    "an estimator that requires continuation_rewards needs prefix_lengths() "
                    "and continuations (see rewardkit.credit.token.PrefixEstimator)"
                )
            lengths = self.estimator.prefix_lengths(sequences)
            extras["continuation_rewards"], sampled = self._continuation_rewards(
                rows, sequences, group, lengths, self.estimator.continuations
            )
        advantages = self.estimator(
            reward_out.total, group, sequences, step_index, self.config.steps, **extras
        )
        return advantages, sampled

    def _policy_loss(
        self, logprobs: Any, old_logprobs: Any, values: list[np.ndarray], mask: Any
    ) -> Any:
        import torch

        cfg = self.config
        adv = torch.zeros_like(mask)
        for i, row in enumerate(values):
            adv[i, : len(row)] = torch.as_tensor(row, dtype=torch.float32)
        ratio = (logprobs - old_logprobs).exp()
        surrogate = torch.minimum(
            ratio * adv, ratio.clamp(1 - cfg.clip_epsilon, 1 + cfg.clip_epsilon) * adv
        )
        return -surrogate

    def _masks(self, advantages: TokenAdvantages, sequences: list[list[int]], length: int) -> Any:
        import torch

        mask = torch.zeros(len(sequences), length)
        for i, sequence in enumerate(sequences):
            keep = len(sequence)
            if advantages.train_lengths is not None:
                keep = int(advantages.train_lengths[i])
            mask[i, :keep] = 1.0
            if self._episodes is not None:  # the environment's tokens are not trained
                written = torch.as_tensor(self._episodes.trainable[i], dtype=torch.float32)
                mask[i, : len(written)] *= written
        return mask

    def _rollout(self, rows: list[Mapping[str, Any]]) -> tuple[Any, Any, list[list[int]], int]:
        """Sample ``group_size`` completions (or episodes) per row: (ids, attention,
        completions, prompt width); ids are prompt (left-padded) then completion."""
        cfg = self.config
        expanded = [row for row in rows for _ in range(cfg.group_size)]
        if self.environment is not None:
            self._episodes = sample_episodes(
                self.model, self.tokenizer, self.environment, expanded, cfg.temperature
            )
            ids, attention, width = self._episodes.padded(self.tokenizer.pad_token_id)
            return ids, attention, self._episodes.sequences, width
        prompt_ids = [encode(self.tokenizer, r["prompt"]) for r in rows]
        out, sequences = self._generate(prompt_ids, cfg.group_size, cfg.max_new_tokens)
        return out.ids, out.attention(), sequences, out.width

    def step(self, step_index: int) -> dict[str, float]:
        import torch

        cfg = self.config
        rows = [self.rng.choice(self.prompts) for _ in range(cfg.prompts_per_step)]
        full, attention, sequences, width = self._rollout(rows)
        expanded = [row for row in rows for _ in range(cfg.group_size)]
        group = np.repeat(np.arange(cfg.prompts_per_step), cfg.group_size)
        batch = self._batch(expanded, sequences, group)
        reward_out = self.reward(batch)
        rewards = reward_out.total
        # Dropout stays off: the ratio must compare the policy that sampled with itself.
        self.model.eval()
        with torch.no_grad():
            old_logprobs, old_entropy = self._token_logprobs(self.model, full, attention, width)
            ref_logprobs = None
            if self.reference is not None:
                ref_logprobs, _ = self._token_logprobs(self.reference, full, attention, width)
        signals = PolicySignals(full, attention, width, old_logprobs, old_entropy, ref_logprobs)
        advantages, extra_tokens = self._advantages(
            reward_out, batch, expanded, sequences, group, step_index, signals
        )

        mask = self._masks(advantages, sequences, full.shape[1] - width)
        auxiliary = None
        for _ in range(cfg.ppo_epochs):
            logprobs, entropy = self._token_logprobs(self.model, full, attention, width)
            per_token = self._policy_loss(logprobs, old_logprobs, advantages.values, mask)
            kl = torch.zeros_like(per_token)
            if ref_logprobs is not None:
                kl = kl_k3(logprobs, ref_logprobs)
                per_token = per_token + cfg.kl_coef * kl
            loss = aggregate(per_token, mask, cfg.loss_aggregation, cfg.max_new_tokens)
            for channel in advantages.channel_losses:  # HDPO: a separately clipped loss each
                channel_rows = torch.as_tensor(channel.rows, dtype=torch.bool)
                if not channel_rows.any():
                    continue
                channel_loss = self._policy_loss(logprobs, old_logprobs, channel.values, mask)
                # over the channel's own rows, whatever the aggregation
                loss = loss + channel.weight * aggregate(
                    channel_loss[channel_rows],
                    mask[channel_rows],
                    cfg.loss_aggregation,
                    cfg.max_new_tokens,
                )
            if self.auxiliary_loss is not None:
                auxiliary = self.auxiliary_loss(batch)
                loss = loss + auxiliary
            self.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
            self.optimizer.step()
        record = self._record(step_index, rewards, group, sequences, entropy, kl, mask, loss)
        record.update(signals.logged)  # e.g. the completions' effective rank, where computed
        if auxiliary is not None:
            record["auxiliary_loss"] = float(auxiliary.detach())
        # stateful rewards (an EMA baseline, a refitted flow) follow the optimizer step
        record.update(update_metrics(self.reward, batch, "reward"))
        record["sampled_tokens"] = float(sum(len(s) for s in sequences) + extra_tokens)
        for name, values in reward_out.terms.items():
            if name != self.reward.name and np.any(~np.isnan(values)):
                record[f"reward/{name}"] = float(np.nanmean(values))
        if self.accuracy is not None:
            record["accuracy"] = float(np.nanmean(self.accuracy(batch).total))
        return record

    def _record(
        self,
        step_index: int,
        rewards: np.ndarray,
        group: np.ndarray,
        sequences: list[list[int]],
        entropy: Any,
        kl: Any,
        mask: Any,
        loss: Any,
    ) -> dict[str, float]:
        stats = group_statistics(rewards, group)  # NaN is missing, not zero reward
        applicable = rewards[~np.isnan(rewards)]
        return {
            "step": float(step_index + 1),
            "reward": float(applicable.mean()) if applicable.size else math.nan,
            "reward_std": float(applicable.std()) if applicable.size else math.nan,
            "completion_length": float(np.mean([len(s) for s in sequences])),
            "entropy": float((entropy.detach() * mask).sum() / mask.sum().clamp(min=1)),
            "frac_reward_zero_std": stats.frac_zero_variance,
            "frac_reward_not_applicable": stats.frac_not_applicable,
            "kl": float((kl.detach() * mask).sum() / mask.sum().clamp(min=1)),
            "loss": float(loss.detach()),
        }

    def train(
        self, progress: Callable[[dict[str, float]], None] | None = None
    ) -> list[dict[str, float]]:
        """Run ``config.steps`` steps; returns the per-step log."""
        start = time.monotonic()
        for index in show_progress(range(self.config.steps), "grpo"):
            record = self.step(index)
            for callback in self.callbacks:
                callback(self, record)
            record["seconds"] = time.monotonic() - start
            self.history.append(record)
            if progress is not None and (index + 1) % self.config.log_every == 0:
                progress(record)
        return self.history


def kl_k3(logprobs: Any, ref_logprobs: Any) -> Any:
    """Per-token KL(π‖π_ref) estimator k3 = exp(r) − r − 1 with r = log π_ref − log π (Schulman).

    Zero when the policy equals the reference, and non-negative.
    """
    log_ratio = ref_logprobs - logprobs
    return log_ratio.exp() - log_ratio - 1


def aggregate(per_token: Any, mask: Any, mode: str, max_new_tokens: int) -> Any:
    """Reduce a (N, T) per-token loss with a (N, T) 0/1 mask."""
    if mode == "token_mean":
        return (per_token * mask).sum() / mask.sum().clamp(min=1)
    if mode == "sequence_mean":
        per_sequence = (per_token * mask).sum(1) / mask.sum(1).clamp(min=1)
        return per_sequence.mean()
    if mode == "dr_grpo":
        return (per_token * mask).sum() / (per_token.shape[0] * max_new_tokens)
    raise ConfigurationError(f"unknown loss aggregation {mode!r}")


@dataclass
class Evaluation:
    """Greedy accuracy and mean length on held-out prompts, and the greedy completions."""

    accuracy: float
    mean_length: float
    completions: tuple[str, ...] = ()


def evaluate_greedy(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Mapping[str, Any]],
    correct: Term,
    max_new_tokens: int,
    batch_size: int = 64,
) -> Evaluation:
    """Greedy decoding accuracy of ``model`` on ``rows`` (prompt, answer, any other columns the
    verifier reads) under ``correct``; a completion ends at its EOS or at a pad token, and its
    length counts the end."""
    scores: list[float] = []
    lengths: list[int] = []
    completions: list[str] = []
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    model.eval()
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        encoded = [encode(tokenizer, r["prompt"]) for r in chunk]
        out = generate(
            model, encoded, pad=pad, eos=eos, max_new_tokens=max_new_tokens, temperature=None
        )
        texts = []
        for row in out.completions():
            tokens = [t for t in cut_at_eos(row, (eos, pad)) if t not in (eos, pad)]
            lengths.append(len(tokens) + 1)
            texts.append(decode(tokenizer, tokens))
        # every column of the rows (answer, a task's entry, ...) reaches the verifier
        batch = {key: [r[key] for r in chunk] for key in chunk[0]} | {"completion": texts}
        scores.extend(np.nan_to_num(correct(batch).total, nan=0.0).tolist())
        completions.extend(texts)
    return Evaluation(float(np.mean(scores)), float(np.mean(lengths)), tuple(completions))
