"""TRL >= 1.16: tool-calling rollouts, multimodal prompts and AsyncGRPO (trl 1.16.0 installed).

Each case reproduces, or imports and runs, TRL 1.16.0's own calling code:

- tool calling, ``trl/trainer/grpo_trainer.py`` ``_tool_call_loop`` (l.1945-2191):
  a completion is ``[assistant(tool_calls), {"role": "tool", "name", "content"},
  assistant, ...]``; when the turn after a tool result is cut to 0 tokens
  (l.2136-2143) the completion ends with the tool's message;
- multimodal prompts, ``trl/data_utils.py`` ``prepare_multimodal_messages``
  (l.32-124), called by ``_generate_and_score_completions`` (l.2420): the first
  user message holds ``{"type": "image", "image": <PIL.Image>}`` blocks, the
  image decoded afresh for every row, and ``RepeatSampler`` (``trainer/utils.py``
  l.859-948) lays the ``num_generations`` copies of a prompt next to each other;
- AsyncGRPO, ``trl/experimental/async_grpo/async_rollout_worker.py``:
  ``AsyncRolloutWorker.start`` (l.1209) pickles the reward functions for its
  spawned child, and ``_AsyncRolloutLoop._score_group`` (l.1026-1068), run here
  as shipped, calls each function once per group and sums them unweighted.
"""

import asyncio
import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("trl")
pytest.importorskip("PIL")

from PIL import Image
from trl.data_utils import prepare_multimodal_messages
from trl.trainer.utils import RepeatSampler, is_async_callable

from rewardkit.adapters.trl import AsyncTRLReward, TRLReward, async_trl_reward, split_parts
from rewardkit.core import RewardKitWarning, weighted_sum
from rewardkit.verify import LengthLinear, MathVerifier, ThinkAnswerFormat, grpo_lambda

CALL = {"type": "function", "function": {"name": "calculator", "arguments": {"expr": "48+24"}}}


def tool_rollout(final_answer):
    """A completion as _tool_call_loop builds it; None = cut off after the tool result."""
    messages = [
        {"role": "assistant", "content": "", "tool_calls": [CALL]},
        {"role": "tool", "name": "calculator", "content": "72"},
    ]
    if final_answer is not None:
        messages.append({"role": "assistant", "content": final_answer})
    return messages


def test_a_rollout_cut_off_after_a_tool_result_has_no_answer():
    extra = {}
    reward = TRLReward(MathVerifier(timeout=5.0, name="correct"))
    scores = reward(
        prompts=[[{"role": "user", "content": "48+24?"}]] * 3,
        completions=[tool_rollout(None), tool_rollout(r"\boxed{72}"), tool_rollout("I give up")],
        answer=["72"] * 3,
        log_extra=lambda column, values: extra.setdefault(column, []).extend(values),
    )
    # before: 1.0 for the first, read from the tool's output
    assert scores == [None, 1.0, 0.0]
    assert extra["correct_status"][0].startswith(
        "not_applicable: the completion ends with a 'tool'"
    )


def test_tool_output_never_counts_as_the_answer_in_any_term():
    completion = tool_rollout(None)
    for term in (MathVerifier(timeout=5.0), ThinkAnswerFormat(), LengthLinear(max_length=20)):
        out = term({"completion": [completion], "answer": ["72"]})
        assert np.isnan(out.total[0]), term.name


def test_content_blocks_of_the_assistant_are_read():
    completion = [{"role": "assistant", "content": [{"type": "text", "text": r"\boxed{72}"}]}]
    assert TRLReward(MathVerifier(timeout=5.0))(
        prompts=["q"], completions=[completion], answer=["72"]
    ) == [1.0]


def multimodal_batch():
    """Two prompts x 4 generations, each row's image decoded afresh, as datasets does."""
    pixels = {0: (200, 10, 10), 1: (10, 10, 200)}
    dataset = [
        {"prompt": [{"role": "user", "content": "What colour is it?"}], "answer": "red", "i": 0},
        {"prompt": [{"role": "user", "content": "What colour is it?"}], "answer": "blue", "i": 1},
    ]
    sampler = RepeatSampler(dataset, mini_repeat_count=4, batch_size=2, seed=0)
    rows = [dataset[index] for index in sampler]
    prompts = [
        prepare_multimodal_messages(
            row["prompt"], images=[Image.new("RGB", (8, 8), pixels[row["i"]])]
        )
        for row in rows
    ]
    return prompts, [row["answer"] for row in rows]


@pytest.mark.parametrize("num_generations", [4, None])
def test_multimodal_prompts_keep_their_groups(num_generations):
    prompts, answers = multimodal_batch()
    assert str(prompts[0]) != str(prompts[1])  # the images' reprs differ: the old key split them
    completions = ["red", "red!!!!!!", "blue", "red", "blue", "blue!!!!!!!", "red", "blue"]
    reward = TRLReward(
        grpo_lambda(
            MathVerifier(timeout=5.0, name="correct"), LengthLinear(max_length=8), threshold=0.2
        ),
        num_generations=num_generations,
    )
    batch = reward.batch(prompts, completions, {"answer": answers})
    assert batch["group"] == [0, 0, 0, 0, 1, 1, 1, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RewardKitWarning)
        assert len(reward(prompts=prompts, completions=completions, answer=answers)) == 8


def test_an_object_without_content_is_named_in_the_warning():
    class Opaque:
        pass

    prompts = [[{"role": "user", "content": [{"type": "image", "image": Opaque()}]}]] * 2
    reward = TRLReward(MathVerifier(timeout=5.0, name="opaque_prompt"))
    with pytest.warns(RewardKitWarning, match=r"Opaque objects.*num_generations="):
        reward(prompts=prompts, completions=["1", "1"], answer=["1", "1"])


def reward_parts():
    return weighted_sum(
        [MathVerifier(timeout=5.0, no_answer="skip", name="correct"), ThinkAnswerFormat()],
        [1.0, 0.2],
    )


def test_every_adapter_pickles_as_async_grpo_needs():
    funcs = [
        TRLReward(reward_parts()),
        AsyncTRLReward(reward_parts()),
        async_trl_reward(reward_parts()),
        *split_parts(reward_parts(), asynchronous=True, scale_by_weight=True)[0],
    ]
    for func in funcs:
        copy = pickle.loads(pickle.dumps({"reward_funcs": [func]}))["reward_funcs"][0]
        assert copy.__name__ == func.__name__
    assert all(is_async_callable(f) for f in funcs[1:])


def score_group_as_async_grpo(reward_funcs, completions, answers):
    """Run AsyncGRPO's own _score_group (trl 1.16.0) on one group."""
    from accelerate import PartialState
    from trl.experimental.async_grpo.async_rollout_worker import (
        RolloutGroup,
        TrainingSequence,
        _AsyncRolloutLoop,
    )
    from trl.trainer.utils import get_callable_name

    PartialState()
    loop = object.__new__(_AsyncRolloutLoop)
    loop.reward_funcs = pickle.loads(pickle.dumps(reward_funcs))  # as the spawned child gets them
    loop.reward_func_names = [get_callable_name(f) for f in loop.reward_funcs]
    loop._env_reward_types = []
    n = len(completions)
    group = RolloutGroup(
        prompts=[[{"role": "user", "content": "3+4?"}]] * n,
        reward_kwargs={"answer": answers},
        completions=[[{"role": "assistant", "content": c}] for c in completions],
        completions_ids=[[1, 2]] * n,
        completions_sequences=[
            [TrainingSequence([1, 2], [0, 1], [0.0, -0.1], i)] for i in range(n)
        ],
        tool_call_counts=[0] * n,
        tool_failure_counts=[0] * n,
        model_version=0,
        group_id=0,
        env_rewards=[None] * n,
        rollout_rewards=[None] * n,
    )
    return asyncio.run(loop._score_group(group))


def test_async_grpo_keeps_the_weights_and_logs_each_part():
    completions = ["<think>3+4</think><answer>7</answer>", "<think>x</think><answer>8</answer>",
                   "no idea", r"\boxed{7}"]  # fmt: skip
    weighted = [1.2, 0.2, 0.0, 1.0]
    funcs, weights = split_parts(reward_parts(), asynchronous=True, scale_by_weight=True)
    assert weights == [1.0, 1.0]
    samples = score_group_as_async_grpo(funcs, completions, ["7"] * 4)
    rewards = [s.metrics["reward"] for s in samples]
    np.testing.assert_allclose(rewards, weighted)
    np.testing.assert_allclose([s.metrics["rewards/think_answer_format"] for s in samples],
                               [0.2, 0.2, 0.0, 0.0])  # fmt: skip
    # unscaled parts would be summed 1:1 by AsyncGRPO, losing the 0.2
    plain, _ = split_parts(reward_parts(), asynchronous=True)
    unweighted = [
        s.metrics["reward"] for s in score_group_as_async_grpo(plain, completions, ["7"] * 4)
    ]
    np.testing.assert_allclose(unweighted, [2.0, 1.0, 0.0, 1.0])
    # one composite function gives the same weighted total
    whole = score_group_as_async_grpo([AsyncTRLReward(reward_parts())], completions, ["7"] * 4)
    np.testing.assert_allclose([s.metrics["reward"] for s in whole], weighted)
