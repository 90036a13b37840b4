"""Cooper-style online RM updates: pairs by hand, the BT step against a reference, a toy
arithmetic run where the RM learns to rank right answers over corrupted ones, bad input."""

import pickle
import random
import re

import numpy as np
import pytest
import torch

from rewardkit.core import ConfigurationError
from rewardkit.core.errors import BatchError, MissingColumnError
from rewardkit.core.output import Status
from rewardkit.core.term import term
from rewardkit.models import ModelError, PreferenceRewardModel
from rewardkit.models.cooper import (
    MARKERS,
    CooperStyleReward,
    FinalNumberCorruption,
    corrupt_final_number,
    reference_prompt,
    select_positives,
)

ALPHABET = "0123456789+=|>."
SHORT = ("|", ">")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@term(per_sample=True)
def exact(completion, answer):
    """1.0 when the completion is the answer (the rule-based verifier of the toy task)."""
    return float(completion.strip() == str(answer))


@term
def numeric(completion, answer):
    """Numeric equality; NaN where the answer is missing or "9" (a verifier that abstains)."""
    return [None if a in (None, "9") else float(float(c) == float(a))
            for c, a in zip(completion, answer, strict=True)]  # fmt: skip


def tiny(seed=0, n_positions=64):
    return PreferenceRewardModel.tiny(ALPHABET, n_positions=n_positions, seed=seed)


def cooper(rm=None, verifier=exact, corrupt=None, **options):
    options = {"markers": SHORT, "learning_rate": 3e-3, "allow_untrained": True, **options}
    return CooperStyleReward(rm or tiny(), verifier, corrupt or FinalNumberCorruption(1), **options)


def sums_batch(pairs, rng):
    """Two completions per prompt a+b=: the right sum and a wrong one; one group each."""
    batch = {"prompt": [], "completion": [], "answer": [], "group": []}
    for group, (a, b) in enumerate(pairs):
        for completion in (str(a + b), corrupt_final_number(str(a + b), rng)):
            batch["prompt"].append(f"{a}+{b}=")
            batch["completion"].append(completion)
            batch["answer"].append(str(a + b))
            batch["group"].append(group)
    return batch


def held_out_accuracy(reward, pairs):
    """Share of held-out prompts whose right sum the RM scores above a corrupted one."""
    rng = np.random.default_rng(3)
    base = {"prompt": [f"{a}+{b}=" for a, b in pairs], "answer": [str(a + b) for a, b in pairs]}
    right = reward({**base, "completion": [str(a + b) for a, b in pairs]}).total
    wrong = [corrupt_final_number(str(a + b), rng) for a, b in pairs]
    return float(np.mean(right > reward({**base, "completion": wrong}).total))


def weights(rm):
    return {k: v.detach().clone() for k, v in rm.model.state_dict().items()}


def test_scores_are_the_models_scores_of_the_documented_layout():
    rm = tiny()
    reward = cooper(rm, markers=MARKERS)
    batch = {"prompt": ["1+2=", "2+2="], "completion": ["3", "5"], "answer": ["3", 4]}
    expected, _ = rm.score(
        ["1+2=\nReference answer: 3\nResponse: ", "2+2=\nReference answer: 4\nResponse: "],
        ["3", "5"],
    )
    out = reward(batch)
    np.testing.assert_allclose(out.total, expected, rtol=1e-6)
    assert out.ok.all() and out.terms == {"cooper": out.total}
    assert reference_prompt("q", "a", ("<r>", "<c>")) == "q<r>a<c>"


def test_missing_inputs_are_not_applicable_never_zero():
    reward = cooper(tiny(n_positions=16))
    batch = {
        "prompt": ["1+2=", "1+2=", "1+2=", None, "1+2="],
        "completion": ["3", "3", "3", "3", "3" * 20],
        "answer": [None, float("nan"), "", "3", "3"],
    }
    out = reward(batch)
    assert np.isnan(out.total).all()
    assert (out.status == Status.NOT_APPLICABLE).all()
    assert out.messages[:4] == ("no reference answer",) * 3 + ("no prompt",)
    assert out.messages[4].startswith("truncated")
    with pytest.raises(MissingColumnError):
        reward({"prompt": ["1+2="], "completion": ["3"]})


def test_pairs_against_a_hand_computed_case():
    rewrites = {"3": "5", "7": None, "6": "6", "8": "8.0"}
    reward = cooper(verifier=numeric, corrupt=lambda prompt, completion, ref: rewrites[completion])
    batch = {
        "prompt": ["1+2=", "1+2=", "2+2=", "2+2=", "0+1=", "4+5=", "3+4=", "3+3=", "4+4="],
        "completion": ["3", "4", "5", "6", "1", "9", "7", "6", "8"],
        "answer": ["3", "3", "4", "4", None, "9", "7", "6", "8"],
        "group": [0, 0, 1, 1, 2, 3, 4, 5, 6],
    }
    pairs, counts = reward.pairs(batch)
    # group 0: "3" is the one correct, rewritten to "5"; group 1: nothing correct; group 2:
    # no reference; group 3: the verifier abstains (NaN is no positive); group 4: no rewrite;
    # group 5: the rewrite is the positive itself; group 6: the verifier still accepts "8.0"
    assert pairs == [{"prompt": "1+2=|3>", "chosen": "3", "rejected": "5"}]
    assert counts == {"positives": 4.0, "negatives_missing": 2.0, "negatives_rejected": 1.0,
                      "negatives_unchecked": 0.0}  # fmt: skip


def test_select_positives_draws_one_correct_completion_per_group():
    correct, groups = [True, False, True, False, False, True], ["a", "a", "a", "b", "b", "c"]
    draws = {tuple(select_positives(correct, groups, np.random.default_rng(s))) for s in range(20)}
    assert draws == {(0, 5), (2, 5)}
    assert select_positives([False, False], [0, 1], np.random.default_rng(0)) == []
    with pytest.raises(BatchError):
        select_positives([True], [0, 1], np.random.default_rng(0))


def test_update_without_positives_takes_no_step():
    rm = tiny()
    reward = cooper(rm)
    before = weights(rm)
    batch = {"prompt": ["1+2=", "1+2="], "completion": ["4", "5"], "answer": ["3", "3"]}
    assert reward.update(batch) == {
        "pairs": 0.0, "positives": 0.0, "negatives_missing": 0.0, "negatives_rejected": 0.0,
        "negatives_unchecked": 0.0,
    }  # fmt: skip
    assert reward.optimizer is None
    assert all(torch.equal(before[k], v) for k, v in rm.model.state_dict().items())


def test_update_is_one_bradley_terry_step_against_a_reference():
    rm = tiny()
    reward = cooper(rm, corrupt=lambda prompt, completion, ref: str(int(completion) + 1))
    batch = sums_batch([(1, 2), (3, 4), (2, 2), (5, 0)], np.random.default_rng(0))
    pairs, _ = reward.pairs(batch)
    heads = [p["prompt"] for p in pairs]
    r_pos, _ = rm.score(heads, [p["chosen"] for p in pairs])
    r_neg, _ = rm.score(heads, [p["rejected"] for p in pairs])
    expected_loss = np.mean(np.log1p(np.exp(-(r_pos - r_neg))))  # −log σ(r⁺ − r⁻)
    before = weights(rm)
    metrics = reward.update(batch)
    assert metrics["pairs"] == 4.0
    assert metrics["loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert metrics["accuracy"] == pytest.approx(float(np.mean(r_pos > r_neg)))
    assert any(not torch.equal(before[k], v) for k, v in rm.model.state_dict().items())
    optimizer = reward.optimizer
    reward.update(batch)
    assert reward.optimizer is optimizer  # AdamW's moments carry across updates
    assert optimizer.state[next(iter(rm.model.parameters()))]["step"] == 2


def test_pairs_per_update_caps_the_step():
    reward = cooper(pairs_per_update=2)
    batch = sums_batch([(1, 2), (3, 4), (2, 2), (5, 0), (6, 1)], np.random.default_rng(0))
    assert reward.update(batch)["pairs"] == 2.0


def test_online_updates_teach_the_rm_to_rank_right_answers_over_corrupted_ones():
    prompts = [(a, b) for a in range(30) for b in range(30)]
    random.Random(0).shuffle(prompts)
    held_out, train = prompts[:200], prompts[200:]
    rm = PreferenceRewardModel.tiny(ALPHABET, n_layer=1, n_embd=32, seed=0)
    reward = cooper(rm, learning_rate=3e-3)
    before = held_out_accuracy(reward, held_out)
    draw, rng = random.Random(1), np.random.default_rng(2)
    for _ in range(300):
        metrics = reward.update(sums_batch(draw.sample(train, 32), rng))
        assert metrics["pairs"] == 32.0
    after = held_out_accuracy(reward, held_out)
    # from chance to a clear ranking on unseen prompts (seeds 0-4 rise by 0.18 to 0.42)
    assert before < 0.6 and after > max(0.7, before + 0.15)


@pytest.mark.parametrize("text", ["5", "2+3=5, so 5", "x 0 y", "10, 20 and 007.", "-4", "9"])
def test_corrupt_final_number_always_changes_the_last_number(text):
    last = list(re.finditer(r"\d+", text))[-1]
    for seed in range(50):
        out = corrupt_final_number(text, np.random.default_rng(seed))
        assert out is not None and out != text
        assert out.startswith(text[: last.start()]) and out.endswith(text[last.end() :])
        number = out[last.start() : len(out) - (len(text) - last.end())]
        assert number.isdigit() and int(number) != int(last.group())


def test_corrupt_final_number_without_a_number_or_a_string():
    assert corrupt_final_number("no digits here", np.random.default_rng(0)) is None
    assert corrupt_final_number("", np.random.default_rng(0)) is None
    with pytest.raises(BatchError):
        corrupt_final_number(5, np.random.default_rng(0))


def test_bad_settings_are_refused():
    rm = tiny()
    for bad in (0, -1e-3, float("nan"), float("inf"), "1e-3"):
        with pytest.raises(ConfigurationError, match="learning_rate"):
            cooper(rm, learning_rate=bad)
    for bad in (0, 1.5, True):
        with pytest.raises(ConfigurationError, match="pairs_per_update"):
            cooper(rm, pairs_per_update=bad)
    with pytest.raises(ConfigurationError, match="corrupt"):
        CooperStyleReward(rm, exact, "not callable", allow_untrained=True)
    with pytest.raises(ConfigurationError, match="PreferenceRewardModel"):
        CooperStyleReward(rm.model, exact, FinalNumberCorruption(), allow_untrained=True)
    with pytest.raises(ConfigurationError):
        CooperStyleReward(rm, 3, FinalNumberCorruption(), allow_untrained=True)
    with pytest.raises(ModelError, match="untrained"):
        CooperStyleReward(rm, exact, FinalNumberCorruption())
    batch = sums_batch([(1, 2)], np.random.default_rng(0))
    with pytest.raises(BatchError, match="not a string"):
        cooper(rm, corrupt=lambda prompt, completion, ref: 5).update(batch)


def test_pickles_with_its_state():
    reward = cooper()
    batch = sums_batch([(1, 2), (3, 4)], np.random.default_rng(0))
    reward.update(batch)
    copy = pickle.loads(pickle.dumps(reward))
    np.testing.assert_allclose(copy(batch).total, reward(batch).total, rtol=1e-6)
    assert copy.update(batch)["pairs"] == 2.0
