"""Batched, padded completion log-probs against a reference loop over positions, row by row."""

import pytest
import torch

from rewardkit.lm.generation import generate
from rewardkit.lm.logprobs import completion_log_probs
from rewardkit.lm.padding import left_pad
from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2

TOKENIZER = build_char_tokenizer("0123456789+=")


@pytest.fixture(scope="module")
def model():
    return build_tiny_gpt2(TOKENIZER, n_layer=2, n_embd=32, n_head=2, seed=4).eval()


def reference_log_probs(model, prompt, completion, temperature):
    """log π_T(y_t | x, y_<t) one position at a time, each prefix read alone (no padding)."""
    values = []
    for t, token in enumerate(completion):
        prefix = torch.tensor([prompt + completion[:t]])
        with torch.no_grad():
            logits = model(input_ids=prefix).logits[0, -1]
        values.append(float((logits / temperature).log_softmax(-1)[token]))
    return values


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_batched_padded_log_probs_equal_the_reference_loop(model, temperature):
    prompts = [[5, 14, 6, 15], [7], [8, 9, 14]]  # "1+2=", "3", "45+": left padded to 4
    completions = [[9, 10, 2], [4, 4, 4], [11, 2, 0]]  # the last: EOS, then padding
    ids, prompt_attention = left_pad(prompts, TOKENIZER.pad_token_id)
    width = ids.shape[1]
    full = torch.cat([ids, torch.tensor(completions)], dim=1)
    attention = torch.cat([prompt_attention, torch.ones(3, 3, dtype=torch.long)], dim=1)
    with torch.no_grad():
        chosen, log_probs = completion_log_probs(model, full, attention, width, temperature)
    assert tuple(chosen.shape) == (3, 3) and tuple(log_probs.shape) == (3, 3, len(TOKENIZER))
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(3, 3))
    for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
        expected = reference_log_probs(model, prompt, completion, temperature)
        # after an EOS the row's padding is attended; only the tokens through it must match
        kept = completion.index(2) + 1 if 2 in completion else len(completion)
        torch.testing.assert_close(
            chosen[i, :kept], torch.tensor(expected[:kept]), atol=1e-5, rtol=1e-5
        )


def test_the_log_probs_of_a_generation_match_the_reference_loop(model):
    prompts = [[5, 14, 5, 15], [6, 15]]
    torch.manual_seed(0)
    out = generate(model, prompts, pad=0, eos=2, max_new_tokens=5, temperature=0.7, repeat=2)
    with torch.no_grad():
        chosen, _ = completion_log_probs(model, out.ids, out.attention(), out.width, 0.7)
    for row, completion in enumerate(out.completions()):
        kept = completion.index(2) + 1 if 2 in completion else len(completion)
        expected = reference_log_probs(model, prompts[row // 2], completion[:kept], 0.7)
        torch.testing.assert_close(chosen[row, :kept], torch.tensor(expected), atol=1e-5, rtol=0)


def test_gradients_flow_when_the_caller_wants_them(model):
    ids = torch.tensor([[5, 14, 6, 15, 7]])
    chosen, _ = completion_log_probs(model, ids, torch.ones_like(ids), 4)
    chosen.sum().backward()
    assert any(p.grad is not None for p in model.parameters())
    model.zero_grad()
