import numpy as np
import pytest

from rewardkit.core import RewardCheckError, RewardOutput, Status


def test_from_values_marks_none_and_nan_not_applicable():
    out = RewardOutput.from_values([1.0, None, float("nan")], name="r")
    assert out.status.tolist() == [Status.OK, Status.NOT_APPLICABLE, Status.NOT_APPLICABLE]
    assert out.total.dtype == np.float64
    assert out.terms == {"r": out.total}


def test_non_ok_status_forces_nan_total():
    # A term that leaves 0.0 on a timed-out sample must not score it.
    out = RewardOutput(np.array([0.0, 1.0]), status=np.array([Status.TIMEOUT, Status.OK]))
    assert np.isnan(out.total[0]) and out.total[1] == 1.0


def test_rejects_bad_shapes_and_types():
    with pytest.raises(RewardCheckError, match="shape"):
        RewardOutput(np.zeros((2, 2)))
    with pytest.raises(RewardCheckError, match="numeric"):
        RewardOutput.from_values(["a", "b"])
    with pytest.raises(RewardCheckError, match="status"):
        RewardOutput(np.zeros(2), status=np.array([0, 7]))
    with pytest.raises(RewardCheckError, match=r"terms\['x'\]"):
        RewardOutput(np.zeros(2), terms={"x": np.zeros(3)})


def test_summary_ignores_nan_and_reports_fraction():
    out = RewardOutput.from_values([1.0, 3.0, None, None], name="r")
    row = out.summary()["r"]
    assert row["mean"] == 2.0 and row["min"] == 1.0 and row["max"] == 3.0
    assert row["frac_nan"] == 0.5
    assert out.status_counts()["NOT_APPLICABLE"] == 2
    assert "r" in out.table() and "total" in out.table()
