"""The policy-signal terms against values computed by hand on the bigram model."""

import pickle

import numpy as np
import pytest
import torch

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import Status
from rewardkit.core.term import term
from rewardkit.signals import (
    FlowReward,
    InformationGain,
    LikelihoodReward,
    PhaseEntropyReward,
    ema_update,
    flow_token_rewards,
    likelihood_value,
)
from rewardkit.signals.flow import layer_indices
from rewardkit.signals.phase_entropy import phase_entropy_penalty
from tests.bigram import EOS_DEFAULT, Q_A, Q_DEFAULT, B, entropy

P_B = Q_DEFAULT[B]  # "b" after anything but "a"


def test_likelihood_kinds_by_hand(bigram):
    model, tokenizer = bigram
    batch = {"prompt": ["b"], "completion": ["a>a"], "answer": ["b"]}
    # the chain of thought is "a" (cut at ">"); "b" is scored after ">": P_B, then EOS after "b"
    expected = {
        "log_prob": np.log(P_B) + np.log(EOS_DEFAULT),
        "avg_log_prob": (np.log(P_B) + np.log(EOS_DEFAULT)) / 2,
        "probability": P_B * EOS_DEFAULT,
        "avg_probability": (P_B + EOS_DEFAULT) / 2,
    }
    for kind, value in expected.items():
        reward = LikelihoodReward(model, tokenizer, kind=kind, delimiter=">", append_eos=True)
        assert reward(batch).total[0] == pytest.approx(value), kind


def test_likelihood_reads_the_thought_and_marks_what_it_cannot_score(bigram):
    model, tokenizer = bigram
    reward = LikelihoodReward(model, tokenizer, delimiter=">", max_tokens=6)
    batch = {
        "prompt": ["b", "b", "b", "b"],
        "completion": ["ba>b", "b", "a>b", "bbbbbb>b"],  # thought ends in "a" / no ">" / ...
        "answer": ["b", "b", None, "b"],
    }
    out = reward(batch)
    # "ba>" then "b": ">" precedes "b", so P_B; "b" + ">" (the answer prefix) then "b": P_B
    assert out.total[:2] == pytest.approx([np.log(P_B), np.log(P_B)])
    ok, missing = Status.OK, Status.NOT_APPLICABLE
    assert out.status.tolist() == [ok, ok, missing, missing]
    assert "no reference answer" in out.messages[2] and "max_tokens" in out.messages[3]
    no_delimiter = LikelihoodReward(model, tokenizer)  # the thought runs to the end: "a" then "b"
    assert no_delimiter({"prompt": ["b"], "completion": ["a"], "answer": ["b"]}).total[
        0
    ] == pytest.approx(np.log(Q_A[B]))
    assert likelihood_value([], "log_prob") != likelihood_value([], "log_prob")  # NaN
    with pytest.raises(ConfigurationError, match="kind"):
        LikelihoodReward(model, tokenizer, kind="odds")
    pickle.loads(pickle.dumps(reward))


def test_information_gain_against_the_ema_baseline(bigram):
    model, tokenizer = bigram
    gain = InformationGain(model, tokenizer, target_column="answer", decay=0.5)
    batch = {"prompt": ["b", "b"], "completion": ["a", "b"], "answer": ["bb", "b"]}
    out = gain(batch)
    # S_pred = log p(b | b, a) = log Q_A[b]; S_ema = log p(b | b) = log P_B (window 1)
    assert out.total == pytest.approx([np.log(Q_A[B] / P_B), 0.0])
    whole = InformationGain(model, tokenizer, target_column="answer", window=None)
    # two target tokens: the second "b" follows "b" in both readings
    assert whole(batch).total[0] == pytest.approx(np.log(Q_A[B] / P_B))
    assert gain({**batch, "answer": [None, ""]}).status.tolist() == [Status.NOT_APPLICABLE] * 2


def test_ema_update_by_hand():
    theta, phi = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    with torch.no_grad():
        for parameter in theta.parameters():
            parameter.fill_(1.0)
        for parameter in phi.parameters():
            parameter.fill_(0.0)
    ema_update(phi, theta, decay=0.9)  # 0.9 * 0 + 0.1 * 1
    assert phi.weight[0].tolist() == pytest.approx([0.1, 0.1])
    assert float(phi.bias) == pytest.approx(0.1)


def test_information_gain_baseline_follows_the_policy(bigram):
    model, tokenizer = bigram
    gain = InformationGain(model, tokenizer, target_column="answer", decay=0.5)
    batch = {"prompt": ["b"], "completion": ["a"], "answer": ["b"]}
    gain(batch)  # the baseline is copied now
    with torch.no_grad():
        model.table.add_(1.0)  # a uniform shift: the policy's probabilities are unchanged
        model.table[B, B] += np.log(2.0)  # ... except "b" after "b", now twice as likely
    before = gain(batch).total[0]
    gain.update(batch)
    after = gain(batch).total[0]
    assert after < before  # the baseline moved toward the policy, which now favours "b"


def test_phase_entropy_penalty_by_hand():
    assert phase_entropy_penalty([1.0, 0.6, 9.9, 0.2], delimiter_index=2, alpha=1.0) == (
        pytest.approx(0.8 - 0.2)
    )
    assert phase_entropy_penalty([1.0, 0.5], delimiter_index=None) == pytest.approx(0.75)
    assert phase_entropy_penalty([0.1, 9.0, 0.5], delimiter_index=1) == 0.0  # clipped at 0


def test_pear_reward_by_hand(bigram):
    model, tokenizer = bigram

    @term
    def correct(completion, answer):
        pairs = zip(completion, answer, strict=True)
        return [float(c.split(">")[-1] == a) if ">" in c else None for c, a in pairs]

    pear = PhaseEntropyReward(model, tokenizer, correct, delimiter=">", alpha=0.5)
    batch = {"prompt": ["b", "b", "b"], "completion": ["ab>a", "ab>b", "ab"], "answer": ["a"] * 3}
    out = pear(batch)
    # thinking "ab": H(after b), H(after a); answer "a" after ">": H(after >)
    h0, ha = entropy(Q_DEFAULT), entropy(Q_A)
    penalty = max(0.0, (h0 + ha) / 2 - 0.5 * h0)
    assert out.terms["phase_entropy_penalty"][:2] == pytest.approx([penalty, penalty])
    assert out.total[0] == pytest.approx(1.0 - penalty)
    assert out.total[1] == 0.0  # wrong: the format score
    assert np.isnan(out.total[2]) and out.status[2] == Status.NOT_APPLICABLE  # no answer


def test_flow_token_rewards_and_layers_by_hand():
    rewards = flow_token_rewards([2.0, 4.0, 3.0, 3.8], threshold=0.6, top_k=2, beta=0.1)
    # normalized: 0, 1, 0.5, 0.9 -> keep 1 and 0.9 (top 2 above 0.6)
    assert rewards == pytest.approx([0.0, -0.1, 0.0, -0.09])
    assert flow_token_rewards([1.0, 1.0]).tolist() == [0.0, 0.0]
    assert layer_indices(24, (0.25, 0.5, 0.75)) == (6, 12, 18)
    with pytest.raises(ConfigurationError):
        layer_indices(24, (0.0,))


def test_flow_reward_fits_and_scores(bigram):
    torch.manual_seed(0)
    model, tokenizer = bigram
    flow = FlowReward(model, tokenizer, layers=(1.0,), depth=1, top_k=2)
    batch = {"prompt": ["b"] * 4, "completion": ["ab>a", "ab>b", "aab>b", "ab>ab"]}
    with pytest.raises(ConfigurationError, match="fit"):
        flow(batch)
    first = flow.fit(batch, steps=5, learning_rate=1e-3)["flow_loss"]
    later = flow.fit(batch, steps=400, learning_rate=1e-3)["flow_loss"]
    assert later < first
    out = flow(batch)
    assert out.status.tolist() == [Status.OK] * 4
    assert (out.total <= 0).all() and (out.terms["flow_deviation"] > 0).all()
    kept = [np.count_nonzero(r) for r in flow.token_rewards(batch)]
    assert max(kept) <= 2
    assert flow.update({**batch, "correct": [1, 0, 0, 0]})["flow_refit_rows"] == 1.0


@term
def always_right(completion):
    return [1.0] * len(completion)


def test_every_signal_term_pickles_and_scores_the_same_after(bigram):
    model, tokenizer = bigram
    batch = {"prompt": ["b", "b"], "completion": ["ab>a", "b>b"], "answer": ["a", "b"]}
    flow = FlowReward(model, tokenizer, layers=(1.0,), depth=1)
    flow.fit(batch, steps=3)
    terms = [
        LikelihoodReward(model, tokenizer, delimiter=">"),
        InformationGain(model, tokenizer, target_column="answer"),
        PhaseEntropyReward(model, tokenizer, always_right, delimiter=">"),
        flow,
    ]
    for reward in terms:
        again = pickle.loads(pickle.dumps(reward))
        assert again(batch).total == pytest.approx(reward(batch).total), reward.name


def test_pear_multi_token_delimiter_and_empty_answers(bigram):
    model, tokenizer = bigram
    pear = PhaseEntropyReward(model, tokenizer, always_right, delimiter=">>", alpha=0.5)
    out = pear({"prompt": ["b", "b"], "completion": ["ab>>a", ""]})
    h0, ha = entropy(Q_DEFAULT), entropy(Q_A)
    # ">>" is two tokens, both left out: the answer "a" follows ">" (H0)
    assert out.terms["phase_entropy_penalty"][0] == pytest.approx(max(0.0, (h0 + ha) / 2 - h0 / 2))
    assert phase_entropy_penalty([1.0, 9.0, 9.0, 0.5], 1, 1.0, delimiter_length=2) == 0.5
    assert np.isnan(out.total[1]) and out.status[1] == Status.NOT_APPLICABLE  # right, nothing read

    @term
    def never_right(completion):
        return [0.0] * len(completion)

    wrong = PhaseEntropyReward(model, tokenizer, never_right, delimiter=">", format_score=-0.5)
    assert wrong({"prompt": ["b"], "completion": [""]}).total.tolist() == [-0.5]  # r_fmt


def test_terms_pickle_after_transformers_installed_its_capture_hooks():
    from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2

    tokenizer = build_char_tokenizer("ab>")
    model = build_tiny_gpt2(tokenizer, n_layer=2, n_embd=8, n_head=2).eval()
    flow = FlowReward(model, tokenizer, layers=(0.5, 1.0), depth=1)
    batch = {"prompt": ["a", "b"], "completion": ["ab", "ba"]}
    flow.fit(batch, steps=2)  # output_hidden_states: transformers hooks the model's blocks
    again = pickle.loads(pickle.dumps(flow))
    assert again(batch).total == pytest.approx(flow(batch).total)
    assert flow.model is model  # the term's own model keeps its hooks and works on


def test_flow_update_needs_to_know_the_right_rollouts(bigram):
    model, tokenizer = bigram
    batch = {"prompt": ["b"], "completion": ["ab"]}
    flow = FlowReward(model, tokenizer, layers=(1.0,), depth=1)
    flow.fit(batch, steps=1)
    with pytest.raises(ConfigurationError, match="correct"):
        flow.update(batch)
    assert FlowReward(model, tokenizer, layers=(1.0,), refit_steps=0).update(batch) == {}
    assert flow(dict(batch, completion=[""])).status.tolist() == [Status.NOT_APPLICABLE]
