"""The tiny model the steering tests share."""

import pytest
import torch

from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2


@pytest.fixture(scope="module")
def tiny():
    """A 6-token vocabulary (pad, bos, eos, unk, a, b) and a small random GPT-2."""
    tokenizer = build_char_tokenizer("ab")
    torch.manual_seed(0)
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, seed=3).eval()
    with torch.no_grad():  # sharpen it a little so that sequences differ in probability
        model.lm_head.weight.mul_(8.0)
    return tokenizer, model
