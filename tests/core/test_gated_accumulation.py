"""G-RA's failure mode, by hand: without the gate, farming the dense step rewards beats
solving the task; with it, only episodes that meet the outcome threshold accumulate them."""

import numpy as np

from rewardkit.core import gate, weighted_sum
from rewardkit.core.term import term


def test_without_the_gate_low_level_rewards_dominate_and_the_gate_blocks_them():
    outcome = term(lambda outcome: outcome, name="outcome")
    steps = term(lambda step_rewards: [sum(r) for r in step_rewards], name="steps")
    episodes = {  # a farmer: ten well-formed steps, task failed; a solver: three steps, solved
        "outcome": [0.0, 1.0],
        "step_rewards": [[0.2] * 10, [0.2] * 3],
    }
    plain = weighted_sum([outcome, steps])(episodes).total
    gated = gate(outcome, steps, threshold=1.0)(episodes).total
    np.testing.assert_allclose(plain, [2.0, 1.6])  # the farmer wins without the gate
    np.testing.assert_allclose(gated, [0.0, 1.6])  # its steps do not accumulate behind it
    assert gated.argmax() == 1 and plain.argmax() == 0
    log = gate(outcome, steps, threshold=1.0)(episodes).terms["gate_open"]
    np.testing.assert_array_equal(log, [0.0, 1.0])
