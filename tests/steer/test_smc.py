"""SMC: resampling in expectation, plain sampling under a constant potential, the exact tilted
distribution on a tiny model, the KV cache against recomputation, FK products, bad input."""

import itertools
import math
from collections import Counter

import numpy as np
import pytest
import torch

from rewardkit.core import term
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.steer import (
    FKState,
    SMCConfig,
    best_of_n,
    fk_log_potential,
    multinomial_resample,
    select_best,
    smc,
    systematic_resample,
)
from rewardkit.steer.resampling import effective_sample_size, normalize_log_weights


@pytest.mark.parametrize("resample", [systematic_resample, multinomial_resample])
def test_resampling_draws_each_particle_in_proportion_to_its_weight(resample):
    weights = np.array([0.05, 0.4, 0.15, 0.3, 0.1])
    rng, repeats, count = np.random.default_rng(0), 20_000, weights.size
    hits = np.zeros(count)
    for _ in range(repeats):
        hits += np.bincount(resample(weights, rng), minlength=count)
    share = hits / (repeats * count)
    # the multinomial variance bounds the systematic one
    tolerance = 4 * np.sqrt(weights * (1 - weights) / (repeats * count))
    assert np.all(np.abs(share - weights) < tolerance)


def test_systematic_resampling_keeps_counts_within_one_of_k_times_the_weight():
    weights = np.array([0.05, 0.4, 0.15, 0.3, 0.1])
    rng = np.random.default_rng(1)
    for _ in range(200):
        counts = np.bincount(systematic_resample(weights, rng), minlength=5)
        assert np.all(np.abs(counts - 5 * weights) < 1)


def test_ess_and_invalid_weights():
    assert effective_sample_size(np.log([0.5, 0.5])) == pytest.approx(2.0)
    assert effective_sample_size(np.array([0.0, -np.inf])) == pytest.approx(1.0)
    with pytest.raises(BatchError, match="NaN or \\+inf"):
        normalize_log_weights([0.0, np.inf])
    with pytest.raises(BatchError, match="zero weight"):
        normalize_log_weights([-np.inf, -np.inf])


@pytest.mark.parametrize("kind", ["difference", "max", "sum"])
def test_the_product_of_potentials_is_exp_lambda_times_the_final_reward(kind):
    rng = np.random.default_rng(2)
    lam, count, steps = 3.0, 6, 5
    state = FKState.start(count)
    total = np.zeros(count)
    ends = rng.integers(1, steps + 1, size=count)  # each particle completes at its own step
    final = np.full(count, np.nan)
    for step in range(1, steps + 1):
        rewards = rng.random(count)
        rewards[rng.random(count) < 0.3] = np.nan  # unjudged prefixes are neutral
        complete = ends <= step
        newly = complete & np.isnan(final)
        rewards[newly & np.isnan(rewards)] = 0.5
        final[newly] = rewards[newly]
        total += fk_log_potential(state, rewards, complete, kind, lam)
    np.testing.assert_allclose(total, lam * final)


def _exact(model, tokenizer, prompt, length, reward=None, lam=0.0):
    """Every completion of at most ``length`` tokens (stopping at EOS), as text, with its
    probability under the model tilted by exp(λ · reward(text))."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    vocabulary, eos = range(len(tokenizer)), tokenizer.eos_token_id
    dropped = (eos, tokenizer.pad_token_id)
    table: Counter = Counter()

    def log_p(prefix, token):
        ids = torch.tensor([prompt_ids + list(prefix)])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, -1]
        return float(logits.log_softmax(-1)[token])

    for first in vocabulary:
        seqs = [(first,)] if first == eos else [(first, second) for second in vocabulary]
        for seq in seqs:
            prob = math.exp(sum(log_p(seq[:i], seq[i]) for i in range(len(seq))))
            if length == 1:
                seq = seq[:1]
            text = tokenizer.decode([t for t in seq if t not in dropped])
            table[text] += prob if length == 2 or len(seq) == 1 else 0.0
        if length == 1 and first != eos:
            text = tokenizer.decode([t for t in (first,) if t not in dropped])
            table[text] += math.exp(log_p((), first))
    if reward is not None:
        for text in table:
            table[text] *= math.exp(lam * reward(text))
    total = sum(table.values())
    return {text: p / total for text, p in table.items()}


def _chi_square_p(observed: Counter, expected: dict, count: int) -> float:
    cells = [t for t in expected if expected[t] * count >= 5]
    rest = 1.0 - sum(expected[t] for t in cells)
    stat = sum((observed[t] - count * expected[t]) ** 2 / (count * expected[t]) for t in cells)
    other = count - sum(observed[t] for t in cells)
    if rest * count >= 1:
        stat += (other - count * rest) ** 2 / (count * rest)
    dof = len(cells) - (0 if rest * count >= 1 else 1)
    return float(1 - torch.special.gammainc(torch.tensor(dof / 2), torch.tensor(stat / 2)))


@pytest.mark.parametrize("delimiter", [None, "a", "b"])
def test_a_constant_potential_gives_plain_sampling(tiny, delimiter):
    from rewardkit.steer import TermPotential

    tokenizer, model = tiny
    constant = term(lambda completion: [1.0] * len(completion), name="constant")
    count = 1500
    config = SMCConfig(
        particles=4, max_new_tokens=2, block_size=1 if delimiter is None else 2,
        ess_threshold=1.0, delimiter=delimiter,
        resampling="multinomial", seed=4,
    )  # fmt: skip
    result = smc(model, tokenizer, ["ab"] * count, TermPotential(constant, partial=True), config)
    assert result.reorders > 0  # particles were really resampled, the cache really moved
    expected = _exact(model, tokenizer, "ab", 2)
    assert _chi_square_p(Counter(result.completions), expected, count) > 0.001


def test_an_indicator_potential_gives_the_exact_conditional_distribution(tiny):
    tokenizer, model = tiny
    has_b = term(lambda completion: [float("b" in c) for c in completion], name="has_b")
    count = 1500
    config = SMCConfig(particles=16, max_new_tokens=2, block_size=1, lam=30.0, seed=5)
    result = smc(model, tokenizer, ["ab"] * count, has_b, config)
    expected = _exact(model, tokenizer, "ab", 2, lambda t: float("b" in t), lam=30.0)
    assert sum(p for t, p in expected.items() if "b" not in t) < 1e-6  # the conditional
    assert sum("b" not in c for c in result.completions) == 0
    assert _chi_square_p(Counter(result.completions), expected, count) > 0.001


@pytest.mark.parametrize("delimiter", [None, "b"])
def test_the_kv_cache_gives_what_recomputing_every_prefix_gives(tiny, delimiter):
    from rewardkit.steer import TermPotential

    tokenizer, model = tiny
    count_a = term(lambda completion: [c.count("a") / 4 for c in completion], name="a")
    potential = TermPotential(count_a, partial=True)
    kwargs = {"particles": 6, "max_new_tokens": 8, "block_size": 3, "delimiter": delimiter,
              "resampling": "multinomial", "lam": 3.0}  # fmt: skip
    cached = smc(model, tokenizer, ["a", "abba"], potential, SMCConfig(**kwargs, seed=7))
    plain = smc(
        model, tokenizer, ["a", "abba"], potential, SMCConfig(**kwargs, seed=7, use_cache=False)
    )
    assert cached.reorders > 0 and cached.particles == plain.particles
    for mine, theirs in zip(cached.weights, plain.weights, strict=True):
        np.testing.assert_allclose(mine, theirs, atol=1e-6)
    assert cached.tokens_generated == plain.tokens_generated
    # every particle gets its whole budget unless it ended: waiting at a delimiter costs none
    lengths = [len(tokenizer(p)["input_ids"]) for row in cached.particles for p in row]
    assert max(lengths) <= 8


def test_bad_input_gets_a_clear_error(tiny):
    tokenizer, model = tiny
    ones = term(lambda completion: [1.0] * len(completion), name="ones")
    with pytest.raises(ConfigurationError, match="no model"):
        smc(None, tokenizer, ["a"], ones)
    with pytest.raises(ConfigurationError, match="non-empty list"):
        smc(model, tokenizer, [], ones)
    with pytest.raises(ConfigurationError, match="particles must be at least 1"):
        SMCConfig(particles=0)
    infinite = term(lambda completion: [math.inf] * len(completion), name="inf")
    with pytest.raises(BatchError, match="infinite"):
        smc(model, tokenizer, ["a"], infinite, SMCConfig(particles=2, max_new_tokens=2))
    with pytest.raises(ConfigurationError, match="one token"):
        smc(model, tokenizer, ["a"], ones, SMCConfig(delimiter="ab"))


def test_best_of_n_keeps_the_highest_score_and_reports_every_one(tiny):
    tokenizer, model = tiny
    count_b = term(lambda completion: [c.count("b") for c in completion], name="b")
    result = best_of_n(model, tokenizer, ["a", "b", "ab"], count_b, n=5, max_new_tokens=4)
    for scores, chosen, samples, best in zip(
        result.scores, result.chosen, result.samples, result.completions, strict=True
    ):
        assert chosen == int(np.argmax(scores)) and samples[chosen] == best
        assert scores.tolist() == [s.count("b") for s in samples]
    assert result.reward_evaluations == 15 and result.unscored_prompts == 0
    assert select_best(np.array([[np.nan, 1.0, 1.0]])).tolist() == [1]
    with pytest.raises(ConfigurationError, match="n must be at least 1"):
        best_of_n(model, tokenizer, ["a"], count_b, n=0, max_new_tokens=2)


def test_particles_finish_at_eos_and_budgets_are_counted(tiny):
    tokenizer, model = tiny
    ones = term(lambda completion: [1.0] * len(completion), name="ones")
    result = smc(model, tokenizer, ["ab"] * 3, ones, SMCConfig(particles=4, max_new_tokens=5))
    assert all(len(p) == 4 for p in result.particles)
    assert result.tokens_generated <= 3 * 4 * 5
    assert result.potential_evaluations >= 12  # every particle is judged once complete
    assert len(list(itertools.chain(*result.ess))) == 3 * len(result.ess)


def test_a_potential_that_judges_prefixes_steers_sampling_towards_it(tiny):
    from rewardkit.steer import TermPotential, sample_completions

    tokenizer, model = tiny
    count_a = term(lambda completion: [c.count("a") / 6 for c in completion], name="a")
    torch.manual_seed(0)
    plain = sample_completions(model, tokenizer, ["b"] * 200, 1, 6).texts
    config = SMCConfig(particles=8, max_new_tokens=6, block_size=1, lam=5.0, seed=1)
    steered = smc(model, tokenizer, ["b"] * 200, TermPotential(count_a, partial=True), config)
    assert steered.resampled  # intermediate weights differ, so the ESS drops
    assert np.mean([c.count("a") for c in steered.completions]) > 2 * np.mean(
        [c.count("a") for c in plain]
    )


def test_a_finished_prompt_is_never_resampled_again(tiny):
    # a term that cannot judge prefixes: each prompt is judged once all its particles end
    tokenizer, model = tiny
    count_a = term(lambda completion: [c.count("a") / 4 for c in completion], name="a")
    config = SMCConfig(particles=4, max_new_tokens=8, block_size=1, ess_threshold=1.0, seed=3)
    prompts = ["a", "abba", "b", "ab", "ba", "bb"]
    result = smc(model, tokenizer, prompts, count_a, config)
    blocks = len(result.ess)
    finished_early = 0
    for p in range(len(prompts)):
        resampled = sorted(block for block, prompt in result.resampled if prompt == p)
        # every block resamples an unfinished prompt (threshold 1), and none after it ends
        assert resampled == list(range(len(resampled)))
        finished_early += len(resampled) < blocks - 1
    assert finished_early > 0
