"""Padding by hand: left and right, the attention from the lengths, the position ids."""

import pytest
import torch

from rewardkit.core.errors import ConfigurationError
from rewardkit.lm.padding import left_pad, position_ids, right_pad


def test_left_pad_by_hand():
    ids, attention = left_pad([[1, 2], [3]], pad=0)
    assert ids.tolist() == [[1, 2], [0, 3]]
    assert attention.tolist() == [[1, 1], [0, 1]]
    assert ids.dtype == attention.dtype == torch.long


def test_right_pad_by_hand():
    ids, attention = right_pad([[1, 2], [3]], pad=9)
    assert ids.tolist() == [[1, 2], [3, 9]]
    assert attention.tolist() == [[1, 1], [1, 0]]
    assert ids.dtype == attention.dtype == torch.long


def test_the_attention_comes_from_the_lengths_not_the_pad_id():
    # a tokenizer whose pad is its EOS: the EOS inside a row is the row's own token
    ids, attention = left_pad([[2, 5], [7, 2, 2]], pad=2)
    assert ids.tolist() == [[2, 2, 5], [7, 2, 2]]
    assert attention.tolist() == [[0, 1, 1], [1, 1, 1]]
    _, attention = right_pad([[5, 2], [2]], pad=2)
    assert attention.tolist() == [[1, 1], [1, 0]]


def test_empty_rows_and_equal_rows():
    ids, attention = left_pad([[], [4]], pad=0)
    assert ids.tolist() == [[0], [4]] and attention.tolist() == [[0], [1]]
    ids, attention = right_pad([[], []], pad=0)
    assert tuple(ids.shape) == (2, 0) and ids.dtype == torch.long
    ids, attention = left_pad([[1, 2], [3, 4]], pad=0)
    assert ids.tolist() == [[1, 2], [3, 4]] and attention.all()


@pytest.mark.parametrize("pad", [left_pad, right_pad])
def test_no_rows_is_refused(pad):
    with pytest.raises(ConfigurationError, match="at least one row"):
        pad([], 0)


def test_position_ids_count_from_each_rows_first_token():
    attention = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 1, 1, 1, 0]])
    assert position_ids(attention).tolist() == [
        [0, 0, 0, 1, 2],
        [0, 1, 2, 3, 4],
        [0, 0, 1, 2, 2],
    ]


def test_left_padded_positions_match_the_rows_alone():
    rows = [[5, 6, 7, 8], [9], [1, 2]]
    ids, attention = left_pad(rows, pad=0)
    positions = position_ids(attention)
    for i, row in enumerate(rows):
        own = positions[i, ids.shape[1] - len(row) :]
        assert own.tolist() == list(range(len(row)))
