"""Language to Rewards: a template's values from scripted replies, every branch of the check."""

from __future__ import annotations

import asyncio
import pickle

import numpy as np
import pytest

from rewardkit.author.parameters import (
    AuthoringFailure,
    FilledTemplate,
    Parameter,
    RewardTemplate,
    TemplateReward,
    fill_template,
)
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import Status
from rewardkit.judge import ChatRequest, JudgeClient, JudgeFailure, JudgeSettings, Reply
from rewardkit.judge.parse import UnparseableAnswerError
from rewardkit.shaping import PotentialShaping


def reach(values, batch):
    x = np.asarray(batch["obs"], dtype=float)[:, 0]
    return -values["weight"] * (x - values["target"]) ** 2


TEMPLATE = RewardTemplate(
    "reach",
    "reward = -weight * (x - target)^2",
    (
        Parameter("weight", 0.0, 10.0, "how much distance costs"),
        Parameter("target", -1.0, 1.0, "where x should end"),
    ),
    reach,
)
STATE_ONLY = RewardTemplate("reach_state", "as above", TEMPLATE.parameters, reach, ("obs",))


class ScriptedClient(JudgeClient):
    """Answers each request with the next scripted text or failure, on the real loop."""

    def __init__(self, *answers: str | JudgeFailure, **settings) -> None:
        super().__init__(JudgeSettings(model="scripted", **settings))
        self.answers = list(answers)
        self.requests: list[ChatRequest] = []

    async def complete(self, request):
        self.requests.append(request)
        await asyncio.sleep(0)
        answer = self.answers.pop(0)
        return answer if isinstance(answer, JudgeFailure) else Reply(answer)


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ('Sure: {"weight": 2, "target": 0.5}', {"weight": 2.0, "target": 0.5}),
        ('```json\n{"weight": "3.5", "target": -1}\n```', {"weight": 3.5, "target": -1.0}),
        ("weight: 4\n**target** = 0.25", {"weight": 4.0, "target": 0.25}),
        ("The weight is 1 and target: 0", {"weight": 1.0, "target": 0.0}),
    ],
)
def test_values_are_read_from_json_or_name_number_lines(text, values):
    filled = TEMPLATE.parse(text)
    assert filled.values == values and filled.clamped == () and filled.text == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"weight": 2}', "missing parameters ['target']"),
        ("{} weight: 1, target: 0", "missing parameters ['weight', 'target']"),
        ('{"weight": 20, "target": 0}', "weight=20 is outside [0, 10]"),
        ('{"weight": true, "target": 0}', "weight=True is not a finite number"),
        ('{"weight": "a lot", "target": 0}', "weight='a lot' is not a finite number"),
        ('{"weight": "nan", "target": 0}', "is not a finite number"),
        ("I think the weight should be large.", "no JSON object and no 'name: number' lines"),
        ("weight: 1, weight: 2, target: 0", "several values [1.0, 2.0] for weight"),
        ("target == 0 and weight == 1", "no JSON object"),
        ("I'm sorry, I can't help with that.", "the model refused"),
    ],
)
def test_a_bad_answer_is_an_error_that_says_why(text, reason):
    with pytest.raises(UnparseableAnswerError) as caught:
        TEMPLATE.parse(text)
    assert reason in str(caught.value)


def test_out_of_range_values_are_clamped_only_when_asked_and_recorded():
    filled = TEMPLATE.parse('{"weight": 20, "target": -3, "speed": 9}', clamp=True)
    assert filled.values == {"weight": 10.0, "target": -1.0}
    assert filled.clamped == ("weight", "target") and filled.ignored == ("speed",)


def test_a_users_own_values_are_checked_the_same_way():
    assert TEMPLATE.fill({"weight": 1, "target": 0}).values == {"weight": 1.0, "target": 0.0}
    with pytest.raises(ConfigurationError, match="outside"):
        TEMPLATE.fill({"weight": -1, "target": 0})


def test_the_prompt_names_every_parameter_its_range_and_the_instruction():
    request = TEMPLATE.prompt("stop at one half", seed=3)
    text = request.messages[-1]["content"]
    assert "stop at one half" in text and "reward = -weight" in text
    assert "- weight: how much distance costs (from 0 to 10)" in text
    assert "- target: where x should end (from -1 to 1)" in text
    assert "keys weight, target" in text and request.messages[0]["role"] == "system"
    assert request.params == {"seed": 3}


def test_template_and_parameter_validation():
    with pytest.raises(ConfigurationError, match="identifier"):
        Parameter("the weight", 0, 1, "x")
    with pytest.raises(ConfigurationError, match="low < high"):
        Parameter("w", 1, 1, "x")
    with pytest.raises(ConfigurationError, match="distinct"):
        RewardTemplate("t", "d", (Parameter("w", 0, 1, "x"),) * 2, reach)
    with pytest.raises(ConfigurationError, match="function"):
        RewardTemplate("t", "d", (Parameter("w", 0, 1, "x"),), "reach")  # type: ignore[arg-type]


def test_the_filled_template_is_a_picklable_term_over_its_columns():
    term = TEMPLATE.parse('{"weight": 2, "target": 0.5}').term()
    assert isinstance(term, TemplateReward) and term.name == "reach"
    assert term.columns == ("obs", "action")
    batch = {"obs": [[0.0], [0.5]], "action": [0, 1]}
    np.testing.assert_allclose(term(batch).total, [-0.5, 0.0])
    np.testing.assert_allclose(pickle.loads(pickle.dumps(term))(batch).total, [-0.5, 0.0])


def test_a_state_only_template_is_a_potential_for_shaping():
    filled = STATE_ONLY.fill({"weight": 1, "target": 0})
    shaping = PotentialShaping(filled.potential(), gamma=1.0)
    out = shaping({"obs": [[1.0]], "next_obs": [[0.0]], "terminated": [False]})
    np.testing.assert_allclose(out.total, [1.0])  # Φ(s') − Φ(s) = 0 − (−1)
    with pytest.raises(ConfigurationError, match="one observation column"):
        TEMPLATE.fill({"weight": 1, "target": 0}).potential()


def test_fill_template_gives_one_result_per_attempt_in_order():
    client = ScriptedClient(
        '{"weight": 1, "target": 0}',
        "no numbers here",
        '{"weight": 11, "target": 0}',
        JudgeFailure(Status.TIMEOUT, "no answer within deadline_s=60"),
        temperature=0.7,
        seed=10,
    )
    try:
        results = fill_template(client, TEMPLATE, "go to zero", attempts=4, max_tokens=32)
    finally:
        client.close()
    ok, unreadable, outside, timeout = results
    assert isinstance(ok, FilledTemplate) and ok.values == {"weight": 1.0, "target": 0.0}
    assert isinstance(unreadable, AuthoringFailure) and unreadable.status == Status.ERROR
    assert unreadable.text == "no numbers here" and "no JSON object" in unreadable.reason
    assert isinstance(outside, AuthoringFailure) and "weight=11 is outside" in outside.reason
    assert timeout == AuthoringFailure(Status.TIMEOUT, "no answer within deadline_s=60")
    assert sorted(r.params["seed"] for r in client.requests) == [10, 11, 12, 13]
    assert {r.params["max_tokens"] for r in client.requests} == {32}


def test_fill_template_clamps_only_when_asked():
    client = ScriptedClient('{"weight": 11, "target": 0}')
    try:
        (filled,) = fill_template(client, TEMPLATE, "go", clamp=True)
    finally:
        client.close()
    assert isinstance(filled, FilledTemplate) and filled.clamped == ("weight",)


def test_several_attempts_need_sampling_and_attempts_must_be_positive():
    client = ScriptedClient()
    with pytest.raises(ConfigurationError, match="temperature 0"):
        fill_template(client, TEMPLATE, "go", attempts=2)
    with pytest.raises(ConfigurationError, match="at least 1"):
        fill_template(client, TEMPLATE, "go", attempts=0)
