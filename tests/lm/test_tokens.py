"""Encode, cut at EOS and decode by hand on the character tokenizer."""

import pytest

from rewardkit.core.errors import ConfigurationError
from rewardkit.lm.tiny import build_char_tokenizer
from rewardkit.lm.tokens import cut_at_eos, decode, encode, single_token

TOKENIZER = build_char_tokenizer("0123456789+=;")  # <pad> 0, <bos> 1, <eos> 2, <unk> 3, "0" 4
PAD, EOS = 0, 2


@pytest.mark.parametrize(
    ("tokens", "eos", "expected"),
    [
        ([5, 6, 2, 0, 0], 2, [5, 6, 2]),  # through the EOS, not the padding after it
        ([2, 5, 6], 2, [2]),  # an immediate EOS is a completion of one token
        ([5, 6, 7], 2, [5, 6, 7]),  # no EOS: the whole budget
        ([5, 2, 6, 2], 2, [5, 2]),  # the first EOS
        ([], 2, []),
        ([5, 16, 6, 2], [16, 2], [5, 16]),  # several stop tokens: the first of any
        ([5, 6, 2, 16], (16, 2), [5, 6, 2]),
        ([5, 0, 6, 2], 2, [5, 0, 6, 2]),  # a sampled pad id is not a stop
    ],
)
def test_cut_at_eos(tokens, eos, expected):
    assert cut_at_eos(tokens, eos) == expected


def test_cut_at_eos_does_not_change_its_input():
    tokens = [5, 2, 0]
    kept = cut_at_eos(tokens, 2)
    kept.append(9)
    assert tokens == [5, 2, 0]


def test_encode_adds_no_special_tokens():
    assert encode(TOKENIZER, "12+3") == [5, 6, 14, 7]
    assert encode(TOKENIZER, "") == []


def test_decode_drops_eos_and_pad_by_default():
    assert decode(TOKENIZER, [5, 6, 14, 7, 2, 0, 0]) == "12+3"
    assert decode(TOKENIZER, [0, 5, 0, 2]) == "1"
    assert decode(TOKENIZER, []) == ""


def test_decode_drops_what_it_is_told():
    turn_end = encode(TOKENIZER, ";")[0]
    assert decode(TOKENIZER, [5, turn_end, 2], skip=(turn_end, EOS)) == "1"
    assert decode(TOKENIZER, [5, 2], skip=()) == "1<eos>"


def test_encode_then_cut_then_decode_round_trips():
    row = [*encode(TOKENIZER, "42"), EOS, PAD, PAD]
    assert decode(TOKENIZER, cut_at_eos(row, EOS)) == "42"


def test_single_token():
    assert single_token(TOKENIZER, ";", "turn_end") == 16
    with pytest.raises(ConfigurationError, match="the delimiter '12' must be one token, it is 2"):
        single_token(TOKENIZER, "12", "the delimiter")
