"""FrozenHeadProcessRewardModel: step features equal a one-prefix-at-a-time reference loop,
the step count follows the token blocks, the logistic head solves its penalized BCE, save and
load keep the scores, and ProcessRewardTerm judges a prefix without its EOS (the separator
PRM still judges one up to its last separator)."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import Status
from rewardkit.models import (
    FrozenHeadProcessRewardModel,
    ModelError,
    ProcessRewardModel,
    ProcessRewardTerm,
    load_saved_model,
)
from rewardkit.models.base import saved_kind
from rewardkit.models.frozen_process import LogisticHead, step_features

ALPHABET = "0123456789+="
STEP = 3


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def fresh(layer=-1, seed=1):
    return FrozenHeadProcessRewardModel.tiny(ALPHABET, step_tokens=STEP, seed=seed, layer=layer)


def labelled(model, count=12):
    """Examples with one label per step of the finished completion (alternating 0 and 1)."""
    rows = []
    for a in range(count):
        completion = str(a * 37)
        steps = model.step_count(completion)
        rows.append({"prompt": f"{a}+{a}=", "completion": completion,
                     "labels": [float((a + k) % 2) for k in range(steps)]})  # fmt: skip
    return rows


@pytest.fixture(scope="module")
def trained():
    model = fresh()
    model.fit(labelled(model))
    return model


def reference_step_features(model, prompt, completion, finished):
    """φ_k by hand: per step, the backbone alone on prompt + the completion's first k·STEP
    tokens (+ EOS ending a finished text), unpadded; its last state and completion mean."""
    tokenizer = model.tokenizer
    head = tokenizer(prompt, add_special_tokens=False)["input_ids"] if prompt else []
    body = tokenizer(completion, add_special_tokens=False)["input_ids"]
    tokens = [*body, tokenizer.eos_token_id] if finished else body
    rows = []
    for end in range(STEP, len(tokens) + STEP, STEP):  # ceil(len / STEP) blocks
        ids = torch.tensor([[*head, *tokens[: min(end, len(tokens))]]])
        with torch.no_grad():
            hidden = model.model(input_ids=ids, output_hidden_states=True).hidden_states
        states = hidden[model.layer][0].double()
        rows.append(torch.cat([states[-1], states[len(head) :].mean(0)]).numpy())
    return np.array(rows).reshape(len(rows), 2 * model.model.config.hidden_size)


PROMPTS = ["1+1=", "12+30=", "7=", "3=", "", "9+9=", "", "4+4="]
COMPLETIONS = ["2", "42", "7000000", "", "123", "", "", "88+8"]
FINISHED = [True, False, True, True, False, False, True, True]


@pytest.mark.parametrize(("layer", "batch_size"), [(-1, 16), (-1, 2), (1, 3), (0, 1)])
def test_padded_step_features_equal_the_reference_loop(layer, batch_size):
    model = fresh(layer=layer)
    features, truncated = step_features(
        model.model, model.tokenizer, PROMPTS, COMPLETIONS, FINISHED, layer, STEP,
        model.max_length, batch_size,
    )  # fmt: skip
    assert not truncated.any() and len(features) == len(COMPLETIONS)
    cases = zip(PROMPTS, COMPLETIONS, FINISHED, strict=True)
    for row, (prompt, completion, done) in enumerate(cases):
        expected = reference_step_features(model, prompt, completion, done)
        assert features[row].shape == expected.shape, (row, completion, done)
        assert np.allclose(features[row], expected, atol=1e-5), (row, completion, done)
    # the empty finished completions are one EOS step; the empty unfinished ones have none
    assert [len(f) for f in features] == [1, 1, 3, 1, 1, 0, 1, 2]


def test_a_batch_without_any_token_gives_no_rows_and_none_is_the_empty_prompt():
    model = fresh()
    features, truncated = model.features(None, ["", ""], finished=[False, False])
    assert [f.shape for f in features] == [(0, 64), (0, 64)] and truncated.tolist() == [0, 0]
    bare, _ = model.features(None, ["1234"], finished=[False])
    empty, _ = model.features([""], ["1234"], finished=[False])
    np.testing.assert_array_equal(bare[0], empty[0])
    np.testing.assert_allclose(bare[0], reference_step_features(model, "", "1234", False),
                               atol=1e-5)  # fmt: skip


# tokens → (steps unfinished, steps finished) for blocks of 3: ceil(n / 3), ceil((n + 1) / 3)
STEP_COUNTS = {0: (0, 1), 1: (1, 1), 2: (1, 1), 3: (1, 2), 4: (2, 2), 5: (2, 2), 6: (2, 3),
               7: (3, 3), 9: (3, 4), 10: (4, 4)}  # fmt: skip


@pytest.mark.parametrize(("length", "expected"), STEP_COUNTS.items())
def test_step_counts_follow_the_token_blocks(length, expected):
    model = fresh()
    text = "1" * length
    assert (model.step_count(text, finished=False), model.step_count(text)) == expected
    features, _ = model.features(None, [text, text], finished=[False, True])
    assert (len(features[0]), len(features[1])) == expected


def test_step_prefixes_end_at_each_block_but_the_last():
    model = fresh()
    assert model.step_prefixes("1234567") == ["123", "123456"]
    assert model.step_prefixes("123456") == ["123", "123456"]  # the EOS is the last step
    assert model.step_prefixes("12") == []


def bce_gradient(head, features, targets, l2):
    """∇ of mean BCE(σ(z·w + b), y) + λ‖w‖² in (w, b), z the head's standardized rows."""
    z = (features - head.center) / head.spread
    residual = 1.0 / (1.0 + np.exp(-(z @ head.weights + head.bias))) - targets
    return np.append(z.T @ residual / len(targets) + 2 * l2 * head.weights, residual.mean())


def test_the_head_separates_separable_data():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 4))
    margin = features[:, 0] + 0.5 * features[:, 1]
    features, margin = features[np.abs(margin) > 0.3], margin[np.abs(margin) > 0.3]
    head = LogisticHead.untrained(4)
    metrics = head.fit(features, (margin > 0).astype(float), l2=1e-3)
    assert metrics["train_accuracy"] == 1.0 and metrics["rows"] == len(features)
    assert ((head.score(features) > 0.5) == (margin > 0)).all()
    assert head.weights[0] > 0 and head.weights[1] > 0
    assert abs(head.weights[0]) > max(abs(head.weights[2]), abs(head.weights[3]))


def test_soft_targets_of_a_logistic_model_give_back_its_parameters():
    rng = np.random.default_rng(1)
    raw = rng.normal(size=(400, 3)) * [1.0, 3.0, 0.5] + [2.0, -1.0, 0.0]
    features = (raw - raw.mean(0)) / raw.std(0)  # already standardized: the head's z is itself
    w_true, b_true = np.array([1.5, -0.7, 0.3]), -0.4
    targets = 1.0 / (1.0 + np.exp(-(features @ w_true + b_true)))
    head = LogisticHead.untrained(3)
    metrics = head.fit(features, targets, l2=0.0)
    # cross-entropy against the model's own probabilities is least at the true parameters
    np.testing.assert_allclose(head.weights, w_true, atol=1e-4)
    assert head.bias == pytest.approx(b_true, abs=1e-4)
    entropy = -np.mean(targets * np.log(targets) + (1 - targets) * np.log(1 - targets))
    assert metrics["train_loss"] == pytest.approx(entropy, abs=1e-7)
    np.testing.assert_allclose(head.score(features), targets, atol=1e-4)


@pytest.mark.parametrize("l2", [0.0, 1e-2, 0.5])
def test_the_fitted_head_is_a_stationary_point_of_the_penalized_bce(l2):
    rng = np.random.default_rng(2)
    features = rng.normal(size=(150, 5)) * [1.0, 2.0, 0.1, 5.0, 1.0] + 3.0
    targets = np.clip(rng.uniform(size=150) * 0.6 + 0.4 * (features[:, 0] > 3.0), 0, 1)
    head = LogisticHead.untrained(5)
    metrics = head.fit(features, targets, l2=l2)
    np.testing.assert_allclose(head.center, features.mean(0))
    np.testing.assert_allclose(head.spread, features.std(0), rtol=1e-5)
    # L-BFGS stops near 1e-6 (its loss-change tolerance); 0.01 off the solution it is ~1e-3
    assert np.abs(bce_gradient(head, features, targets, l2)).max() < 2e-5
    nudged = replace(head, weights=head.weights + 0.01)
    assert np.abs(bce_gradient(nudged, features, targets, l2)).max() > 1e-3
    p = head.score(features)
    loss = -np.mean(targets * np.log(p) + (1 - targets) * np.log(1 - p))
    assert metrics["train_loss"] == pytest.approx(loss, rel=1e-9)
    assert metrics["train_accuracy"] == pytest.approx(np.mean((p > 0.5) == (targets > 0.5)))
    if l2 > 0:  # a stronger penalty shrinks w
        weaker = LogisticHead.untrained(5)
        weaker.fit(features, targets, l2=l2 / 10)
        assert np.linalg.norm(head.weights) < np.linalg.norm(weaker.weights)


def test_an_untrained_head_says_one_half():
    head = LogisticHead.untrained(3)
    np.testing.assert_array_equal(head.score(np.arange(6.0).reshape(2, 3)), [0.5, 0.5])


def test_the_head_refuses_bad_input_by_name():
    head = LogisticHead.untrained(2)
    good = np.ones((3, 2))
    with pytest.raises(ConfigurationError, match=r"need \(N, D\)"):
        head.fit(np.ones(3), np.zeros(3))
    with pytest.raises(ConfigurationError, match=r"need \(N, D\)"):
        head.fit(good, np.zeros(2))
    with pytest.raises(ConfigurationError, match=r"need \(N, D\)"):
        head.fit(np.ones((0, 2)), np.zeros(0))
    for bad in ([0.0, 1.5, 0.0], [0.0, -0.1, 1.0], [0.0, np.nan, 1.0]):
        with pytest.raises(ConfigurationError, match=r"in \[0, 1\]"):
            head.fit(good, np.array(bad))
    for value in (np.nan, np.inf):
        features = good.copy()
        features[1, 0] = value
        with pytest.raises(ModelError, match="NaN or infinite"):
            head.fit(features, np.zeros(3))
    for l2 in (-1e-3, np.nan):
        with pytest.raises(ConfigurationError, match="l2 must be finite"):
            head.fit(good, np.zeros(3), l2=l2)
    np.testing.assert_array_equal(head.weights, [0.0, 0.0])  # nothing was fitted


def test_fit_matches_labels_to_steps_and_skips_nan_labels():
    model = fresh()
    rows = labelled(model, count=10)
    with pytest.raises(ConfigurationError, match="example 3: 1 labels for 2 steps"):
        model.fit([*rows[:3], {**rows[3], "labels": [1.0]}, *rows[4:]])
    assert not model.trained
    rows[0]["labels"] = [np.nan] * len(rows[0]["labels"])
    rows[3]["labels"] = [np.nan, *rows[3]["labels"][1:]]
    unlabelled = len(rows[0]["labels"]) + 1
    metrics = model.fit(rows, l2=0.1)
    assert model.trained and metrics["unlabelled_steps"] == unlabelled
    total = sum(len(row["labels"]) for row in rows)
    assert metrics["rows"] == total - unlabelled
    # the same head as one fitted on the labelled steps' features alone
    features, _ = model.features([r["prompt"] for r in rows], [r["completion"] for r in rows])
    stacked = np.concatenate(features)
    targets = np.concatenate([r["labels"] for r in rows])
    known = ~np.isnan(targets)
    alone = LogisticHead.untrained(stacked.shape[1])
    alone.fit(stacked[known], targets[known], l2=0.1)
    np.testing.assert_allclose(model.head.weights, alone.weights, atol=1e-8)
    assert model.head.bias == pytest.approx(alone.bias, abs=1e-8)


def test_fit_features_needs_a_labelled_step():
    model = fresh()
    features = [np.ones((2, 64)), np.zeros((0, 64))]
    with pytest.raises(ConfigurationError, match="no labelled step"):
        model.fit_features(features, [np.array([np.nan, np.nan]), np.array([])])
    with pytest.raises(ConfigurationError, match="no labelled step"):
        model.fit_features([], [])
    with pytest.raises(ConfigurationError, match="2 feature sets for 1 label sets"):
        model.fit_features(features, [np.array([1.0, 0.0])])
    assert not model.trained


def test_a_saved_model_loads_back_with_the_same_step_scores(tmp_path):
    model = fresh(layer=1)
    model.fit(labelled(model))
    prompts, completions = ["5+5=", "1="], ["10", "2222222"]
    before = model.step_scores(prompts, completions)[0]
    before_partial = model.step_scores(prompts, completions, [False, False])[0]
    folder = model.save(tmp_path / "prm")
    assert saved_kind(folder) is FrozenHeadProcessRewardModel
    loaded = load_saved_model(folder)
    assert type(loaded) is FrozenHeadProcessRewardModel and loaded.trained
    assert (loaded.layer, loaded.step_tokens) == (1, STEP) and loaded.metrics == model.metrics
    after = loaded.step_scores(prompts, completions)[0]
    after_partial = loaded.step_scores(prompts, completions, [False, False])[0]
    for found, expected in zip([*after, *after_partial], [*before, *before_partial], strict=True):
        np.testing.assert_allclose(found, expected, rtol=1e-12)
    assert not FrozenHeadProcessRewardModel.load(fresh().save(tmp_path / "raw")).trained
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no saved frozen-head process"):
        FrozenHeadProcessRewardModel.load(tmp_path / "empty")


BATCH = {
    "prompt": ["1+1=", "1+1=", "12+3=", "12+3=", "7=", "7=", "2="],
    "completion": ["123", "123", "15+0", "15+0", "", "", "4444444"],
    "partial": [True, False, True, False, True, False, False],
}
AGGREGATES = {"min": np.min, "product": np.prod, "last": lambda s: s[-1]}


@pytest.mark.parametrize("how", AGGREGATES)
def test_the_term_judges_a_prefix_without_its_eos(trained, how):
    out = ProcessRewardTerm(model=trained, aggregate=how)(BATCH)
    for row, (prompt, text, partial) in enumerate(zip(*BATCH.values(), strict=True)):
        scores = trained.step_scores([prompt], [text], finished=[not partial])[0][0]
        assert out.terms["process_reward/steps"][row] == len(scores)
        if len(scores):
            assert out.status[row] == Status.OK
            # one text alone, or padded in the batch: float32 noise only
            assert out.total[row] == pytest.approx(AGGREGATES[how](scores), rel=1e-5)
        else:
            assert row == 4 and out.status[row] == Status.NOT_APPLICABLE
            assert np.isnan(out.total[row]) and out.messages[row] == "no steps"
    # a complete text has one more step (its EOS) than the same prefix of 3 tokens
    assert out.terms["process_reward/steps"][:2].tolist() == [1.0, 2.0]
    assert out.status[5] == Status.OK  # an empty finished text is judged on its EOS
    assert not np.isclose(out.total[0], out.total[1]) or how == "min"
    # without a partial column every row is complete
    complete = {"prompt": BATCH["prompt"], "completion": BATCH["completion"]}
    whole = ProcessRewardTerm(model=trained, aggregate=how)(complete)
    np.testing.assert_allclose(whole.total[:4], out.total[[1, 1, 3, 3]], rtol=1e-5)
    assert whole.status[4] == Status.OK


def test_an_untrained_model_is_refused_unless_allowed():
    model = fresh()
    with pytest.raises(ModelError, match="untrained"):
        ProcessRewardTerm(model=model)
    out = ProcessRewardTerm(model=model, aggregate="product", allow_untrained=True)(BATCH)
    steps = out.terms["process_reward/steps"]
    assert steps.tolist() == [1, 2, 2, 2, 0, 1, 3]
    expected = np.where(steps > 0, 0.5**steps, np.nan)  # w = 0, b = 0: every step scores 1/2
    np.testing.assert_allclose(out.total, expected)


def test_the_term_loads_a_saved_frozen_head_prm(trained, tmp_path):
    folder = trained.save(tmp_path / "prm")
    term = ProcessRewardTerm(path=folder, aggregate="last")
    from_path = term(BATCH)
    assert isinstance(term.model, FrozenHeadProcessRewardModel)
    in_memory = ProcessRewardTerm(model=trained, aggregate="last")(BATCH)
    np.testing.assert_allclose(from_path.total, in_memory.total, rtol=1e-12)
    np.testing.assert_array_equal(from_path.status, in_memory.status)
    per_step, _ = term.step_scores(BATCH)  # finished scores, as the model gives them
    finished, _ = trained.step_scores(BATCH["prompt"], BATCH["completion"])
    for found, expected in zip(per_step, finished, strict=True):
        np.testing.assert_allclose(found, expected, rtol=1e-12)


def test_a_truncated_text_is_not_applicable_unless_scored():
    model = fresh()
    model.trained = True
    model.max_length = 6
    batch = {"prompt": ["1+1="], "completion": ["22222"], "partial": [False]}
    _, truncated = model.step_scores(batch["prompt"], batch["completion"])
    assert truncated.tolist() == [True]
    skipped = ProcessRewardTerm(model=model)(batch)
    assert skipped.status.tolist() == [Status.NOT_APPLICABLE] and skipped.messages[0]
    assert ProcessRewardTerm(model=model, on_truncation="score")(batch).status.tolist() == [0]


def test_the_separator_prm_judges_a_prefix_up_to_its_last_separator():
    prm = ProcessRewardModel.tiny("cw", separator=",", seed=0, n_layer=1, n_embd=32)
    texts = ["c,w,c", "c,w,", "c", "c,w,c", ""]
    partial = np.array([True, True, True, False, False])
    judged, _ = prm.judged_step_scores(None, texts, partial)
    (two, three), _ = prm.step_scores(None, ["c,w,", "c,w,c"])
    assert [len(s) for s in judged] == [2, 2, 0, 3, 0]
    np.testing.assert_allclose(judged[0], two, rtol=1e-6)
    np.testing.assert_allclose(judged[1], two, rtol=1e-6)
    np.testing.assert_allclose(judged[3], three, rtol=1e-6)
    np.testing.assert_allclose(three[:2], two, rtol=1e-6)  # step k reads only steps ≤ k


def test_fit_features_refuses_a_set_whose_rows_and_labels_differ():
    model = fresh()
    with pytest.raises(ConfigurationError, match="set 0: 3 steps of features but 2 labels"):
        model.fit_features([np.ones((3, 64))], [np.array([1.0, 0.0])])
    assert not model.trained
