"""Blockwise value-guided decoding: K candidate blocks, keep the one a value scores highest.

From one prefix per prompt, K continuations of one block are sampled; the
prefix with the highest value V(x, y_{≤t}) is kept, copied K times, and the
next block is sampled from it, until it ends (Controlled Decoding's blockwise
decoding, Mudgal et al. 2024, "Controlled Decoding from Language Models",
with the value from :class:`rewardkit.models.value.PolicyValueHead` or any
term that judges prefixes). The answer is the kept candidate; every
candidate's tokens count in the budget.

It is :func:`~rewardkit.steer.smc.smc` with resampling at every block by
:func:`~rewardkit.steer.resampling.greedy_resample` under the ``difference``
potential: after a greedy step every candidate shares its parent's value, so
the heaviest of the next block is the one with the highest V. Unlike SMC it
targets no distribution: it is a search.

Example:
    >>> from rewardkit.core import term
    >>> from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
    >>> tokenizer = build_char_tokenizer("01")
    >>> model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2).eval()
    >>> ones = term(lambda completion: [c.count("1") for c in completion], name="ones")
    >>> ones.scores_partial = True
    >>> out = value_guided(model, tokenizer, ["0"], ones, candidates=8, max_new_tokens=6)
    >>> out.completions[0].count("1") == max(p.count("1") for p in out.particles[0])
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.term import Term
from rewardkit.steer.potentials import TermPotential
from rewardkit.steer.smc import SMCConfig, SMCResult, smc

__all__ = ["value_guided"]


def value_guided(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    value: Term | TermPotential,
    candidates: int = 4,
    max_new_tokens: int = 24,
    block_size: int = 4,
    delimiter: str | None = None,
    seed: int = 0,
    columns: Mapping[str, Sequence[Any]] | None = None,
) -> SMCResult:
    """Decode ``prompts`` block by block, keeping the best of ``candidates`` under ``value``.

    Args:
        value: a term that judges prefixes (``scores_partial``, or a
            :class:`TermPotential` with ``partial=True``), e.g.
            :class:`~rewardkit.models.value.ValueTerm`. Where it cannot judge a
            prefix (NaN) the candidates tie and are all kept.
        candidates: K, the continuations sampled per block.
        block_size, delimiter, max_new_tokens, seed: as in :class:`SMCConfig`.

    Returns:
        an :class:`SMCResult`: ``completions`` holds the kept text of each prompt.
    """
    potential = value if isinstance(value, TermPotential) else TermPotential(value)
    if not potential.partial:
        raise ConfigurationError(
            f"value_guided needs a value that judges prefixes; {potential.term.name!r} does not "
            "(give it scores_partial = True, or pass TermPotential(term, partial=True))"
        )
    config = SMCConfig(
        particles=candidates, max_new_tokens=max_new_tokens, block_size=block_size,
        delimiter=delimiter, potential="difference", lam=1.0, ess_threshold=1.0,
        resampling="greedy", select="argmax", seed=seed,
    )  # fmt: skip
    return smc(model, tokenizer, prompts, potential, config, columns)
