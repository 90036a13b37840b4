"""trl-grpo's two reward sets, called as TRL calls them (no training): both score the same
format and length by hand, rewardkit's math verifier reads a plain-text answer that TRL's
``accuracy_reward`` does not, and the replay times both on the same batches."""

import pytest

pytest.importorskip("trl")

from rewardkit_bench.trl_grpo_run import PART_NAMES, SETS, TimedReward, replay, reward_set

HOOKS = {"trainer_state": None, "log_extra": None, "log_metric": lambda *a, **k: None}


def _batch() -> dict[str, list]:
    texts = ["4 + 7 = 11", "4 + 7 = 12", "It is a lovely sum. " * 8, "11"]
    ids = [[0] * 5, [0] * 5, [0] * 38, [0] * 1]  # token counts: 38 is 6 past 32
    return {
        "prompts": [[{"role": "user", "content": "4 + 7 ="}]] * 4,
        "completions": [[{"role": "assistant", "content": t}] for t in texts],
        "completion_ids": ids,
        "solution": ["11"] * 4,
    }


@pytest.mark.parametrize("which", SETS)
def test_each_set_scores_format_and_length_by_hand(which):
    correct, form, length = (f(**_batch(), **HOOKS) for f in reward_set(which))
    assert form == [1.0, 1.0, 0.0, 0.0]
    # DAPO's soft overlong punishment: 0 up to 32 - 8 tokens, then -(L - 24) / 8, -1 past 32
    assert length[:2] == [0.0, 0.0] and length[3] == 0.0
    assert length[2] == pytest.approx(-1.0)
    assert len(correct) == 4


def test_rewardkit_reads_plain_answers_that_trls_accuracy_reward_does_not():
    logged: dict[str, list[str]] = {}
    hooks = {**HOOKS, "log_extra": logged.__setitem__}
    ours = reward_set("rewardkit")[0](**_batch(), **hooks)
    theirs = reward_set("trl")[0](**_batch(), **HOOKS)
    # the third states no number: rewardkit scores it 0 with a no-answer status
    assert ours == [1.0, 0.0, 0.0, 1.0]
    assert logged["correct_status"] == ["ok", "ok", "ok: no answer", "ok"]  # said, not silent
    assert theirs == [0.0, 0.0, 0.0, 0.0]  # LaTeX only: nothing extracted, even "11"


def test_replay_times_both_sets_on_the_same_batches():
    out = replay([_batch(), _batch()], repeats=2)
    assert set(out) == set(SETS)
    for which in SETS:
        assert len(out[which]["step_seconds"]) == 2
        assert all(s > 0 for s in out[which]["step_seconds"])
        assert len(out[which]["correct"]) == 8


def test_timed_reward_logs_under_its_part_name_and_keeps_batches():
    timed = TimedReward(reward_set("trl")[1], PART_NAMES["trl"][1], keep=True)
    assert timed.__name__ == "format"
    timed(**_batch(), **HOOKS)
    assert len(timed.batches) == 1 and len(timed.seconds) == 1
