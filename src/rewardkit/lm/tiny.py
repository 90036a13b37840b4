"""Tiny causal LMs built from scratch: a character tokenizer and a small GPT-2.

Nothing is downloaded: the tokenizer is built with ``tokenizers`` from an
alphabet, the model from a ``transformers`` config. Any pretrained causal LM
and tokenizer can replace them where the caller accepts a model and a
tokenizer (:func:`rewardkit.lm.local.load_causal_lm` loads one from local files).

Example:
    >>> tokenizer = build_char_tokenizer("0123456789+=")
    >>> tokenizer("12+3")["input_ids"]
    [5, 6, 14, 7]
    >>> tokenizer.decode([5, 6, 14, 7])
    '12+3'
    >>> model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=32, n_head=2)
    >>> sum(p.numel() for p in model.parameters()) < 100_000
    True
"""

from __future__ import annotations

from typing import Any

__all__ = ["SPECIAL_TOKENS", "build_char_tokenizer", "build_tiny_gpt2"]

#: pad, beginning, end and unknown tokens, ids 0..3
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")


def build_char_tokenizer(alphabet: str) -> Any:
    """A character-level ``PreTrainedTokenizerFast``: one token per character.

    Ids 0–3 are ``<pad> <bos> <eos> <unk>``; then the characters of
    ``alphabet`` in order (duplicates removed). Unknown characters map to
    ``<unk>``.

    Args:
        alphabet: the characters the tokenizer knows.

    Returns:
        the tokenizer, with pad, BOS, EOS and unknown tokens set.

    Example:
        >>> tokenizer = build_char_tokenizer("ab")
        >>> len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id
        (6, 0, 2)
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    characters = list(dict.fromkeys(alphabet))
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for character in characters:
        vocab.setdefault(character, len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    fast: Any = PreTrainedTokenizerFast  # untyped in some transformers releases
    return fast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
        clean_up_tokenization_spaces=False,
    )


def build_tiny_gpt2(
    tokenizer: Any,
    n_layer: int = 2,
    n_embd: int = 128,
    n_head: int = 4,
    n_positions: int = 128,
    seed: int = 0,
) -> Any:
    """A freshly initialized GPT-2 sized for CPU (≈0.4M parameters by default).

    Args:
        tokenizer: its tokenizer (the vocabulary size and special ids are read off it).
        n_layer: transformer blocks.
        n_embd: width of the hidden state.
        n_head: attention heads (they divide ``n_embd``).
        n_positions: the context length.
        seed: seeds the initialization (``torch.manual_seed``).

    Returns:
        a ``GPT2LMHeadModel`` in training mode.

    Example:
        >>> model = build_tiny_gpt2(build_char_tokenizer("ab"), n_layer=1, n_embd=8, n_head=2)
        >>> model.config.vocab_size, model.config.n_positions
        (6, 128)
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return GPT2LMHeadModel(config)
