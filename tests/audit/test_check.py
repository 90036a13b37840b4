import numpy as np
import pytest

from rewardkit.audit import check_reward
from rewardkit.core import (
    RewardCheckError,
    RewardCheckWarning,
    RewardOutput,
    Status,
    column,
    term,
)


@term
def fine(x):
    return [float(v) for v in x]


def test_passes_and_reports_a_table():
    report = check_reward(fine, {"x": [0.0, 1.0, 0.5]})
    assert report.passed and report.warnings == []
    assert "fine" in report.table() and "status: ok=3" in report.table()
    assert report.to_dict()["status"]["OK"] == 3


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (lambda x: RewardOutput(np.array([1.0, np.inf])), "inf at samples"),
        (
            lambda x: RewardOutput(np.array([1.0, np.nan]), status=np.array([0, 0])),
            "NaN reward with status OK",
        ),
        (lambda x: [1.0], "returned 1 values"),
        (lambda x: ["a", "b"], "numeric"),
        (lambda x: 1 / 0, "raised ZeroDivisionError"),
    ],
)
def test_hard_violations_raise(fn, message):
    with pytest.raises(RewardCheckError, match=message):
        check_reward(term(fn, name="bad"), {"x": [1.0, 2.0]})


def test_not_a_reward_output_raises():
    class Broken:
        name = "broken"

        def __call__(self, batch):
            return [1.0]

        def update(self, batch):
            return {}

    with pytest.raises(RewardCheckError, match="expected a RewardOutput"):
        check_reward(Broken(), {"x": [1.0]})


def test_explained_nan_is_fine():
    @term
    def with_timeout(x):
        return RewardOutput(np.array([1.0, np.nan]), status=np.array([Status.OK, Status.TIMEOUT]))

    assert check_reward(with_timeout, {"x": [1, 2]}).passed


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ({"x": [1.0, 1.0, 1.0]}, "constant"),
        ({"x": [1000.0, -2000.0]}, "scale is far from 1"),
        ({"x": [0.001, -0.002]}, "scale is far from 1"),
        ({"x": [1.0, 1.0, 0.0, 0.0, 1.0, 0.0], "group": [0, 0, 1, 1, 2, 2]}, "no reward variance"),
    ],
)
def test_soft_problems_warn(batch, message):
    with pytest.warns(RewardCheckWarning, match=message):
        report = check_reward(column("x"), batch)
    assert report.passed and any(message in w for w in report.warnings)


def test_most_samples_without_an_answer_warn():
    from rewardkit.verify import MathVerifier

    batch = {
        "completion": ["The answer is 4", r"\boxed{5}", "I think", r"\boxed{4}"],
        "answer": ["4"] * 4,
    }
    report = check_reward(MathVerifier(timeout=10.0), batch, warn=False)
    assert report.output.messages[2] == "no answer"
    assert not any("no answer" in w for w in report.warnings)  # 1 of 4
    # e.g. a format the verifier does not read: <result> tags
    batch["completion"] = ["<result>4</result>", "<result>5</result>", "hmm", r"\boxed{4}"]
    with pytest.warns(RewardCheckWarning, match="3 of 4 samples have no answer"):
        check_reward(MathVerifier(timeout=10.0), batch)


def test_a_batch_where_no_sample_has_a_reward_fails():
    with pytest.raises(RewardCheckError, match="no sample has a reward"):
        check_reward(column("x"), {"x": [None, None]})


def test_nan_from_a_term_that_never_abstains_warns():
    @term(per_sample=True, abstains=False)
    def accuracy(hits, tries):
        return hits / tries if tries else float("nan")  # a 0/0 the author did not mean

    batch = {"hits": [1.0, 0.0, 2.0], "tries": [2.0, 0.0, 2.0]}
    with pytest.warns(RewardCheckWarning, match=r"1 samples are NaN .*\[1\].*never to abstain"):
        report = check_reward(accuracy, batch)
    assert report.output.status[1] == Status.NOT_APPLICABLE

    @term(per_sample=True)
    def may_abstain(hits, tries):
        return hits / tries if tries else None

    assert check_reward(may_abstain, batch).warnings == []
    with pytest.raises(RewardCheckError, match="no sample has a reward"):
        check_reward(accuracy, {"hits": [0.0], "tries": [0.0]})


@term(abstains=False)
def never_abstains(x):
    return [float(v) for v in x]


def test_the_declaration_survives_pickling():
    import pickle

    assert pickle.loads(pickle.dumps(never_abstains)).abstains is False
    assert pickle.loads(pickle.dumps(fine)).abstains is True
