import pickle

import numpy as np
import pytest

from rewardkit.core import (
    MissingColumnError,
    RewardCheckError,
    RewardTerm,
    Status,
    batch_size,
    term,
)
from rewardkit.core.batch import from_records, read_jsonl, take, to_records
from rewardkit.core.errors import BatchError, CompositionError


@term
def correct(completion, answer):
    return [float(c == a) for c, a in zip(completion, answer, strict=True)]


@term(name="inverse", per_sample=True)
def inverse(value):
    return 1.0 / value


@term
def with_default(completion, bonus=None):
    extra = bonus if bonus is not None else [0.0] * len(completion)
    return [1.0 + b for b in extra]


def test_decorator_reads_columns_by_parameter_name():
    out = correct({"completion": ["4", "5"], "answer": ["4", "4"], "extra": [0, 0]})
    np.testing.assert_array_equal(out.total, [1.0, 0.0])
    assert correct.name == "correct" and correct.columns == ("completion", "answer")
    assert correct.__doc__ is None and correct.__name__ == "correct"


def test_optional_column_uses_default_when_missing():
    np.testing.assert_array_equal(with_default({"completion": ["a"]}).total, [1.0])
    np.testing.assert_array_equal(with_default({"completion": ["a"], "bonus": [2.0]}).total, [3.0])


def test_missing_column_error_lists_columns_and_suggests():
    with pytest.raises(MissingColumnError, match=r"no column 'answer'.*Did you mean 'answers'"):
        correct({"completion": ["4"], "answers": ["4"]})


def test_per_sample_error_marks_only_that_row():
    out = inverse({"value": [2.0, 0.0, 4.0]})
    np.testing.assert_array_equal(out.status, [Status.OK, Status.ERROR, Status.OK])
    assert out.total[0] == 0.5 and np.isnan(out.total[1]) and out.total[2] == 0.25
    assert "ZeroDivisionError" in out.messages[1]


def test_wrong_length_is_a_check_error():
    @term
    def too_short(completion):
        return [1.0]

    with pytest.raises(RewardCheckError, match="returned 1 values for a batch of 2"):
        too_short({"completion": ["a", "b"]})


def test_function_terms_pickle_by_reference():
    for t in (correct, inverse):
        clone = pickle.loads(pickle.dumps(t))
        assert clone is t


def test_reward_term_subclass_and_invalid_name():
    class Half(RewardTerm):
        def _compute(self, batch):
            return np.full(batch_size(batch), 0.5)

    assert Half("half")({"x": [1, 2]}).terms["half"].tolist() == [0.5, 0.5]
    assert Half("half").update({"x": [1]}) == {}
    with pytest.raises(CompositionError, match="invalid term name"):
        Half("has space")


def test_batch_helpers(tmp_path):
    batch = from_records([{"a": 1, "b": "x"}, {"a": 2}])
    assert batch == {"a": [1, 2], "b": ["x", None]}
    assert to_records(take(batch, [1])) == [{"a": 2, "b": None}]
    with pytest.raises(BatchError, match="different lengths"):
        batch_size({"a": [1, 2], "b": [1]})
    with pytest.raises(BatchError, match="not a sequence"):
        batch_size({"a": "text"})
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n')
    assert read_jsonl(path) == {"a": [1, 2]}
    path.write_text('{"a": 1}\n{oops\n')
    with pytest.raises(BatchError, match=r"rows.jsonl:2: invalid JSON"):
        read_jsonl(path)
    path.write_text("[1, 2]\n")
    with pytest.raises(BatchError, match="expected a JSON object"):
        read_jsonl(path)
