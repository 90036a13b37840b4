"""Sequential Monte Carlo decoding of a causal LM, steered by reward potentials.

K particles per prompt extend in blocks of tokens. After each block every
particle is scored by a :class:`~rewardkit.steer.potentials.TermPotential`
and weighted by a Feynman–Kac potential (``difference``, ``max`` or ``sum``;
:mod:`rewardkit.steer.potentials`), so that the particles target

    p̃(y | x) ∝ p(y | x) · exp(λ r(x, y)).

When a prompt's effective sample size falls below ``ess_threshold`` · K its
particles are resampled (systematic or multinomial) and their weights reset.
A block ends for a particle after ``block_size`` tokens, at its EOS, or at the
``delimiter`` token (for step-wise tasks: the block is one step).

The KV cache is kept for the whole run: resampling reorders its rows
(``DynamicCache.reorder_cache``) and never recomputes a prefix;
``use_cache=False`` recomputes every prefix instead (the reference the tests
compare with). With a constant potential SMC is plain ancestral sampling.

Why our own SMC rather than ``genlm-control`` or ``llamppl``: both run on the
CPU with a Hugging Face model, but neither accepts a character-level
tokenizer without patching a private function of ``genlm-backend`` (it only
knows byte-level and SentencePiece vocabularies), neither keeps a KV cache
for generated tokens (each step re-runs the generated suffix), their API is
asynchronous, and together they add about 65 packages (numba, bitsandbytes,
ipykernel). The algorithm is short; keeping it here keeps it synchronous,
seedable and cached.

Example:
    >>> from rewardkit.core import term
    >>> from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
    >>> tokenizer = build_char_tokenizer("0123456789+=")
    >>> model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2).eval()
    >>> ones = term(lambda completion: [c.count("1") for c in completion], name="ones")
    >>> result = smc(model, tokenizer, ["1+1="], ones, SMCConfig(particles=4, max_new_tokens=6))
    >>> len(result.particles[0]), result.tokens_generated <= 4 * 6
    (4, True)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.term import Term
from rewardkit.lm.padding import left_pad, position_ids
from rewardkit.lm.tokens import decode, encode, single_token
from rewardkit.steer._rows import check_columns, check_prompts, repeat_columns, repeat_each
from rewardkit.steer.potentials import (
    POTENTIALS,
    FKState,
    PotentialKind,
    TermPotential,
    fk_log_potential,
)
from rewardkit.steer.resampling import RESAMPLERS, effective_sample_size, normalize_log_weights

__all__ = ["SMCConfig", "SMCResult", "smc"]


@dataclass(frozen=True)
class SMCConfig:
    """Settings of an SMC run (errors in ``__post_init__`` say how to fix a value).

    Attributes:
        particles: K, particles per prompt.
        max_new_tokens: the completion budget of each particle, in tokens.
        block_size: tokens per block between reweightings.
        delimiter: a token that also ends a particle's block (e.g. ``","``).
        potential: ``difference``, ``max`` or ``sum`` (FK steering).
        lam: λ, the strength of exp(λ r).
        ess_threshold: resample when ESS < ess_threshold · K (0: never, 1: always).
        resampling: ``systematic`` or ``multinomial``; ``greedy`` (every particle becomes the
            heaviest) turns SMC into a search, the selection step of
            :func:`~rewardkit.steer.value_guided.value_guided`, and targets no distribution.
        temperature: sampling temperature of the proposal; with T ≠ 1 the particles target
            p_T(y | x) · exp(λ r) for the tempered model p_T (no correction to p is applied).
        select: return the particle drawn by weight (``sample``) or the heaviest (``argmax``).
        seed: seeds token sampling and resampling.
        use_cache: keep the KV cache (False recomputes every prefix).
    """

    particles: int = 8
    max_new_tokens: int = 24
    block_size: int = 4
    delimiter: str | None = None
    potential: PotentialKind = "difference"
    lam: float = 10.0
    ess_threshold: float = 0.5
    resampling: str = "systematic"
    temperature: float = 1.0
    select: Literal["sample", "argmax"] = "sample"
    seed: int = 0
    use_cache: bool = True

    def __post_init__(self) -> None:
        for name in ("particles", "max_new_tokens", "block_size"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"SMCConfig.{name} must be at least 1")
        if self.potential not in POTENTIALS:
            raise ConfigurationError(f"potential must be one of {POTENTIALS}")
        if self.resampling not in RESAMPLERS:
            raise ConfigurationError(f"resampling must be one of {sorted(RESAMPLERS)}")
        if not 0.0 <= self.ess_threshold <= 1.0:
            raise ConfigurationError("ess_threshold must be in [0, 1]")
        if not (np.isfinite(self.lam) and self.temperature > 0):
            raise ConfigurationError("lam must be finite and temperature positive")
        if self.select not in ("sample", "argmax"):
            raise ConfigurationError("select must be 'sample' or 'argmax'")


@dataclass
class SMCResult:
    """Per prompt: the chosen completion, every particle, their weights and rewards.

    ``ess`` holds each prompt's ESS after each block (before resampling),
    ``resampled`` the (block, prompt) pairs that were resampled, ``reorders``
    the resamplings that changed which particles survive (the KV cache moved).
    """

    completions: list[str]
    particles: list[list[str]]
    weights: list[np.ndarray]
    rewards: list[np.ndarray]
    tokens_generated: int
    potential_evaluations: int
    missing_rewards: int
    ess: list[list[float]] = field(default_factory=list)
    resampled: list[tuple[int, int]] = field(default_factory=list)
    reorders: int = 0


class _Particles:
    """The batch of P·K particles: token ids, attention, KV cache and last logits."""

    def __init__(self, model: Any, tokenizer: Any, prompts: Sequence[str], config: SMCConfig):
        self.model, self.config = model, config
        self.pad, self.eos = tokenizer.pad_token_id, tokenizer.eos_token_id
        encoded = [encode(tokenizer, p) for p in prompts]
        if any(len(e) == 0 for e in encoded):
            raise ConfigurationError("every prompt needs at least one token")
        # each prompt is read once; its K particles then share copies of its cache rows
        self.ids, self.attention = left_pad(encoded, self.pad)
        self.cache: Any = None
        # transformers 5.24 renamed ``past_key_values`` to ``cache`` (the old name warns)
        parameters = inspect.signature(model.forward).parameters
        self.cache_argument = "cache" if "cache" in parameters else "past_key_values"
        logits = self._forward(self.ids)
        k = config.particles
        self.ids = self.ids.repeat_interleave(k, 0)
        self.attention = self.attention.repeat_interleave(k, 0)
        self.logits = logits.repeat_interleave(k, 0)
        if self.cache is not None:
            self.cache.batch_repeat_interleave(k)
        self.tokens: list[list[int]] = [[] for _ in range(len(self.ids))]

    def _forward(self, new_ids: Any) -> Any:
        import torch

        positions = position_ids(self.attention)
        with torch.no_grad():
            if self.config.use_cache:
                out = self.model(
                    input_ids=new_ids, attention_mask=self.attention, use_cache=True,
                    position_ids=positions[:, -new_ids.shape[1] :],
                    **{self.cache_argument: self.cache},
                )  # fmt: skip
                self.cache = out.get("cache", out.get("past_key_values"))
            else:
                out = self.model(
                    input_ids=self.ids, attention_mask=self.attention, position_ids=positions,
                    use_cache=False,
                )  # fmt: skip
        return out.logits[:, -1].float()

    def extend(self, active: np.ndarray, generator: Any) -> Any:
        """Sample one token for every active particle (the others get masked padding)."""
        import torch

        probs = torch.softmax(self.logits / self.config.temperature, dim=-1)
        sampled = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        mask = torch.from_numpy(active)
        step = torch.where(mask, sampled, torch.full_like(sampled, self.pad))
        if not self.config.use_cache:  # only recomputation reads the whole ids
            self.ids = torch.cat([self.ids, step[:, None]], dim=1)
        self.attention = torch.cat([self.attention, mask.long()[:, None]], dim=1)
        # a waiting particle keeps the logits of its last real token, not the padding's
        self.logits = torch.where(mask[:, None], self._forward(step[:, None]), self.logits)
        return sampled

    def select(self, order: np.ndarray) -> None:
        import torch

        index = torch.as_tensor(order, dtype=torch.long)
        self.ids, self.attention = self.ids[index], self.attention[index]
        self.logits = self.logits[index]
        self.tokens = [list(self.tokens[i]) for i in order]
        if self.cache is not None:
            self.cache.reorder_cache(index)


def _check_inputs(model: Any, tokenizer: Any, prompts: Sequence[str]) -> None:
    if model is None or not callable(model):
        raise ConfigurationError("smc needs a Hugging Face causal LM (got no model)")
    if tokenizer is None or tokenizer.pad_token_id is None or tokenizer.eos_token_id is None:
        raise ConfigurationError("smc needs a tokenizer with a pad and an EOS token")
    check_prompts(prompts, "smc")
    if not all(isinstance(p, str) for p in prompts):
        raise ConfigurationError("every prompt must be a string")


@dataclass
class _Progress:
    """Per particle: whether it wrote EOS, its length, whether it is complete (EOS or the
    budget), and the reward of its complete text (NaN until judged)."""

    finished: np.ndarray
    lengths: np.ndarray
    complete: np.ndarray
    final_rewards: np.ndarray

    @classmethod
    def start(cls, count: int) -> _Progress:
        return cls(
            finished=np.zeros(count, dtype=bool),
            lengths=np.zeros(count, dtype=int),
            complete=np.zeros(count, dtype=bool),
            final_rewards=np.full(count, np.nan),
        )

    def select(self, order: np.ndarray) -> None:
        """Keep the particles at ``order`` (after resampling), in that order."""
        self.finished, self.final_rewards = self.finished[order], self.final_rewards[order]
        self.lengths, self.complete = self.lengths[order], self.complete[order]


def _extend_block(
    particles: _Particles,
    progress: _Progress,
    delimiter: int | None,
    config: SMCConfig,
    generator: Any,
) -> int:
    """Extend every incomplete particle by one block: up to ``block_size`` tokens, ending at
    its EOS, the delimiter or the budget. Returns the number of tokens sampled."""
    active, sampled_count = ~progress.complete, 0
    for _ in range(config.block_size):
        if not active.any():
            break
        sampled = particles.extend(active.copy(), generator).tolist()
        for i in np.flatnonzero(active):
            particles.tokens[i].append(sampled[i])
            progress.lengths[i] += 1
            sampled_count += 1
            if sampled[i] == particles.eos:
                progress.finished[i], active[i] = True, False
            elif sampled[i] == delimiter or progress.lengths[i] >= config.max_new_tokens:
                active[i] = False
    progress.complete = progress.finished | (progress.lengths >= config.max_new_tokens)
    return sampled_count


def _block_rewards(
    potential: TermPotential,
    texts: Callable[[np.ndarray], list[str]],
    prompts: list[str],
    columns: Mapping[str, list[Any]],
    progress: _Progress,
    state: FKState,
    group_done: np.ndarray,
) -> np.ndarray:
    """This block's reward of every particle not yet corrected (NaN where not judged): a
    complete text's stored reward, else the potential's reward of its text so far."""
    # a term that cannot judge prefixes judges a prompt's particles together, once all
    # are complete: an early finisher is not weighted before the others can be.
    # (a copy: the caller's ``group_done`` keeps a finished prompt out of resampling)
    judged = np.ones(len(state.done), dtype=bool) if potential.partial else group_done.copy()
    known = progress.complete & ~np.isnan(progress.final_rewards)  # scored once
    judged &= ~state.done & ~known
    rewards = np.where(known & ~state.done, progress.final_rewards, np.nan)
    if judged.any():
        rows = np.flatnonzero(judged)
        rewards[rows] = potential(
            [prompts[i] for i in rows],
            texts(rows),
            progress.complete[rows],
            {key: [values[i] for i in rows] for key, values in columns.items()},
        )
    return rewards


def _resample(
    log_w: np.ndarray, group_done: np.ndarray, config: SMCConfig, rng: Any, result: SMCResult
) -> np.ndarray:
    """The ancestor of every particle: each prompt whose ESS is low and whose particles are
    not all done is resampled (its weights reset to 0); records ESS and resamplings."""
    k, block = config.particles, len(result.ess)
    order, ess = np.arange(len(log_w)), []
    for p in range(len(log_w) // k):
        group = slice(p * k, (p + 1) * k)
        ess.append(effective_sample_size(log_w[group]))
        low = ess[-1] < config.ess_threshold * k or config.ess_threshold >= 1.0
        if low and not group_done[group].all():
            chosen = RESAMPLERS[config.resampling](normalize_log_weights(log_w[group]), rng)
            order[group] = chosen + p * k
            log_w[group] = 0.0
            result.resampled.append((block, p))
    result.ess.append(ess)
    return order


def _choose(
    texts: list[str],
    log_w: np.ndarray,
    final_rewards: np.ndarray,
    config: SMCConfig,
    rng: Any,
    result: SMCResult,
) -> None:
    """Each prompt's particles, weights and rewards, and the completion drawn by weight
    (``sample``) or the heaviest (``argmax``), into ``result``."""
    k = config.particles
    for p in range(len(texts) // k):
        group = slice(p * k, (p + 1) * k)
        weights = normalize_log_weights(log_w[group])
        pick = int(rng.choice(k, p=weights)) if config.select == "sample" else int(weights.argmax())
        result.particles.append(texts[group])
        result.weights.append(weights)
        result.rewards.append(final_rewards[group].copy())
        result.completions.append(texts[group][pick])


def smc(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    reward: Term | TermPotential,
    config: SMCConfig | None = None,
    columns: Mapping[str, Sequence[Any]] | None = None,
) -> SMCResult:
    """Steer sampling from ``model`` towards exp(λ · reward) (see the module docs).

    Args:
        model: a Hugging Face causal LM (in eval mode).
        tokenizer: its tokenizer, with pad and EOS tokens.
        prompts: the prompts, as text.
        reward: a rewardkit term, or a :class:`TermPotential` around one.
        config: :class:`SMCConfig`.
        columns: per-prompt extra columns for the term (e.g. ``{"answer": [...]}``).
    """
    import torch

    config = config or SMCConfig()
    _check_inputs(model, tokenizer, prompts)
    potential = reward if isinstance(reward, TermPotential) else TermPotential(reward)
    count, k = len(prompts), config.particles
    check_columns(columns, count)
    delimiter = (
        None
        if config.delimiter is None
        else single_token(tokenizer, config.delimiter, "the delimiter")
    )
    generator = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    evaluations_before, missing_before = potential.evaluations, potential.missing
    particles = _Particles(model, tokenizer, prompts, config)
    repeated_prompts, expanded = repeat_each(prompts, k), repeat_columns(columns, k)
    state, log_w = FKState.start(count * k), np.zeros(count * k)
    progress = _Progress.start(count * k)
    result = SMCResult([], [], [], [], 0, 0, 0)

    def texts(rows: np.ndarray) -> list[str]:
        return [decode(tokenizer, particles.tokens[i]) for i in rows]

    while not state.done.all():
        result.tokens_generated += _extend_block(particles, progress, delimiter, config, generator)
        group_done = np.repeat(progress.complete.reshape(count, k).all(axis=1), k)
        rewards = _block_rewards(
            potential, texts, repeated_prompts, expanded, progress, state, group_done
        )
        log_w += fk_log_potential(state, rewards, group_done, config.potential, config.lam)
        progress.final_rewards = np.where(
            progress.complete & ~np.isnan(rewards), rewards, progress.final_rewards
        )
        order = _resample(log_w, group_done, config, rng, result)
        if not np.array_equal(order, np.arange(count * k)):
            result.reorders += 1
            particles.select(order)
            state.select(order)
            progress.select(order)
    _choose(texts(np.arange(count * k)), log_w, progress.final_rewards, config, rng, result)
    result.potential_evaluations = potential.evaluations - evaluations_before
    result.missing_rewards = potential.missing - missing_before
    return result
