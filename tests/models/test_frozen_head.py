"""FrozenHeadRewardModel: features equal a one-text-at-a-time reference loop, the
Bradley–Terry head finds a separating direction, save/load keeps the scores, bad input is
refused; on SmolLM2, the backbone loads by name and never changes."""

import numpy as np
import pytest
import torch

from rewardkit.core.errors import ConfigurationError
from rewardkit.models import FrozenHeadRewardModel, ModelError, load_saved_model
from rewardkit.models.term import RewardModelTerm


@pytest.fixture(scope="module")
def tiny():
    return FrozenHeadRewardModel.tiny("0123456789+=", seed=1)


def reference_features(model, prompt, completion):
    """φ by hand: one unpadded text, the layer's EOS state and its completion mean."""
    tokenizer = model.tokenizer
    head = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    body = tokenizer(completion, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([[*head, *body, tokenizer.eos_token_id]])
    with torch.no_grad():
        hidden = model.model(input_ids=ids, output_hidden_states=True).hidden_states[-1][0]
    return torch.cat([hidden[-1], hidden[len(head) :].mean(0)]).numpy()


def test_batched_padded_features_equal_the_reference_loop(tiny):
    prompts, completions = ["1+1=", "12+30=", "7="], ["2", "42", "70000"]
    features, truncated = tiny.features(prompts, completions, batch_size=2)
    assert features.shape == (3, 2 * 32) and not truncated.any()
    for row, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
        expected = reference_features(tiny, prompt, completion)
        np.testing.assert_allclose(features[row], expected, atol=1e-5)


def test_the_head_learns_a_direction_that_separates_the_pairs():
    model = FrozenHeadRewardModel.tiny("01", seed=0, n_embd=16)
    rng = np.random.default_rng(0)
    rejected = rng.normal(size=(200, 32))
    direction = rng.normal(size=32)
    chosen = rejected + 0.5 * direction + 0.1 * rng.normal(size=(200, 32))
    metrics = model.fit_features(chosen, rejected)
    assert metrics["train_accuracy"] == 1.0 and model.trained
    held_out = rng.normal(size=(50, 32))
    assert (model.score_features(held_out + 0.5 * direction) > model.score_features(held_out)).all()


def test_a_saved_head_loads_back_with_the_same_scores(tiny, tmp_path):
    pairs = [{"prompt": f"{a}+{a}=", "chosen": str(2 * a), "rejected": str(2 * a + 1)}
             for a in range(6)]  # fmt: skip
    tiny.fit(pairs)
    before, _ = tiny.score(["3+3="], ["6"])
    loaded = load_saved_model(tiny.save(tmp_path / "rm"))
    assert isinstance(loaded, FrozenHeadRewardModel) and loaded.trained
    after, _ = loaded.score(["3+3="], ["6"])
    np.testing.assert_allclose(after, before)
    term = RewardModelTerm(path=str(tmp_path / "rm"))
    scores = term({"prompt": ["3+3="], "completion": ["6"]}).total
    np.testing.assert_allclose(scores, before)


def test_bad_input_is_refused_by_name(tiny, tmp_path):
    with pytest.raises(ConfigurationError, match="2 prompts for 1 completions"):
        tiny.features(["a", "b"], ["1"])
    with pytest.raises(ConfigurationError, match="at least one preference pair"):
        tiny.fit([])
    with pytest.raises(ConfigurationError, match="two equal"):
        tiny.fit_features(np.zeros((2, 4)), np.zeros((3, 4)))
    with pytest.raises(ModelError, match="NaN or infinite"):
        tiny.fit_features(np.full((2, 4), np.nan), np.zeros((2, 4)))
    with pytest.raises(ConfigurationError, match="l2 must be finite"):
        tiny.fit_features(np.ones((2, 4)), np.zeros((2, 4)), l2=-1.0)
    with pytest.raises(ModelError, match="no saved frozen-head"):
        FrozenHeadRewardModel.load(tmp_path)


def test_long_texts_keep_their_end_and_say_so():
    model = FrozenHeadRewardModel.tiny("01", seed=0, n_embd=16)
    model.max_length = 8
    _, truncated = model.features(["0101010101"], ["1"])
    assert truncated.tolist() == [True]


@pytest.mark.real_model
def test_a_head_on_smollm2_names_its_backbone_and_leaves_it_frozen(smollm2, tmp_path):
    backbone, tokenizer = smollm2
    model = FrozenHeadRewardModel(backbone, tokenizer, backbone="smollm2-135m-instruct")
    before = {name: p.clone() for name, p in list(backbone.named_parameters())[:3]}
    pairs = [{"prompt": "2 + 2 =", "chosen": "4", "rejected": "5"},
             {"prompt": "3 + 1 =", "chosen": "4", "rejected": "7"}]  # fmt: skip
    metrics = model.fit(pairs)
    assert metrics["pairs"] == 2.0
    assert all(torch.equal(p, before[name]) for name, p in list(backbone.named_parameters())[:3])
    model.save(tmp_path / "rm")
    assert not (tmp_path / "rm" / "backbone").exists()  # named, not copied


def test_the_same_pass_gives_each_completions_mean_log_prob(tiny):
    from rewardkit.models.frozen_head import hidden_features

    prompts, completions = ["1+1=", "12+30="], ["2", "4200"]
    found = hidden_features(tiny.model, tiny.tokenizer, prompts, completions, [-1], 64,
                            batch_size=2, log_probs=True)  # fmt: skip
    bare = hidden_features(tiny.model, tiny.tokenizer, prompts, completions, [-1], 64)
    np.testing.assert_allclose(found.by_layer[-1], bare.by_layer[-1], atol=1e-5)
    assert bare.mean_log_prob is None
    tokenizer = tiny.tokenizer
    for row, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
        head = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        body = [
            *tokenizer(completion, add_special_tokens=False)["input_ids"],
            tokenizer.eos_token_id,
        ]
        ids = torch.tensor([[*head, *body]])
        with torch.no_grad():
            steps = tiny.model(input_ids=ids).logits[0].log_softmax(-1)
        expected = np.mean([float(steps[len(head) + t - 1, token]) for t, token in enumerate(body)])
        assert found.mean_log_prob[row] == pytest.approx(expected, abs=1e-5)


def test_a_layer_the_model_lacks_is_refused_before_any_pass(tiny):
    from rewardkit.models.frozen_head import hidden_features

    with pytest.raises(ConfigurationError, match="layer 7 is out of range"):
        FrozenHeadRewardModel(tiny.model, tiny.tokenizer, layer=7)
    with pytest.raises(ConfigurationError, match="max_length must be at least 2"):
        hidden_features(tiny.model, tiny.tokenizer, ["1"], ["2"], [-1], max_length=1)
    assert FrozenHeadRewardModel(tiny.model, tiny.tokenizer, layer=-3).layer == -3
