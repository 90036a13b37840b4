"""``fallback``: the primary decides where it can, the backup sees only the other rows."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from rewardkit.core import fallback
from rewardkit.core.errors import CompositionError
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.term import RewardTerm, term


@term
def exact(completion, answer):
    """1/0 on a stated answer; abstains (None) on an empty one."""
    return [None if not c else float(c == a) for c, a in zip(completion, answer, strict=True)]


class Counting(RewardTerm):
    """A backup that records the rows it is shown; ``values[c]`` per completion (default 0.5)."""

    columns = ("completion",)

    def __init__(self, values=None, status=None, messages=None, name="backup"):
        super().__init__(name)
        self.values, self.status, self.messages = values or {}, status or {}, messages or {}
        self.seen: list[list[str]] = []

    def _compute(self, batch):
        completions = list(batch["completion"])
        self.seen.append(completions)
        total = np.array([self.values.get(c, 0.5) for c in completions], dtype=float)
        status = np.array([self.status.get(c, Status.OK) for c in completions], dtype=np.int8)
        messages = tuple(self.messages.get(c) for c in completions)
        return RewardOutput(total, {self.name: total}, status, messages)

    def update(self, batch):
        return {"calls": float(len(self.seen))}


BATCH = {"completion": ["4", "", "5", "x"], "answer": ["4", "4", "4", "4"]}


def test_only_the_abstaining_rows_reach_the_backup():
    backup = Counting()
    batch = {"completion": ["4", "", "5", ""], "answer": ["4"] * 4}
    out = fallback(exact, backup)(batch)
    assert backup.seen == [["", ""]]  # one call, rows 1 and 3 only
    np.testing.assert_array_equal(out.total, [1.0, 0.5, 0.0, 0.5])
    assert (out.status == Status.OK).all()
    np.testing.assert_array_equal(out.terms["used_backup"], [0.0, 1.0, 0.0, 1.0])
    np.testing.assert_array_equal(out.terms["exact"], [1.0, np.nan, 0.0, np.nan])
    np.testing.assert_array_equal(out.terms["backup"], [np.nan, 0.5, np.nan, 0.5])


def test_the_backup_is_not_called_when_the_primary_decides_every_row():
    backup = Counting()
    out = fallback(exact, backup)({"completion": ["4", "5"], "answer": ["4", "4"]})
    assert backup.seen == [] and out.total.tolist() == [1.0, 0.0]
    assert out.terms["used_backup"].tolist() == [0.0, 0.0]
    assert np.isnan(out.terms["backup"]).all()


def test_when_fails_also_sends_the_rows_below_the_threshold():
    backup = Counting(values={"5": 0.9})
    batch = {"completion": ["4", "", "5"], "answer": ["4", "4", "4"]}
    out = fallback(exact, backup, when="fails", threshold=0.5)(batch)
    assert backup.seen == [["", "5"]]  # the abstention and the 0.0; not the 1.0
    np.testing.assert_array_equal(out.total, [1.0, 0.5, 0.9])
    np.testing.assert_array_equal(out.terms["used_backup"], [0.0, 1.0, 1.0])


def test_a_score_equal_to_the_threshold_passes():
    @term
    def half(completion):
        return [0.5 for _ in completion]

    backup = Counting()
    out = fallback(half, backup, when="fails", threshold=0.5)({"completion": ["a", "b"]})
    assert backup.seen == [] and out.total.tolist() == [0.5, 0.5]
    fallback(half, backup, when="fails", threshold=0.6)({"completion": ["a", "b"]})
    assert backup.seen == [["a", "b"]]


class Scripted(RewardTerm):
    """A primary whose values, statuses and messages are given per row."""

    def __init__(self, total, status, messages, name="primary"):
        super().__init__(name)
        self.out = RewardOutput(
            np.array(total, dtype=float), {}, np.array(status, np.int8), tuple(messages)
        )

    def _compute(self, batch):
        return self.out


def test_status_and_message_come_from_the_part_that_decided():
    primary = Scripted(
        [1.0, np.nan, np.nan, np.nan],
        [Status.OK, Status.TIMEOUT, Status.ERROR, Status.NOT_APPLICABLE],
        [None, "verifier timed out", "verifier crashed", "no answer found"],
    )
    backup = Counting(
        values={"b": 0.25},
        status={"c": Status.ERROR, "d": Status.TIMEOUT},
        messages={"c": "judge: HTTP 500", "d": "judge: deadline"},
    )
    out = fallback(primary, backup)({"completion": ["a", "b", "c", "d"]})
    assert backup.seen == [["b", "c", "d"]]
    # row 1: the backup scored it, so its timeout and message are gone
    assert out.total[1] == 0.25 and out.status[1] == Status.OK and out.messages[1] is None
    assert out.status.tolist() == [Status.OK, Status.OK, Status.ERROR, Status.TIMEOUT]
    assert out.messages == (None, None, "judge: HTTP 500", "judge: deadline")
    assert out.total[0] == 1.0 and np.isnan(out.total[2:]).all()


def test_a_missing_backup_value_stays_missing_never_zero():
    class Abstains(RewardTerm):
        def _compute(self, batch):
            return [None] * len(batch["completion"])

    class SilentNaN(RewardTerm):  # a NaN labelled OK: a bug the composite must not pass on
        def _compute(self, batch):
            n = len(batch["completion"])
            return RewardOutput(np.full(n, np.nan), {}, np.zeros(n, np.int8))

    batch = {"completion": ["4", ""], "answer": ["4", "4"]}
    out = fallback(exact, Abstains("judge"))(batch)
    assert out.total[0] == 1.0 and math.isnan(out.total[1])
    assert out.status[1] == Status.NOT_APPLICABLE
    silent = fallback(exact, SilentNaN("judge"))(batch)
    assert math.isnan(silent.total[1]) and silent.status[1] == Status.ERROR
    assert "NaN" in silent.messages[1]


def test_the_backups_own_breakdown_is_kept_under_its_name():
    class WithSpread(RewardTerm):
        def _compute(self, batch):
            n = len(batch["completion"])
            return RewardOutput(np.full(n, 0.5), {"judge": np.full(n, 0.5), "spread": np.ones(n)})

    out = fallback(exact, WithSpread("judge"))({"completion": ["", "4"], "answer": ["4", "4"]})
    np.testing.assert_array_equal(out.terms["judge/spread"], [1.0, np.nan])
    assert set(out.terms) == {"exact", "judge", "judge/spread", "used_backup"}


def test_array_columns_are_cut_to_the_needed_rows():
    @term
    def positive(reward):
        return [None if r == 0 else float(r > 0) for r in reward]

    seen = []

    @term
    def magnitude(reward):
        seen.append(reward)
        return np.abs(reward)

    out = fallback(positive, magnitude)({"reward": np.array([2.0, 0.0, -1.0, 0.0])})
    assert len(seen) == 1 and isinstance(seen[0], np.ndarray) and seen[0].tolist() == [0.0, 0.0]
    np.testing.assert_array_equal(out.total, [1.0, 0.0, 0.0, 0.0])


def test_update_and_pickling_go_through_to_both_parts():
    reward = fallback(exact, Counting(), name="checked")
    reward(BATCH)
    assert reward.update(BATCH) == {"backup/calls": 1.0}
    copy = pickle.loads(pickle.dumps(reward))
    np.testing.assert_array_equal(copy(BATCH).total, reward(BATCH).total)
    assert copy.name == "checked" and reward.columns == ("completion", "answer")


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"when": "always"}, "when must be"),
        ({"when": "fails", "threshold": math.inf}, "finite"),
    ],
)
def test_fallback_refuses_unusable_settings(options, says):
    with pytest.raises(CompositionError, match=says):
        fallback(exact, Counting(), **options)


def test_parts_need_distinct_names_and_not_the_diagnostic_one():
    with pytest.raises(CompositionError, match="distinct name"):
        fallback(exact, exact)
    with pytest.raises(CompositionError, match="reserved"):
        fallback(exact, Counting(name="used_backup"))
