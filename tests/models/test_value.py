"""The value head: its features match the prefixes it scores, it learns a known rule, and bad
input gets a clear error."""

import numpy as np
import pytest
import torch

from rewardkit.core.errors import ConfigurationError
from rewardkit.models import PolicyValueHead, ValueTerm, ValueTraining
from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2


@pytest.fixture(scope="module")
def policy():
    tokenizer = build_char_tokenizer("01")
    torch.manual_seed(0)
    return build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, seed=1).eval(), tokenizer


def test_training_features_are_the_states_after_each_prefix(policy):
    model, tokenizer = policy
    value = PolicyValueHead(model, tokenizer, hidden=8)
    states = value.prefix_states(["01", "1"], ["110", ""], 1, finished=[False, True])
    assert states.counts.tolist() == [4, 2]  # the prompt alone, a state per token, EOS if ended
    with torch.no_grad():
        by_prefix = torch.sigmoid(value.head(states.states).squeeze(-1)).double().numpy()
    reference = np.concatenate([
        value.values(["01"] * 4 + ["1"], ["", "1", "11", "110", ""]),
        value.values(["1"], [""], finished=[True]),
    ])  # fmt: skip
    np.testing.assert_allclose(by_prefix, reference, rtol=1e-5)


def test_the_value_learns_that_a_leading_one_succeeds(policy):
    model, tokenizer = policy
    rng = np.random.default_rng(0)
    completions = ["".join(rng.choice(["0", "1"], size=3)) for _ in range(200)]
    outcomes = [float(c[0] == "1") for c in completions]
    value = PolicyValueHead(model, tokenizer, seed=0)
    metrics = value.fit(
        ["0"] * 200, completions, outcomes, ValueTraining(epochs=30), finished=[True] * 200
    )
    assert metrics["prefixes"] == 200 * 5 and value.trained  # the prompt, 3 tokens, EOS
    good, bad, start = value.values(["0"] * 3, ["10", "01", ""])
    assert good > 0.8 and bad < 0.2 and 0.2 < start < 0.8  # the empty prefix: the base rate
    term = ValueTerm(value)
    assert term.scores_partial
    ended = value.values(["0", "0"], ["10", "01"], finished=[True, True])
    np.testing.assert_allclose(  # a row not marked partial is read as finished (EOS after it)
        term({"prompt": ["0", "0"], "completion": ["10", "01"]}).total, ended, rtol=1e-6
    )
    prefixes = {"prompt": ["0", "0"], "completion": ["10", "01"], "partial": [True, True]}
    np.testing.assert_allclose(term(prefixes).total, [good, bad], rtol=1e-6)
    model.train()  # scoring leaves a policy that is training in training mode
    value.values(["0"], ["1"])
    assert model.training
    model.eval()


def test_bad_input_gets_a_clear_error(policy):
    model, tokenizer = policy
    value = PolicyValueHead(model, tokenizer)
    with pytest.raises(ConfigurationError, match="in \\[0, 1\\]"):
        value.fit(["0"], ["1"], [2.0])
    with pytest.raises(ConfigurationError, match="in \\[0, 1\\]"):
        value.fit(["0"], ["1"], [float("nan")])
    with pytest.raises(ConfigurationError, match="as many"):
        value.fit(["0", "0"], ["1"], [1.0])
    with pytest.raises(ConfigurationError, match="non-empty prompt"):
        value.values([""], ["1"])
    with pytest.raises(ConfigurationError, match="no room"):
        value.values(["0" * value.max_length], ["1"])
    with pytest.raises(ConfigurationError, match="trained value head"):
        ValueTerm(value)
    with pytest.raises(ConfigurationError, match="a policy"):
        PolicyValueHead(None, tokenizer)


def test_one_read_of_the_states_serves_fits_on_any_subset(policy):
    model, tokenizer = policy
    rng = np.random.default_rng(1)
    completions = ["".join(rng.choice(["0", "1"], size=3)) for _ in range(40)]
    outcomes = [float(c[0] == "1") for c in completions]
    prompts = ["0"] * 40
    states = PolicyValueHead(model, tokenizer).prefix_states(prompts, completions)
    subset = list(range(0, 40, 2))
    direct = PolicyValueHead(model, tokenizer, seed=3)
    direct.fit([prompts[i] for i in subset], [completions[i] for i in subset],
               [outcomes[i] for i in subset], ValueTraining(epochs=5))  # fmt: skip
    reused = PolicyValueHead(model, tokenizer, seed=3)
    reused.fit_states(states.select(subset), [outcomes[i] for i in subset], ValueTraining(epochs=5))
    for head, other in zip(direct.head.parameters(), reused.head.parameters(), strict=True):
        torch.testing.assert_close(head, other)
    np.testing.assert_allclose(reused.values_of(states.select([5, 1])),
                               reused.values(["0", "0"], [completions[5], completions[1]]),
                               rtol=1e-5)  # fmt: skip
    with pytest.raises(ConfigurationError, match="3 outcomes for 20 texts"):
        reused.fit_states(states.select(subset), [1.0, 0.0, 1.0])
    with pytest.raises(ConfigurationError, match="in \\[0, 1\\]"):
        reused.fit_states(states.select([0]), [float("nan")])


def test_hidden_features_read_the_value_head_s_prefix_states_in_the_same_pass(policy):
    from rewardkit.models.frozen_head import hidden_features

    model, tokenizer = policy
    prompts, completions = ["01", "1", "110"], ["110", "", "0"]
    found = hidden_features(model, tokenizer, prompts, completions, [-1], 64, batch_size=2,
                            prefix_states=True)  # fmt: skip
    reference = PolicyValueHead(model, tokenizer).prefix_states(prompts, completions)
    assert [len(s) for s in found.prefix_states] == reference.counts.tolist() == [4, 1, 2]
    np.testing.assert_allclose(np.concatenate(found.prefix_states), reference.states.numpy(),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
