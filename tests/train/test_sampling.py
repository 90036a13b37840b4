"""Sampling with log-ratios: zero against itself, the k1 KL estimate against another model."""

import numpy as np
import pytest
import torch

from rewardkit.core.errors import CompositionError
from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
from rewardkit.train.sampling import _completion_logprobs, sample_completions


@pytest.fixture(scope="module")
def tiny():
    tokenizer = build_char_tokenizer("0123456789+=")
    return tokenizer, build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, seed=0)


def test_samples_are_prompt_major_and_bounded(tiny):
    tokenizer, model = tiny
    torch.manual_seed(0)
    samples = sample_completions(model, tokenizer, ["1+1=", "22+3="], k=3, max_new_tokens=5)
    assert len(samples.texts) == 6
    assert samples.lengths.max() <= 5 and samples.lengths.min() >= 1
    assert np.isnan(samples.log_ratio).all()  # no reference given
    with pytest.raises(CompositionError):
        sample_completions(model, tokenizer, ["1="], k=0, max_new_tokens=5)


def test_log_ratio_is_the_summed_token_log_ratio_of_each_sample(tiny):
    tokenizer, model = tiny
    other = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, seed=1)
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
        mine = _completion_logprobs(model, ids, attention, width).sum()
        theirs = _completion_logprobs(other, ids, attention, width).sum()
    assert samples.log_ratio[0] == pytest.approx(float(mine - theirs), abs=1e-4)
    assert samples.log_ratio.mean() > 0  # KL(π‖π_ref) > 0 for different models
    same = sample_completions(model, tokenizer, ["12+3="], k=4, max_new_tokens=4, reference=model)
    np.testing.assert_allclose(same.log_ratio, 0.0, atol=1e-5)
