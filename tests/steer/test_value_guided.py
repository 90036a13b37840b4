"""Blockwise value-guided decoding: greedy selection, the kept candidate, budgets, steering."""

import numpy as np
import pytest
import torch

from rewardkit.core import term
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.steer import (
    SMCConfig,
    TermPotential,
    greedy_resample,
    sample_completions,
    smc,
    value_guided,
)


def _count_a():
    return TermPotential(
        term(lambda completion: [c.count("a") / 6 for c in completion], name="a"), partial=True
    )


def test_greedy_resampling_copies_the_heaviest_particle():
    rng = np.random.default_rng(0)
    assert greedy_resample(np.array([0.1, 0.6, 0.3]), rng).tolist() == [1, 1, 1]
    assert greedy_resample(np.array([0.5, 0.5]), rng).tolist() == [0, 1]  # nothing to choose by
    ties = {greedy_resample(np.array([0.4, 0.4, 0.2]), rng)[0] for _ in range(50)}
    assert ties == {0, 1}  # a tie is broken at random, not always towards the first
    with pytest.raises(BatchError, match="sums to 1"):
        greedy_resample(np.array([0.5, 0.6]), rng)


def test_a_value_that_cannot_judge_prefixes_is_refused(tiny):
    tokenizer, model = tiny
    outcome_only = term(lambda completion: [1.0] * len(completion), name="outcome_only")
    with pytest.raises(ConfigurationError, match="judges prefixes"):
        value_guided(model, tokenizer, ["a"], outcome_only, candidates=2, max_new_tokens=2)


def test_the_kept_candidate_is_the_best_of_the_last_block(tiny):
    tokenizer, model = tiny
    potential = _count_a()
    result = value_guided(model, tokenizer, ["a", "b", "ab"], potential, candidates=5,
                          max_new_tokens=6, block_size=2, seed=3)  # fmt: skip
    for kept, candidates, rewards in zip(
        result.completions, result.particles, result.rewards, strict=True
    ):
        assert kept == candidates[int(np.argmax(rewards))]
        assert rewards.max() == kept.count("a") / 6
    # a greedy step after every block but the last: the candidates always share a parent
    blocks_of_first = [block for block, prompt in result.resampled if prompt == 0]
    assert blocks_of_first == list(range(len(result.ess) - 1))
    assert result.tokens_generated <= 3 * 5 * 6


def test_one_candidate_selects_nothing(tiny):
    tokenizer, model = tiny
    kwargs = {"max_new_tokens": 5, "block_size": 2, "seed": 11}
    searched = value_guided(model, tokenizer, ["ab"] * 4, _count_a(), candidates=1, **kwargs)
    sampled = smc(model, tokenizer, ["ab"] * 4, _count_a(), SMCConfig(particles=1, **kwargs))
    assert searched.reorders == 0 and searched.completions == sampled.completions


def test_a_value_that_prefers_a_steers_decoding_towards_it(tiny):
    tokenizer, model = tiny
    torch.manual_seed(0)
    plain = sample_completions(model, tokenizer, ["b"] * 100, 1, 6).texts
    searched = value_guided(
        model, tokenizer, ["b"] * 100, _count_a(), candidates=4, max_new_tokens=6, block_size=1
    )
    assert np.mean([c.count("a") for c in searched.completions]) > 2 * np.mean(
        [c.count("a") for c in plain]
    )
