"""verifiers' Rubric scores with rewardkit's functions as its own code does (verifiers 0.2-0.3).

verifiers is not in rewardkit's dependencies (0.4 on PyPI dropped ``Rubric``
for ``@vf.reward`` tasks; prime-rl pins a git build of the Rubric API), so the
calling code is reproduced from ``verifiers/rubrics/rubric.py`` of 0.2.1
(``verifiers/legacy/rubrics/rubric.py`` in 0.3.1):

- ``score_objects``: ``prompt``, ``completion``, ``answer`` (default ``""``),
  ``state``, ``info`` (default ``{}``), ``task``;
- ``_call_individual_reward_func`` (0.2.1 l.199-208): a function with
  ``**kwargs`` gets everything, else only the parameters it declares; the
  result is awaited if awaitable (``maybe_await``) and cast to ``float``;
- ``score_rollout`` (l.334-356): ``metrics = {func.__name__: score}``,
  ``reward = sum(score * weight)``, both written to ``state``.

When a verifiers with ``Rubric`` is installed, the last test runs the real one.
"""

import asyncio
import inspect

import pytest

from rewardkit.adapters.verifiers import from_verifiers, rubric_functions, to_rubric
from rewardkit.core import Status, weighted_sum
from rewardkit.verify import MathVerifier, ThinkAnswerFormat


def score_objects(state):
    return {
        "prompt": state["prompt"],
        "completion": state["completion"],
        "answer": state.get("answer", ""),
        "state": state,
        "info": state.get("info", {}),
        "task": state.get("task", "default"),
    }


async def call(func, objects):
    parameters = inspect.signature(func).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        result = func(**objects)
    else:
        result = func(**{k: v for k, v in objects.items() if k in parameters})
    if inspect.isawaitable(result):
        result = await result
    return float(result)


def score_rollout(funcs, weights, state):
    scores = [asyncio.run(call(func, score_objects(state))) for func in funcs]
    state["metrics"] = {func.__name__: s for func, s in zip(funcs, scores, strict=True)}
    state["reward"] = sum(s * w for s, w in zip(scores, weights, strict=True))


def reward():
    return weighted_sum(
        [MathVerifier(timeout=5.0, no_answer="skip", name="correct"), ThinkAnswerFormat()],
        [1.0, 0.2],
    )


def test_total_is_the_reward_and_parts_are_metrics():
    funcs, weights = rubric_functions(reward())
    state = {
        "prompt": [{"role": "user", "content": "2+2?"}],
        "completion": [{"role": "assistant", "content": "<think>2+2</think><answer>4</answer>"}],
        "answer": "4",
    }
    score_rollout(funcs, weights, state)
    assert state["reward"] == pytest.approx(1.2)
    assert state["metrics"] == {
        "reward": pytest.approx(1.2),
        "reward_applicable": 1.0,
        "correct": 1.0,
        "think_answer_format": 1.0,
    }
    assert "rewardkit" not in state  # nothing unserialisable is left in the state


def test_a_sample_without_a_reward_is_a_finite_zero_with_a_flag():
    funcs, weights = rubric_functions(reward(), not_applicable_score=0.0)
    state = {"prompt": "2+2?", "completion": "no idea", "answer": "4"}
    score_rollout(funcs, weights, state)
    assert state["reward"] == 0.0 and state["metrics"]["reward_applicable"] == 0.0


def test_a_verifiers_reward_function_is_a_term():
    def exact(completion, answer) -> float:
        return float(completion[-1]["content"] == answer)

    async def short(completion, **kwargs) -> float:
        await asyncio.sleep(0)
        return float(len(completion[-1]["content"]) < 3)

    def broken(completion) -> float:
        raise ValueError("bad rollout")

    batch = {
        "completion": [
            [{"role": "assistant", "content": "4"}],
            [{"role": "assistant", "content": "five"}],
        ],
        "answer": ["4", "4"],
    }
    assert from_verifiers(exact)(batch).total.tolist() == [1.0, 0.0]
    assert from_verifiers(short)(batch).total.tolist() == [1.0, 0.0]
    out = from_verifiers(broken)(batch)
    assert (out.status == Status.ERROR).all() and "bad rollout" in out.messages[0]


def test_the_real_rubric_when_installed():
    vf = pytest.importorskip("verifiers")
    if not hasattr(vf, "Rubric"):
        pytest.skip("this verifiers (0.4+) has no Rubric")
    rubric = to_rubric(reward())
    state = {"prompt": "2+2?", "completion": "<think>x</think><answer>4</answer>", "answer": "4"}
    asyncio.run(rubric.score_rollout(state))
    assert state["reward"] == pytest.approx(1.2) and state["metrics"]["correct"] == 1.0


def test_the_term_runs_once_per_rollout_even_with_a_fresh_state_per_function():
    calls = []

    from rewardkit.core import term

    @term
    def counted(completion, answer):
        calls.append(1)
        return [float(c == a) for c, a in zip(completion, answer, strict=True)]

    funcs, _ = rubric_functions(counted)
    for func in funcs:  # some verifiers versions hand each function its own state dict
        func(prompt="q", completion="4", answer="4", state={}, info={})
    assert len(calls) == 1
