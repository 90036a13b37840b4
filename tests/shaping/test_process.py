"""Clip and Delta (Gao et al. 2024): hand-computed values and the step-repeat exploit."""

from __future__ import annotations

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.credit.process import process_returns
from rewardkit.shaping.process import (
    clip_step_rewards,
    delta_step_rewards,
    refine_step_rewards,
)


def test_clip_and_delta_by_hand() -> None:
    rewards = [0.8, 0.3, 0.6]
    np.testing.assert_allclose(clip_step_rewards(rewards, 0.5), [0.0, -0.2, 0.0])
    np.testing.assert_allclose(delta_step_rewards(rewards), [0.5, 0.3, 0.0])
    np.testing.assert_allclose(delta_step_rewards([0.7]), [0.0])  # the last step gets none
    # Clip, then Delta: [0, -0.2, 0] → [0.2, -0.2, 0]
    np.testing.assert_allclose(
        refine_step_rewards([rewards], "clip_delta", eta=0.5)[0], [0.2, -0.2, 0.0]
    )
    assert refine_step_rewards([[]], "delta")[0].shape == (0,)


@pytest.mark.parametrize("rewards", [[0.3], [0.9, 0.1, 0.5, 0.5], [0.2, 0.2]])
def test_delta_return_from_each_step_is_that_steps_reward(rewards: list[float]) -> None:
    """Σ_{j≥k} r̃_j telescopes to r_k before the last step, 0 at it: a reference loop."""
    returns = process_returns(delta_step_rewards(rewards))
    for k in range(len(rewards)):
        assert returns[k] == pytest.approx(rewards[k] if k < len(rewards) - 1 else 0.0)


def test_repeating_a_correct_step_pays_only_without_a_refinement() -> None:
    """The planted exploit: a PRM scores a correct step 0.9 however often it is repeated."""
    honest = [0.9, 0.95]  # 14, 21>21
    repeated = [0.9, 0.9, 0.9, 0.9, 0.95]  # 14, 14, 14, 14, 21>21
    plain = [process_returns(r)[0] for r in (honest, repeated)]
    assert plain[1] > plain[0] + 2.0  # the dense PRM return pays for every repeat
    for refinement in ("clip", "delta", "clip_delta"):
        refined = refine_step_rewards([honest, repeated], refinement, eta=0.92)
        first = [process_returns(r)[0] for r in refined]
        assert first[1] <= first[0] + 1e-12, refinement  # a repeat never adds to the return


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        delta_step_rewards([0.1, np.nan])
    with pytest.raises(ShapeError):
        clip_step_rewards([[0.1]], 0.0)
    with pytest.raises(ConfigurationError):
        refine_step_rewards([[0.1]], "square")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        clip_step_rewards([0.1], float("nan"))
