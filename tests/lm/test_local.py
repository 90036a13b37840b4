"""load_causal_lm: a saved folder loads back the same model; GGUF files go through
transformers' ``gguf_file`` and need the gguf package, which is not a dependency."""

import pytest
import torch

from rewardkit.core.errors import ConfigurationError
from rewardkit.lm import local as load_module
from rewardkit.lm.local import gguf_available, load_causal_lm
from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    tokenizer = build_char_tokenizer("0123456789+=")
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, seed=5).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, model, tokenizer


def test_a_saved_folder_loads_back_the_same_model(saved):
    folder, model, tokenizer = saved
    loaded, loaded_tokenizer = load_causal_lm(folder)
    assert not loaded.training
    ids = torch.tensor([tokenizer("12+3=", add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(loaded(input_ids=ids).logits, model(input_ids=ids).logits)
    assert loaded_tokenizer.pad_token_id == tokenizer.pad_token_id
    assert loaded_tokenizer.decode(ids[0].tolist()) == "12+3="


def test_a_tokenizer_without_pad_gets_its_eos(saved, tmp_path):
    _, model, _ = saved
    tokenizer = build_char_tokenizer("0123456789+=")
    tokenizer.pad_token = None
    assert tokenizer.pad_token_id is None
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    _, loaded = load_causal_lm(tmp_path)
    assert loaded.pad_token_id == loaded.eos_token_id == 2


def test_missing_and_unreadable_folders_are_configuration_errors(tmp_path):
    with pytest.raises(ConfigurationError, match="not a folder with a Hugging Face causal LM"):
        load_causal_lm(tmp_path / "none")
    with pytest.raises(ConfigurationError, match="cannot load a causal LM"):
        load_causal_lm(tmp_path)  # a folder, but empty
    with pytest.raises(ConfigurationError, match="is not a GGUF file"):
        load_causal_lm(tmp_path / "model.gguf")


def test_a_gguf_file_without_the_gguf_package_says_what_to_install(tmp_path, monkeypatch):
    (tmp_path / "tiny-q8_0.gguf").write_bytes(b"GGUF")
    monkeypatch.setattr(load_module, "gguf_available", lambda: False)
    for arguments in [(tmp_path / "tiny-q8_0.gguf",), (tmp_path, "tiny-q8_0.gguf")]:
        with pytest.raises(ConfigurationError, match="pip install gguf"):
            load_causal_lm(*arguments)


@pytest.mark.parametrize("by_name", [False, True])
def test_a_gguf_file_is_read_by_transformers_from_its_folder(tmp_path, monkeypatch, by_name):
    import transformers

    (tmp_path / "tiny.gguf").write_bytes(b"GGUF")
    monkeypatch.setattr(load_module, "gguf_available", lambda: True)
    calls = []
    tokenizer = build_char_tokenizer("ab")
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=8, n_head=2)

    def loader(result):
        def from_pretrained(folder, **options):
            calls.append((folder, options))
            return result

        return from_pretrained

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", loader(tokenizer))
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", loader(model))
    if by_name:
        loaded, _ = load_causal_lm(tmp_path, gguf_file="tiny.gguf")
    else:
        loaded, _ = load_causal_lm(tmp_path / "tiny.gguf")
    assert loaded is model and not model.training
    assert calls == [(tmp_path, {"local_files_only": True, "gguf_file": "tiny.gguf"})] * 2


def test_gguf_available_reads_the_installed_version(monkeypatch):
    from importlib import metadata

    def version(name):
        assert name == "gguf"
        return versions.pop(0)

    versions = ["0.9.1", "0.10.0", "0.17.1rc2"]
    monkeypatch.setattr(metadata, "version", version)
    assert [gguf_available() for _ in range(3)] == [False, True, True]

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert gguf_available() is False


def write_gguf(model, tokenizer, path):
    """A float32 GGUF of a tiny GPT-2 and its character vocabulary, laid out as llama.cpp's
    ``convert_hf_to_gguf.py`` writes GPT-2 (Conv1D weights transposed; a byte-level BPE with
    one token per character and no merges tokenizes digits and signs as the character
    tokenizer does)."""
    import gguf
    import numpy as np

    config = model.config
    writer = gguf.GGUFWriter(str(path), "gpt2")
    writer.add_context_length(config.n_positions)
    writer.add_embedding_length(config.n_embd)
    writer.add_feed_forward_length(4 * config.n_embd)
    writer.add_block_count(config.n_layer)
    writer.add_head_count(config.n_head)
    writer.add_layer_norm_eps(config.layer_norm_epsilon)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    tokens = sorted(tokenizer.get_vocab(), key=tokenizer.get_vocab().get)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types(
        [gguf.TokenType.CONTROL] * 4 + [gguf.TokenType.NORMAL] * (len(tokens) - 4)
    )
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_merges([])
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_unk_token_id(tokenizer.unk_token_id)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GPT2, config.n_layer)
    for name, tensor in model.state_dict().items():
        data = tensor.numpy().astype(np.float32)
        if name.endswith((".c_attn.weight", ".c_proj.weight", ".c_fc.weight")):
            data = data.T
        gguf_name = (
            "output.weight"
            if name == "lm_head.weight"
            else names.get_name(name, try_suffixes=(".weight", ".bias"))
        )
        writer.add_tensor(gguf_name, np.ascontiguousarray(data))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_a_real_gguf_file_loads_the_same_model(tmp_path):
    pytest.importorskip("gguf", reason="the GGUF path needs the optional gguf package")
    tokenizer = build_char_tokenizer("0123456789+=")
    # transformers reads a GPT-2 GGUF's position table as 1024 rows, GPT-2's own size
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, n_positions=1024, seed=3)
    write_gguf(model.eval(), tokenizer, tmp_path / "tiny-f32.gguf")
    loaded, loaded_tokenizer = load_causal_lm(tmp_path / "tiny-f32.gguf")
    ids = tokenizer("12+3=", add_special_tokens=False)["input_ids"]
    assert loaded_tokenizer("12+3=", add_special_tokens=False)["input_ids"] == ids
    assert loaded_tokenizer.pad_token_id == 0 and loaded_tokenizer.eos_token_id == 2
    with torch.no_grad():
        expected = model(input_ids=torch.tensor([ids])).logits
        torch.testing.assert_close(loaded(input_ids=torch.tensor([ids])).logits, expected)
