"""TRL calls rewardkit's reward functions as its own GRPOTrainer does (trl 1.16 installed).

Call patterns, with where they come from:

- reward functions are called as
  ``f(prompts=..., completions=..., completion_ids=..., **reward_kwargs)``, the
  dataset columns repeated per generation, plus ``trainer_state``,
  ``log_extra`` and ``log_metric`` (trl 1.x, ``trainer/grpo_trainer.py``,
  ``_calculate_rewards``);
- a None becomes NaN and the functions are ``nansum``-ed with
  ``reward_weights`` (same function);
- async rewards are found by ``asyncio.iscoroutinefunction(f)`` in 0.27-0.29,
  ``inspect.iscoroutinefunction(f)`` in 1.0-1.9, and
  ``trl.trainer.utils.is_async_callable`` in 1.16;
- the completions of one prompt lie next to each other
  (``trl.trainer.utils.RepeatSampler``).
"""

import asyncio
import inspect

import numpy as np
import pytest

pytest.importorskip("trl")

from trl.trainer.utils import RepeatSampler, is_async_callable

from rewardkit.adapters.trl import (
    TRLReward,
    async_trl_reward,
    split_parts,
)
from rewardkit.core import ConfigurationError, weighted_sum
from rewardkit.verify import LengthLinear, MathVerifier, ThinkAnswerFormat, grpo_lambda


def trl_rewards(reward_funcs, weights, **kwargs):
    """TRL 1.16's aggregation: call each function, None -> NaN, weighted nansum."""
    columns = []
    for func in reward_funcs:
        values = asyncio.run(func(**kwargs)) if is_async_callable(func) else func(**kwargs)
        columns.append([np.nan if v is None else v for v in values])
    per_func = np.array(columns, dtype=float).T
    return np.nansum(per_func * np.asarray(weights), axis=1), per_func


def test_the_async_reward_is_found_by_every_trl_version():
    reward = async_trl_reward(MathVerifier(timeout=5.0, name="correct"))
    assert asyncio.iscoroutinefunction(reward)  # trl 0.27-0.29
    assert inspect.iscoroutinefunction(reward)  # trl 1.0-1.9
    assert is_async_callable(reward)  # trl 1.16
    assert reward.__name__ == "correct"


def test_a_missing_part_does_not_cancel_the_others():
    # the case: the math part cannot read two answers, the format part can
    completions = ["no idea", "<think>x</think>", "<think>a</think><answer>5</answer>",
                   "<think>a</think><answer>4</answer>"]  # fmt: skip
    reward = weighted_sum(
        [MathVerifier(timeout=5.0, no_answer="skip", name="math"), ThinkAnswerFormat()],
        [1.0, 0.2],
    )
    kwargs = {"prompts": ["2+2?"] * 4, "completions": completions, "answer": ["4"] * 4}
    assert TRLReward(reward)(**kwargs) == [0.0, 0.0, 0.2, 1.2]  # no None: TRL 1.6+ would mask it
    whole, _ = trl_rewards([TRLReward(reward)], [1.0], **kwargs)
    np.testing.assert_allclose(whole, [0.0, 0.0, 0.2, 1.2])
    funcs, weights = split_parts(reward)
    split, per_func = trl_rewards(funcs, weights, **kwargs)
    np.testing.assert_allclose(split, [0.0, 0.0, 0.2, 1.2])
    assert np.isnan(per_func[:2, 0]).all()  # TRL sees the math part as unscored there
    strict, _ = trl_rewards([TRLReward(reward, missing_parts="none")], [1.0], **kwargs)
    np.testing.assert_allclose(strict, [0.0, 0.0, 0.2, 1.2])  # nansum of an all-None row
    assert TRLReward(reward, missing_parts="none")(**kwargs)[:2] == [None, None]


def test_group_terms_get_groups_from_trls_layout():
    prompts_in_dataset = ["1+1=", "2+2=", "3+3="]
    sampler = RepeatSampler(prompts_in_dataset, mini_repeat_count=4, batch_size=3, seed=0)
    prompts = [prompts_in_dataset[i] for i in sampler]
    gold = {"1+1=": "2", "2+2=": "4", "3+3=": "6"}
    completions = [rf"\boxed{{{gold[p]}}}" + "!" * k for k, p in enumerate(prompts)]
    reward = grpo_lambda(MathVerifier(timeout=5.0), LengthLinear(max_length=20), threshold=0.5)
    scores = TRLReward(reward, num_generations=4)(
        prompts=prompts, completions=completions, answer=[gold[p] for p in prompts]
    )
    assert len(scores) == 12 and all(s is not None for s in scores)
    assert max(scores) <= 1.0 and min(scores) < 1.0  # the length penalty switched on


def test_trl_math_datasets_name_the_gold_solution():
    reward = TRLReward(MathVerifier(timeout=5.0), columns={"answer": "solution"})
    assert reward(prompts=["q"], completions=[r"\boxed{3}"], solution=["3"]) == [1.0]
    with pytest.raises(ConfigurationError, match=r"no column 'solution'.*'answer'"):
        reward(prompts=["q"], completions=["3"], answer=["3"])


def test_statuses_reach_the_completions_table_and_the_metrics():
    extra, metrics = {}, {}
    reward = TRLReward(MathVerifier(timeout=5.0, no_answer="skip", name="math"))
    reward(
        prompts=["q", "q"],
        completions=[r"\boxed{3}", "no idea"],
        answer=["3", "3"],
        log_extra=lambda column, values: extra.setdefault(column, []).extend(values),
        log_metric=lambda name, value: metrics.__setitem__(name, value),
    )
    assert extra["math_status"][0] == "ok"
    assert extra["math_status"][1].startswith("not_applicable")
    assert metrics["math/status/ok"] == 0.5 and metrics["math/status/not_applicable"] == 0.5


def test_split_parts_refuses_what_is_not_a_weighted_sum():
    with pytest.raises(ConfigurationError, match="TRLReward"):
        split_parts(grpo_lambda(MathVerifier(), LengthLinear(max_length=20), threshold=0.5))


def test_a_group_split_across_processes_is_warned_once():
    import warnings

    from rewardkit.core import RewardKitWarning

    reward = TRLReward(MathVerifier(timeout=5.0, name="split_check"), num_generations=4)
    # a per-process slice of 6 from G=4: the second group is cut (TRL's own diagram)
    prompts = ["a", "a", "a", "a", "b", "b"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reward(prompts=prompts, completions=["1"] * 6, answer=["1"] * 6)
        reward(prompts=prompts, completions=["1"] * 6, answer=["1"] * 6)
    messages = [w for w in caught if issubclass(w.category, RewardKitWarning)]
    assert len(messages) == 1 and "split across processes" in str(messages[0].message)
