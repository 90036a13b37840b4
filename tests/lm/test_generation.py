"""generate: the batch's layout, its modes (sampling, greedy, seeds) and its checks."""

import pytest
import torch

from rewardkit.core.errors import ConfigurationError
from rewardkit.lm.generation import Generation, generate
from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2
from rewardkit.lm.tokens import cut_at_eos

TOKENIZER = build_char_tokenizer("0123456789+=")
PAD, EOS = TOKENIZER.pad_token_id, TOKENIZER.eos_token_id


@pytest.fixture(scope="module")
def model():
    return build_tiny_gpt2(TOKENIZER, n_layer=1, n_embd=16, n_head=2, seed=1).eval()


def test_prompts_are_left_padded_and_repeated_prompt_major(model):
    out = generate(model, [[5, 14, 6], [7]], pad=PAD, eos=EOS, max_new_tokens=4, repeat=3, seed=0)
    assert out.width == 3 and out.ids.shape[0] == 6 and out.ids.shape[1] <= 3 + 4
    assert out.ids[:, :3].tolist() == [[5, 14, 6]] * 3 + [[PAD, PAD, 7]] * 3
    assert out.prompt_attention.tolist() == [[1, 1, 1]] * 3 + [[0, 0, 1]] * 3
    assert out.completions() == out.ids[:, 3:].tolist()
    assert out.attention().shape == out.ids.shape and bool(out.attention()[:, 3:].all())


def test_after_an_eos_comes_only_padding(model):
    out = generate(model, [[5]] * 64, pad=PAD, eos=EOS, max_new_tokens=6, seed=3)
    for row in out.completions():
        kept = cut_at_eos(row, EOS)
        if kept and kept[-1] == EOS:
            assert set(row[len(kept) :]) <= {PAD}


def test_a_seed_repeats_a_sample_and_greedy_needs_none(model):
    first = generate(model, [[5, 14]], pad=PAD, eos=EOS, max_new_tokens=5, repeat=8, seed=11)
    again = generate(model, [[5, 14]], pad=PAD, eos=EOS, max_new_tokens=5, repeat=8, seed=11)
    assert torch.equal(first.ids, again.ids)
    greedy = [
        generate(model, [[5, 14]], pad=PAD, eos=EOS, max_new_tokens=5, temperature=None)
        for _ in range(2)
    ]
    assert torch.equal(greedy[0].ids, greedy[1].ids)


def test_greedy_takes_the_argmax(model):
    out = generate(model, [[5, 14, 6]], pad=PAD, eos=EOS, max_new_tokens=1, temperature=None)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[5, 14, 6]])).logits[0, -1]
    assert out.completions()[0][0] == int(logits.argmax())


def test_several_stop_tokens_end_a_row(model):
    out = generate(model, [[5]] * 32, pad=PAD, eos=[EOS, 14], max_new_tokens=8, seed=2)
    for row in out.completions():
        kept = cut_at_eos(row, [EOS, 14])
        assert all(t not in (EOS, 14) for t in kept[:-1])


def test_it_samples_in_eval_mode_and_keeps_the_callers_mode(model):
    seen = []
    model.train()
    hook = model.register_forward_pre_hook(lambda module, args: seen.append(module.training))
    try:
        generate(model, [[5]], pad=PAD, eos=EOS, max_new_tokens=2, seed=0)
    finally:
        hook.remove()
    assert seen and not any(seen) and model.training
    model.eval()


@pytest.mark.parametrize(
    "settings",
    [{"max_new_tokens": 0}, {"repeat": 0}, {"temperature": 0.0}, {"temperature": -1.0}],
)
def test_bad_settings_are_refused(model, settings):
    arguments = {"pad": PAD, "eos": EOS, "max_new_tokens": 3} | settings
    with pytest.raises(ConfigurationError):
        generate(model, [[5]], **arguments)


def test_the_attention_of_a_generation_by_hand():
    out = Generation(torch.tensor([[0, 5, 7, 2], [6, 5, 2, 0]]), torch.tensor([[0, 1], [1, 1]]), 2)
    assert out.completions() == [[7, 2], [2, 0]]
    assert out.attention().tolist() == [[0, 1, 1, 1], [1, 1, 1, 1]]
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    assert out.attention(mask).tolist() == [[0, 1, 1, 1], [1, 1, 1, 0]]
