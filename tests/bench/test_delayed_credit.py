"""delayed-credit: frames-to-target and gap closed from synthetic runs, the claim's threshold,
and the hand-written LaRe encoders."""

import math

import numpy as np
import pytest

from rewardkit_bench.delayed_credit import (
    DESIGNS,
    DelayedCredit,
    acrobot_factors,
    cartpole_factors,
    frames_to_reach,
)

FINALS = {"immediate": 200.0, "delayed": 20.0, "rudder": 150.0, "lare": 60.0, "progress": 30.0}


def _run(design, seed):
    final = FINALS[design]
    rising = [(1000.0 * (i + 1), 20.0 + (final - 20.0) * i / 9) for i in range(10)]
    curve = rising + [(1000.0 * (i + 11), final) for i in range(3)]  # then a plateau
    return {"task": "CartPole-v1", "design": design, "seed": seed, "curve": curve,
            "final": final, "fps": 1000.0, "seconds": 1.0}  # fmt: skip


def test_gap_closed_frames_to_target_and_the_claim():
    suite = DelayedCredit()
    results = {
        "command": "x",
        "settings": {},
        "runs": [_run(d, s) for d in DESIGNS for s in range(3)],
    }
    results.update(suite.summarize(results))
    designs = results["tasks"]["CartPole-v1"]["designs"]
    assert designs["rudder"]["gap_closed"] == pytest.approx((150 - 20) / (200 - 20))
    assert designs["immediate"]["reached"] == "3/3" and math.isnan(
        designs["rudder"]["frames_to_target"]
    )
    target = 20.0 + 0.9 * (200.0 - 20.0)
    assert results["tasks"]["CartPole-v1"]["target"] == pytest.approx(target)
    assert designs["immediate"]["frames_to_target"] == frames_to_reach(
        _run("immediate", 0)["curve"], target
    )
    met = {name.split(" ")[0]: c["met"] for name, c in results["claims"].items()}
    assert met == {"rudder": True, "lare": False, "progress": False}  # 72 %, 22 %, 6 %
    assert designs["rudder"]["finals"] == [150.0] * 3
    assert designs["rudder"]["seeds_above_delayed"] == 3
    report = suite.report(results, [])
    assert "**reproduced**" in report and "**not reproduced**" in report


def test_frames_to_reach_uses_a_moving_average_and_the_encoders_read_the_task():
    # the moving averages are 0, 5 and 3.3: one good point does not reach 6
    assert math.isnan(frames_to_reach([(1, 0.0), (2, 10.0), (3, 0.0)], 6.0))
    assert cartpole_factors(np.array([-1.0, 2.0, -0.1, 0.3]), 0) == [0.1, 0.3, 1.0, 2.0]
    hanging = np.array([1.0, 0.0, 1.0, 0.0, 0.0, 0.0])  # both links straight down
    assert acrobot_factors(hanging, 1)[0] == pytest.approx(-2.0)


def test_the_lunar_lander_encoder_reads_distance_speed_tilt_legs_and_engines():
    from rewardkit_bench.delayed_credit import lunar_lander_factors

    observation = np.array([0.3, 0.4, -0.6, 0.8, -0.2, 0.1, 1.0, 0.0])
    assert lunar_lander_factors(observation, 2) == pytest.approx([0.5, 1.0, 0.2, 1.0, 0.0,
                                                                  1.0, 0.0])  # fmt: skip
    assert lunar_lander_factors(observation, 3)[5:] == [0.0, 1.0]
