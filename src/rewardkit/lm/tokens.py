"""Text to token ids and back: encode, the one-token check, cut at EOS, decode.

A sampled completion runs to the batch's longest: after its EOS come the pad
ids ``generate`` wrote while the other rows went on. :func:`cut_at_eos` keeps a
completion through its first stop token (the EOS is part of what was sampled:
its log-probability counts), :func:`decode` gives the text without EOS and
padding.

Example:
    >>> from rewardkit.lm.tiny import build_char_tokenizer
    >>> tokenizer = build_char_tokenizer("0123456789+=")  # <pad> is 0, <eos> 2
    >>> row = encode(tokenizer, "12") + [2, 0, 0]
    >>> kept = cut_at_eos(row, tokenizer.eos_token_id)
    >>> kept, decode(tokenizer, kept)
    ([5, 6, 2], '12')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rewardkit.core.errors import ConfigurationError

__all__ = ["cut_at_eos", "decode", "encode", "single_token", "token_ends"]


def encode(tokenizer: Any, text: str) -> list[int]:
    """The token ids of ``text``, without the special tokens the tokenizer would add.

    Args:
        tokenizer: a Hugging Face tokenizer.
        text: the text.

    Returns:
        its token ids (no BOS or EOS added).

    Example:
        >>> from rewardkit.lm.tiny import build_char_tokenizer
        >>> encode(build_char_tokenizer("ab"), "abba")
        [4, 5, 5, 4]
    """
    ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids


def single_token(tokenizer: Any, text: str, role: str) -> int:
    """The id of ``text``, which must be exactly one token (a turn end, a delimiter).

    Args:
        tokenizer: a Hugging Face tokenizer.
        text: the text of the token.
        role: what the token is, for the error (``"the delimiter"``).

    Returns:
        the token's id.

    Raises:
        ConfigurationError: ``text`` is not one token.

    Example:
        >>> from rewardkit.lm.tiny import build_char_tokenizer
        >>> single_token(build_char_tokenizer(";"), ";", "turn_end")
        4
    """
    ids = encode(tokenizer, text)
    if len(ids) != 1:
        raise ConfigurationError(f"{role} {text!r} must be one token, it is {len(ids)}")
    return int(ids[0])


def cut_at_eos(tokens: Sequence[int], eos: int | Iterable[int]) -> list[int]:
    """A completion through its first stop token, or whole when it has none.

    Args:
        tokens: the completion as sampled (a row after its prompt).
        eos: the stop token id, or several (a turn end and the EOS).

    Returns:
        ``tokens`` up to and including the first stop token.

    Example:
        >>> cut_at_eos([7, 8, 2, 0, 0], eos=2)
        [7, 8, 2]
        >>> cut_at_eos([7, 9, 8, 2], eos=(9, 2)), cut_at_eos([7, 8], eos=2)
        ([7, 9], [7, 8])
    """
    stops = set(eos) if isinstance(eos, Iterable) else {eos}
    for index, token in enumerate(tokens):
        if token in stops:
            return list(tokens[: index + 1])
    return list(tokens)


def decode(tokenizer: Any, tokens: Sequence[int], skip: Iterable[int | None] | None = None) -> str:
    """The text of ``tokens`` without the tokens in ``skip``.

    Args:
        tokenizer: a Hugging Face tokenizer.
        tokens: token ids.
        skip: the ids left out of the text; by default the tokenizer's EOS and pad.

    Returns:
        the decoded text.

    Example:
        >>> from rewardkit.lm.tiny import build_char_tokenizer
        >>> tokenizer = build_char_tokenizer("ab;")
        >>> decode(tokenizer, [4, 5, 2, 0]), decode(tokenizer, [4, 6, 5], skip=[6])
        ('ab', 'ab')
    """
    dropped = {tokenizer.eos_token_id, tokenizer.pad_token_id} if skip is None else set(skip)
    text: str = tokenizer.decode([t for t in tokens if t not in dropped])
    return text


def token_ends(tokenizer: Any, tokens: Sequence[int], char_ends: Sequence[int]) -> list[int]:
    """For each character offset in ``char_ends`` (ascending, into the decoded text of
    ``tokens``), the number of leading tokens whose text first reaches it.

    The text of ``tokens[:k]`` is decoded for growing k (EOS and pad dropped, as
    :func:`decode` does), so a step that ends inside a token counts that token
    as its own. An offset past the text maps to ``len(tokens)``.

    Example:
        >>> from rewardkit.lm.tiny import build_char_tokenizer
        >>> tokenizer = build_char_tokenizer("0123456789,>")
        >>> ids = encode(tokenizer, "14,21>21")
        >>> token_ends(tokenizer, ids, [3, 8])
        [3, 8]
    """
    ends: list[int] = []
    k = 0
    for offset in char_ends:
        while k < len(tokens) and len(decode(tokenizer, tokens[:k])) < offset:
            k += 1
        ends.append(k if len(decode(tokenizer, tokens[:k])) >= offset else len(tokens))
    return ends
