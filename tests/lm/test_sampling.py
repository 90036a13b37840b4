"""sample_completions: cut, decoded, seeded; the names steering imports are the same objects."""

import numpy as np
import torch

import rewardkit.steer.sampling as steer_sampling
from rewardkit import lm
from rewardkit.lm.sampling import sample_completions
from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2
from rewardkit.lm.tokens import decode

TOKENIZER = build_char_tokenizer("0123456789+=")
EOS = TOKENIZER.eos_token_id


def test_samples_are_cut_at_eos_and_decoded():
    model = build_tiny_gpt2(TOKENIZER, n_layer=1, n_embd=16, n_head=2, seed=2)
    samples = sample_completions(model, TOKENIZER, ["1+1=", "2="], k=8, max_new_tokens=6, seed=0)
    assert len(samples.ids) == len(samples.texts) == len(samples.lengths) == 16
    for ids, text, length in zip(samples.ids, samples.texts, samples.lengths, strict=True):
        assert len(ids) == length and 1 <= length <= 6
        assert EOS not in ids[:-1]  # through the first EOS at most
        assert text == decode(TOKENIZER, ids)


def test_a_seed_repeats_the_samples_and_batches_do_not_change_them():
    model = build_tiny_gpt2(TOKENIZER, n_layer=1, n_embd=16, n_head=2, seed=2)
    prompts = ["1+1=", "22+3=", "4="]
    first = sample_completions(model, TOKENIZER, prompts, k=3, max_new_tokens=5, seed=9)
    torch.manual_seed(9)  # seed= seeds torch's generator once, as seeding it by hand does
    again = sample_completions(model, TOKENIZER, prompts, k=3, max_new_tokens=5)
    assert first.ids == again.ids
    np.testing.assert_array_equal(first.lengths, again.lengths)


def test_steering_imports_the_same_sampler():
    assert steer_sampling.sample_completions is lm.sample_completions
    assert steer_sampling.completion_log_probs is lm.completion_log_probs
    assert steer_sampling.Samples is lm.Samples


def test_importing_lm_imports_neither_torch_nor_transformers():
    import subprocess
    import sys

    code = "import sys, rewardkit.lm; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
