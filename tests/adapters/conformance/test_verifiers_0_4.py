"""verifiers 0.4 (v1 tasks): rewardkit's reward and metrics scored by ``Task.score`` (0.4.0).

From verifiers 0.4.0's wheel (``verifiers/v1/``):

- ``task.py`` ``Task.score`` (l.213-284): hooks found by their ``reward`` /
  ``metric`` attribute (``utils/decorators.py`` ``discover_decorated``, l.11-26),
  called with the names they declare out of ``task`` (the ``TaskData``),
  ``trace`` and ``runtime`` (``invoke``, l.29-38), all awaited with
  ``asyncio.gather`` (a sync function fails the scoring); a dict result is
  recorded key by key; ``trace.reward`` = sum of ``score x weight``
  (``trace.py`` l.135-141, 472-474); an exception fails the whole scoring;
- ``types.py`` l.62-103: messages are pydantic models, not subscriptable.

And 0.3.1's ``verifiers/legacy/rubrics/math_rubric.py`` l.89-140:
``async def correct_answer(self, parser, completion, answer, **kwargs)``,
reading ``parser.parse_answer(completion)``.

Where verifiers 0.4.0 is installed (``make conformance`` builds
``.venv-verifiers``), the last tests score real traces with a real ``vf.Task``.
"""

import asyncio
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rewardkit.adapters.verifiers import AnswerParser, from_verifiers
from rewardkit.adapters.verifiers_v1 import v1_reward
from rewardkit.core import RewardTerm, weighted_sum
from rewardkit.verify import MathVerifier, ThinkAnswerFormat

ROOT = Path(__file__).resolve().parents[3]


class Message:
    """A v1 message: attributes, no item access."""

    def __init__(self, role, content):
        self.role, self.content = role, content

    def model_dump(self, exclude_none=False):
        return {"role": self.role, "content": self.content}


def reward():
    return weighted_sum(
        [MathVerifier(timeout=5.0, name="correct"), ThinkAnswerFormat()], [1.0, 0.2], name="math"
    )


def score(hooks, task, messages):
    """Task.score's calls: every hook awaited, dicts recorded key by key."""

    async def run():
        return await asyncio.gather(*(hook(task=task, trace=trace) for hook in hooks))

    trace = SimpleNamespace(messages=messages)
    return asyncio.run(run())


def test_the_answer_is_the_assistants_and_a_tool_result_is_none():
    total, metrics = v1_reward(reward())
    task = SimpleNamespace(prompt="3+4?", answer="7")
    good = [Message("user", "3+4?"), Message("assistant", "<think>a</think><answer>7</answer>")]
    cut = [Message("user", "3+4?"), Message("assistant", "calling"), Message("tool", "7")]
    value, logged = score([total, metrics], task, good)
    assert value == pytest.approx(1.2) and logged["math_applicable"] == 1.0
    value, logged = score([total, metrics], task, cut)
    assert value == 0.0  # before: scored from the tool's "7"
    assert logged["math_applicable"] == 0.0 and logged["correct_applicable"] == 0.0


class Explodes(RewardTerm):
    columns = ("completion",)

    def _compute(self, batch):
        raise RuntimeError("boom")


def test_a_failing_term_is_an_error_metric_never_a_failed_scoring():
    total, metrics = v1_reward(Explodes(name="explodes"), not_applicable_score=-1.0)
    task = SimpleNamespace(prompt="q", answer="a")
    value, logged = score([total, metrics], task, [Message("assistant", "x")])
    assert value == -1.0 and logged["explodes_error"] == 1.0
    assert np.isfinite(value)


class LegacyMathRubric:
    """0.3.1's MathRubric: correct_answer reads its parser's parse_answer."""

    def __init__(self, parser):
        self.parser = parser

    async def correct_answer(self, parser, completion, answer, **kwargs) -> float:
        return float((parser.parse_answer(completion) or "") == answer)


class BoxedParser:
    def parse_answer(self, completion):
        text = completion[-1]["content"] if isinstance(completion, list) else completion
        return text.removeprefix("\\boxed{").removesuffix("}")


def test_from_verifiers_passes_the_rubrics_parser():
    term = from_verifiers(LegacyMathRubric(BoxedParser()).correct_answer)
    out = term({"completion": ["\\boxed{4}", "\\boxed{5}"], "answer": ["4", "4"]})
    assert out.total.tolist() == [1.0, 0.0]  # before: an error on every sample


def test_a_plain_function_taking_parser_gets_rewardkits_reading():
    def correct(parser, completion, answer) -> float:
        return float(parser.parse_answer(completion) == answer)

    tool_cut = [{"role": "assistant", "content": "x"}, {"role": "tool", "content": "4"}]
    out = from_verifiers(correct)({"completion": [" 4 ", tool_cut], "answer": ["4", "4"]})
    assert out.total.tolist() == [1.0, 0.0]  # the tool's "4" is not the answer
    assert AnswerParser().parse_answer(tool_cut) is None


# ---- verifiers 0.4.0 itself (make conformance) ----------------------------------------------


@pytest.fixture(scope="module")
def vf():
    return pytest.importorskip("verifiers.v1")


def make_task(vf, term, answer="7"):
    total, metrics = v1_reward(term)

    class MathData(vf.TaskData):
        answer: str

    class MathTask(vf.Task[MathData]):
        math = total
        math_parts = metrics

    return MathTask(MathData(prompt="What is 3+4?", answer=answer))


def trace_of(vf, task, messages):
    trace = vf.Trace(
        task=vf.TraceTask(type="MathTask", data=task.data, key=task.key, hash=task.hash),
        agent=vf.AgentInfo(config=vf.AgentConfig(), name="conformance", trainable=False),
    )
    for i, message in enumerate([vf.UserMessage(content="What is 3+4?"), *messages]):
        node = vf.MessageNode(message=message, parent=i - 1 if i else None, sampled=i > 0)
        trace.nodes.append(node)
    return trace


def test_task_score_records_the_reward_and_the_metrics(vf):
    task = make_task(vf, reward())
    call = vf.ToolCall(id="c1", name="calc", arguments='{"x": "3+4"}')
    rollouts = {
        "right": [vf.AssistantMessage(content="<think>3+4</think><answer>7</answer>")],
        "wrong": [vf.AssistantMessage(content="<think>3+4</think><answer>8</answer>")],
        "tool_cut": [
            vf.AssistantMessage(content="", tool_calls=[call]),
            vf.ToolMessage(tool_call_id="c1", content="7", name="calc"),
        ],
    }
    rewards, applicable = {}, {}
    for name, messages in rollouts.items():
        trace = trace_of(vf, task, messages)
        asyncio.run(task.score(trace))
        rewards[name] = trace.reward
        applicable[name] = trace.metrics["math_applicable"]
    assert rewards == pytest.approx({"right": 1.2, "wrong": 0.2, "tool_cut": 0.0})
    assert applicable == {"right": 1.0, "wrong": 1.0, "tool_cut": 0.0}


def test_a_failing_term_does_not_fail_the_tasks_scoring(vf):
    task = make_task(vf, Explodes(name="explodes"))
    trace = trace_of(vf, task, [vf.AssistantMessage(content="x")])
    asyncio.run(task.score(trace))  # a raise here would be a TaskError for the rollout
    assert trace.reward == 0.0 and trace.metrics["explodes_error"] == 1.0


def test_the_example_runs_on_real_verifiers(vf):
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "integrations" / "verifiers_task.py")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "scored by: verifiers" in done.stdout and "reward: 1.2" in done.stdout


def test_a_03_rubric_never_scores_a_tool_output_as_the_answer():
    """verifiers 0.3.1 ToolEnv: a rollout ending in a tool message (before: correct=1.0)."""
    from rewardkit.adapters.verifiers import rubric_functions

    funcs, _ = rubric_functions(MathVerifier(timeout=5.0, name="correct"))
    completion = [
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c1"}]},
        {"role": "tool", "content": "7"},
    ]
    scores = {f.__name__: f(prompt="3+4?", completion=completion, answer="7") for f in funcs}
    assert scores == {"correct": 0.0, "correct_applicable": 0.0}


def test_to_rubric_on_0_4_points_to_the_v1_adapter(vf):
    from rewardkit.adapters.verifiers import to_rubric

    with pytest.raises(ImportError, match="v1_reward"):
        to_rubric(MathVerifier(timeout=5.0))
