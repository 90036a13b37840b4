"""grpo-lab: the reward specs build the compositions the published runs used."""

import numpy as np
import pytest

from rewardkit.core import affine, tiered, weighted_sum
from rewardkit.verify.length import LengthLinear, grpo_lambda
from rewardkit_bench.grpo_lab import DESIGNS, LENGTH_WEIGHT, MAX_NEW_TOKENS, REWARDS, build_reward
from rewardkit_bench.tasks.arithmetic import ArithmeticAnswer, NumericCloseness


def _python_reward(design):
    """The designs as the suite wrote them in Python before they became specs."""
    correct = ArithmeticAnswer(missing_score=0.0, name="correct")
    length = affine(LengthLinear(MAX_NEW_TOKENS, unit="tokens"), scale=LENGTH_WEIGHT, name="length")
    closeness = NumericCloseness(scale=5.0, missing_score=0.0, name="closeness")
    return {
        "binary": correct,
        "graded": closeness,
        "tiered": tiered(closeness, [0.5, 0.8, 0.99], [0.0, 0.1, 0.3, 1.0], name="tiered"),
        "naive_length": weighted_sum([correct, length], name="naive"),
        "grpo_lambda": grpo_lambda(correct, length, threshold=0.75),
        "channels": weighted_sum(
            [correct, LengthLinear(MAX_NEW_TOKENS, unit="tokens", name="length")]
        ),
    }[design]


BATCH = {
    "completion": ["3,5>5", ">5", "3,5=5>5", ">7", "9", ">4", "1,4>4", ">4"],
    "answer": ["5", "5", "5", "5", "4", "4", "4", "4"],
    "group": [0, 0, 0, 0, 1, 1, 1, 1],
    "completion_ids": [[1] * 6, [1] * 3, [1] * 8, [1] * 3, [1] * 2, [1] * 3, [1] * 6, [1] * 3],
}


@pytest.mark.parametrize("design", sorted(REWARDS))
def test_spec_builds_the_same_reward_as_the_python_composition(design):
    from_spec, reference = build_reward(design)(BATCH), _python_reward(design)(BATCH)
    assert build_reward(design).name == _python_reward(design).name
    np.testing.assert_array_equal(from_spec.total, reference.total)
    np.testing.assert_array_equal(from_spec.status, reference.status)
    assert sorted(from_spec.terms) == sorted(reference.terms)


def test_every_design_names_a_reward_spec_and_an_estimator():
    from rewardkit.credit.token import make_estimator

    for designs in DESIGNS.values():
        for reward, estimator, params in designs.values():
            assert reward in REWARDS
            make_estimator(estimator, **params)
    with pytest.raises(ValueError, match="unknown reward design"):
        build_reward("shortest")
