"""verl calls rewardkit's ``compute_score`` as its reward managers do (verl v0.7.0).

verl does not install on this CPU machine's registries without CUDA pieces,
so each manager's calling convention is reproduced from the pinned source
(volcengine/verl tag v0.7.0, f9c855f7; unchanged at b178a3cd):

- ``verl/workers/reward_manager/naive.py`` l.85-90: per sample,
  ``compute_score(data_source=..., solution_str=..., ground_truth=...,
  extra_info=...)``, ``extra_info`` a dict from ``non_tensor_batch``; a dict
  result's ``score`` is the reward and every key goes to
  ``reward_extra_info[key].append(value)``;
- ``verl/workers/reward_manager/batch.py`` l.70-76: one call with
  ``data_sources`` (a numpy object array), ``solution_strs`` (a list),
  ``ground_truths`` (a list) and ``extra_infos`` (a numpy object array of
  dicts), results indexed ``scores[i]``;
- ``verl/experimental/reward_loop/reward_manager/naive.py``: a sync function
  runs in ``loop.run_in_executor``, with ``reward_router_address`` and
  ``reward_model_tokenizer`` added; ``reward_loop.py`` l.304-308 takes the
  extra keys of the first sample and builds ``np.array([info[key] for info in
  infos])``;
- ``verl/trainer/ppo/metric_utils.py`` ``process_validation_metrics`` takes
  ``np.mean`` of every key whose first value is not a string;
- verl-recipe ``dapo/dapo_ray_trainer.py`` l.239-264 reads
  ``non_tensor_batch[filter_groups.metric]`` (``acc``) per sample and keeps a
  group when ``np.std`` of it is above 0.
"""

import asyncio
from collections import defaultdict

import numpy as np

from rewardkit.adapters.verl import VerlReward
from rewardkit.core import weighted_sum
from rewardkit.verify import MathVerifier, ThinkAnswerFormat

SOLUTIONS = [
    "<think>48/2 = 24, 48 + 24 = 72</think><answer>72</answer>",
    "<think>hmm</think> no idea",
    "Natalia sold 48 + 24 = 72 clips.\n#### 72\n\nThat took 2 steps.",
    "#### 71",
]
SOURCES = np.array(["math", "math", "openai/gsm8k", "openai/gsm8k"], dtype=object)
GOLDS = ["72", "72", "72", "72"]
EXPECTED = [1.2, 0.0, 1.0, 0.0]


def compute_score():
    reward = weighted_sum(
        [MathVerifier(timeout=5.0, no_answer="skip", name="correct"), ThinkAnswerFormat()],
        [1.0, 0.2],
        skip_missing=True,
    )
    return VerlReward(reward, acc_part="correct")


def naive_manager(score_fn):
    """naive.py: one call per sample; dict results feed reward_extra_info."""
    rewards, extra = [], defaultdict(list)
    for i, solution in enumerate(SOLUTIONS):
        extra_info = {"index": i, "num_turns": 1}
        result = score_fn(
            data_source=SOURCES[i], solution_str=solution, ground_truth=GOLDS[i],
            extra_info=extra_info,
        )  # fmt: skip
        rewards.append(result["score"] if isinstance(result, dict) else result)
        if isinstance(result, dict):
            for key, value in result.items():
                extra[key].append(value)
    return rewards, extra


def batch_manager(score_fn):
    """batch.py: one call; numpy object arrays for data_sources and extra_infos."""
    extras = np.array([{"index": i, "rollout_reward_scores": {}} for i in range(4)], dtype=object)
    scores = score_fn(
        data_sources=SOURCES, solution_strs=list(SOLUTIONS), ground_truths=list(GOLDS),
        extra_infos=extras,
    )  # fmt: skip
    rewards, extra = [], defaultdict(list)
    for i in range(len(SOLUTIONS)):
        score = scores[i]
        rewards.append(score["score"])
        for key, value in score.items():
            extra[key].append(value)
    return rewards, extra


def reward_loop(score_fn):
    """experimental/reward_loop: run_in_executor per sample, keys from the first sample."""

    async def run_single(i):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None,
            lambda: score_fn(
                data_source=SOURCES[i], solution_str=SOLUTIONS[i], ground_truth=GOLDS[i],
                extra_info={"index": i, "num_turns": 1}, reward_router_address=None,
                reward_model_tokenizer=None,
            ),
        )  # fmt: skip

    async def run_all():
        return await asyncio.gather(*(run_single(i) for i in range(len(SOLUTIONS))))

    infos = asyncio.run(run_all())
    keys = list(infos[0].keys())
    return [info["score"] for info in infos], {
        key: np.array([i[key] for i in infos]) for key in keys
    }


def validation_metrics(extra):
    """metric_utils.process_validation_metrics: np.mean of every non-string key."""
    return {k: float(np.mean(v)) for k, v in extra.items() if not isinstance(v[0], str)}


def test_every_manager_gets_the_same_finite_scores():
    score_fn = compute_score()
    for manager in (naive_manager, batch_manager, reward_loop):
        rewards, extra = manager(score_fn)
        np.testing.assert_allclose(rewards, EXPECTED, err_msg=manager.__name__)
        metrics = validation_metrics(extra)
        assert all(np.isfinite(v) for v in metrics.values()), (manager.__name__, metrics)
        assert metrics["applicable"] == 1.0  # skip_missing: the format part scores alone
        assert list(extra["correct_applicable"]) == [1.0, 0.0, 1.0, 1.0]
        assert list(extra["acc"]) == [1.0, 0.0, 1.0, 0.0]


def test_gsm8k_answers_are_read_from_their_marker():
    rewards, _ = naive_manager(VerlReward(MathVerifier(timeout=5.0)))
    assert rewards[2:] == [1.0, 0.0]  # "#### 72" then text with other numbers; "#### 71"


def test_dapo_group_filter_reads_acc_per_sample():
    _, extra = batch_manager(compute_score())
    uids = ["a", "a", "b", "b"]
    groups = defaultdict(list)
    for uid, value in zip(uids, extra["acc"], strict=True):
        groups[uid].append(value)
    kept = [uid for uid, values in groups.items() if np.std(values) > 0 or len(values) == 1]
    assert kept == ["a", "b"]  # each group has a right and a wrong answer


def test_a_part_named_like_verls_own_keys_is_refused():
    import pytest

    from rewardkit.core import ConfigurationError
    from rewardkit.verify import exact_match

    with pytest.raises(ConfigurationError, match="'acc'"):
        VerlReward(weighted_sum([exact_match(name="acc")]))("math", "4", "4")
