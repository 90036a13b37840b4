"""Sampling with log-ratios: zero against itself, the k1 KL estimate against another model."""

import numpy as np
import pytest
import torch

from rewardkit.core.errors import ConfigurationError
from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
from rewardkit.steer.sampling import completion_log_probs, sample_completions


@pytest.fixture(scope="module")
def tiny():
    tokenizer = build_char_tokenizer("0123456789+=")
    return tokenizer, build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, seed=0).eval()


def test_samples_are_prompt_major_and_bounded(tiny):
    tokenizer, model = tiny
    torch.manual_seed(0)
    samples = sample_completions(model, tokenizer, ["1+1=", "22+3="], k=3, max_new_tokens=5)
    assert len(samples.texts) == 6
    assert samples.lengths.max() <= 5 and samples.lengths.min() >= 1
    assert np.isnan(samples.log_ratio).all()  # no reference given
    with pytest.raises(ConfigurationError):
        sample_completions(model, tokenizer, ["1="], k=0, max_new_tokens=5)


def test_log_ratio_is_the_summed_token_log_ratio_of_each_sample(tiny):
    tokenizer, model = tiny
    other = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, seed=1).eval()
    torch.manual_seed(3)
    samples = sample_completions(
        model, tokenizer, ["12+3="], k=64, max_new_tokens=4, reference=other
    )
    prompt = tokenizer("12+3=", add_special_tokens=False)["input_ids"]
    # recompute the first sample's log-ratio by hand, token by token
    completion = samples.ids[0]
    assert len(completion) == samples.lengths[0]
    ids = torch.tensor([prompt + completion])
    attention = torch.ones_like(ids)
    width = len(prompt)
    with torch.no_grad():
        mine = completion_log_probs(model, ids, attention, width)[0].sum()
        theirs = completion_log_probs(other, ids, attention, width)[0].sum()
    assert samples.log_ratio[0] == pytest.approx(float(mine - theirs), abs=1e-4)
    assert samples.log_ratio.mean() > 0  # KL(π‖π_ref) > 0 for different models
    same = sample_completions(model, tokenizer, ["12+3="], k=4, max_new_tokens=4, reference=model)
    np.testing.assert_allclose(same.log_ratio, 0.0, atol=1e-5)


def test_left_padded_prompts_get_the_log_ratio_they_would_get_alone(tiny):
    tokenizer, model = tiny
    other = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, seed=1).eval()
    prompts = ["1=", "123+456+789="]  # the short one is left padded in the batch
    torch.manual_seed(5)
    samples = sample_completions(model, tokenizer, prompts, k=3, max_new_tokens=4, reference=other)
    for index in range(6):
        prompt = tokenizer(prompts[index // 3], add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt + samples.ids[index]])
        attention = torch.ones_like(ids)
        with torch.no_grad():
            alone = (
                completion_log_probs(model, ids, attention, len(prompt))[0].sum()
                - completion_log_probs(other, ids, attention, len(prompt))[0].sum()
            )
        assert samples.log_ratio[index] == pytest.approx(float(alone), abs=1e-4)


def test_the_log_ratio_is_read_at_the_sampling_temperature_and_training_mode_is_kept(tiny):
    tokenizer, model = tiny
    other = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, seed=1).eval()
    model.train()
    torch.manual_seed(2)
    samples = sample_completions(
        model, tokenizer, ["7+8="], k=2, max_new_tokens=3, temperature=0.5, reference=other
    )
    assert model.training
    model.eval()
    prompt = tokenizer("7+8=", add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt + samples.ids[0]])
    attention = torch.ones_like(ids)
    with torch.no_grad():
        tempered = (
            completion_log_probs(model, ids, attention, len(prompt), 0.5)[0].sum()
            - completion_log_probs(other, ids, attention, len(prompt), 0.5)[0].sum()
        )
    assert samples.log_ratio[0] == pytest.approx(float(tempered), abs=1e-4)
