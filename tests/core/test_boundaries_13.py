"""Bad values at the boundaries are clear errors, never a silent number (#13)."""

import numpy as np
import pytest

from rewardkit.core import BatchError, RewardCheckError, RewardOutput, SpecError, column
from rewardkit.core.spec import load_spec


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["-0.5", "1"], "str '-0.5'"),
        ([True, 0.5], "bool True"),
        ([1 + 2j, 0.0], "complex"),
        (np.array([True, False]), "real numbers"),
        (np.array([1 + 2j]), "real numbers"),
    ],
)
def test_a_reward_column_holds_real_numbers_only(values, message):
    with pytest.raises(BatchError, match=message):
        column("score")({"score": values})


def test_a_term_output_must_be_real_numbers():
    with pytest.raises(RewardCheckError, match="booleans"):
        RewardOutput(np.array([True, False]))
    with pytest.raises(RewardCheckError, match="complex"):
        RewardOutput(np.array([1 + 2j, 0]))
    assert RewardOutput([1, None]).total.tolist()[0] == 1.0


def test_yaml_errors_name_the_line(tmp_path):
    spec = tmp_path / "reward.yaml"
    spec.write_text("name: t\nsum:\n  - term: exact_match\n   bad: [\n")
    with pytest.raises(SpecError, match=r"line 4, column 4"):
        load_spec(spec)
