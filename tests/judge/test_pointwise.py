"""Pointwise judges: hand-computed rewards from a scripted server, mechanics on a real one."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import Status
from rewardkit.judge import (
    Criterion,
    JudgeSettings,
    LabelJudge,
    PromptTemplate,
    ReferenceJudge,
    RubricJudge,
    ScoreJudge,
    YesNoJudge,
)
from rewardkit.verify import extract_boxed
from tests.judge.conftest import Answer, chat, error, fake_settings

NOWHERE = JudgeSettings(model="m", base_url="http://127.0.0.1:9/v1")  # never called
BATCH = {
    "prompt": ["What is 2+2?", "What is 3+3?"],
    "completion": ["4", "7"],
    "answer": ["4", "6"],
}


def _user(body) -> str:
    return body["messages"][-1]["content"]


def _response(body) -> str:
    """The response a default template showed (the text after "Response:")."""
    found = re.search(r"(?:Response|Student response):\n(.*?)\n\n", _user(body), re.S)
    assert found, _user(body)
    return found.group(1)


# -- score ---------------------------------------------------------------------------------


def test_score_judge_rescales_each_answer(fake):
    fake.answer = lambda body: chat({"4": "Score: 9", "7": "Score: 2"}[_response(body)])
    out = ScoreJudge(fake_settings(fake), low=0, high=10)(BATCH)
    np.testing.assert_allclose(out.total, [0.9, 0.2])
    assert (out.status == Status.OK).all() and out.messages == (None, None)
    assert list(out.terms) == ["judge_score"]
    prompts = sorted(_user(body) for body in fake.bodies())  # they arrive in any order
    assert prompts[0].startswith("Question:\nWhat is 2+2?\n\nResponse:\n4\n\n")
    assert "from 0 (useless or wrong) to 10 (fully correct" in prompts[0]


def test_score_judge_needs_a_range():
    with pytest.raises(ConfigurationError, match="low < high"):
        ScoreJudge(NOWHERE, low=5, high=5)


# -- label ---------------------------------------------------------------------------------


def test_label_judge_gives_each_label_its_value(fake):
    verdicts = {"4": "The response is partially correct? No: it is correct.", "7": "incorrect"}
    fake.answer = lambda body: chat(verdicts[_response(body)])
    values = {"correct": 1.0, "partially correct": 0.5, "incorrect": -1.0}
    out = LabelJudge(fake_settings(fake), values)(BATCH)
    # row 0 names two labels: an error, not a guess; row 1 is incorrect: -1
    assert math.isnan(out.total[0]) and out.status[0] == Status.ERROR
    assert "several labels" in out.messages[0]
    assert out.total[1] == -1.0 and out.status[1] == Status.OK
    assert "correct, partially correct, incorrect" in _user(fake.bodies()[0])


def test_label_judge_with_passing_labels_is_one_or_zero(fake):
    fake.answer = lambda body: chat({"4": "Label: pass", "7": '{"label": "FAIL"}'}[_response(body)])
    out = LabelJudge(fake_settings(fake), ["pass", "fail"], passing=["pass"])(BATCH)
    np.testing.assert_array_equal(out.total, [1.0, 0.0])


@pytest.mark.parametrize(
    ("labels", "passing", "says"),
    [
        ({"a": 1.0, "b": 0.0}, ["a"], "not both"),
        (["a", "b"], ["c"], "passing must name some of the labels"),
        (["a", "b"], [], "passing must name some of the labels"),
        ({"a": 1.0}, (), "at least two labels"),
    ],
)
def test_label_judge_refuses_unusable_labels(labels, passing, says):
    with pytest.raises(ConfigurationError, match=says):
        LabelJudge(NOWHERE, labels, passing=passing)


# -- yes/no --------------------------------------------------------------------------------


def test_yes_no_auto_reads_the_first_token_probabilities(fake):
    # P(yes) = 0.6, P(no) = 0.2 among the alternatives: 0.6 / 0.8 = 0.75
    logprobs = {"Yes": math.log(0.6), "No": math.log(0.2), "Maybe": math.log(0.2)}
    fake.answer = lambda body: chat("Yes", top_logprobs=logprobs)
    out = YesNoJudge(fake_settings(fake), probability="auto")(BATCH)
    np.testing.assert_allclose(out.total, [0.75, 0.75])
    body = fake.bodies()[0]
    assert body["logprobs"] is True and body["top_logprobs"] == 5


def test_yes_no_auto_falls_back_to_the_text_without_probabilities(fake):
    fake.answer = lambda body: chat({"4": "Yes.", "7": "No, it is 6."}[_response(body)])
    out = YesNoJudge(fake_settings(fake), probability="auto")(BATCH)
    np.testing.assert_array_equal(out.total, [1.0, 0.0])


def test_yes_no_text_ignores_probabilities_and_does_not_ask_for_them(fake):
    fake.answer = lambda body: chat("No", top_logprobs={"Yes": -0.1, "No": -3.0})
    out = YesNoJudge(fake_settings(fake), probability="text")(BATCH)
    np.testing.assert_array_equal(out.total, [0.0, 0.0])
    assert "logprobs" not in fake.bodies()[0]


def test_yes_no_systemone_reads_the_decision_probability(fake):
    probabilities = iter([0.8, 0.3])
    fake.script = [
        Answer(200, {"answers": {"verdict": {"type": "noul", "noul": next(probabilities)}}})
        for _ in range(2)
    ]
    judge = YesNoJudge(
        fake_settings(fake, max_concurrency=1), probability="systemone", decision="Right?"
    )
    out = judge(BATCH)
    np.testing.assert_allclose(out.total, [0.8, 0.3])
    path, body = fake.requests[0]
    assert path == "/v1/systemone" and body["model"] == "fake-judge"
    assert body["questions"] == {"verdict": {"type": "noul", "instructions": "Right?"}}
    assert body["state"].startswith("You are a strict") and "What is 2+2?" in body["state"]
    assert judge.update(BATCH)["calls"] == 2.0


def test_yes_no_refuses_unknown_probability_modes():
    with pytest.raises(ConfigurationError, match="probability must be"):
        YesNoJudge(NOWHERE, probability="votes")  # type: ignore[arg-type]
    from dataclasses import replace

    warm = replace(NOWHERE, temperature=0.7)
    with pytest.raises(ConfigurationError, match="systemone"):
        YesNoJudge(warm, probability="systemone", samples=3)


# -- reference -----------------------------------------------------------------------------


def test_reference_judge_reads_the_answer_column(fake):
    def answer(body):
        text = _user(body)
        reference = re.search(r"Reference answer: (\S+)", text).group(1)
        return chat("Yes" if reference == _response(body) else "No")

    fake.answer = answer
    judge = ReferenceJudge(fake_settings(fake), probability="text")
    assert judge.columns == ("prompt", "completion", "answer")
    out = judge(BATCH)
    np.testing.assert_array_equal(out.total, [1.0, 0.0])
    with pytest.raises(Exception, match="answer"):
        judge({"prompt": ["q"], "completion": ["a"]})  # no reference to read


def test_a_numeric_reference_is_shown_as_it_prints(fake):
    fake.answer = lambda body: chat("Yes")
    batch = {"prompt": ["2+2?", "3+3?"], "completion": ["4", "6"], "answer": [4, np.int64(6)]}
    out = ReferenceJudge(fake_settings(fake), probability="text")(batch)
    assert (out.status == Status.OK).all()
    shown = sorted(re.search(r"Reference answer: (.*)", _user(b)).group(1) for b in fake.bodies())
    assert shown == ["4", "6"]


def test_a_template_naming_reference_makes_any_judge_read_answer(fake):
    template = PromptTemplate("Q: {question}\nReference: {reference}\nR: {response}\nScore: ?")
    judge = ScoreJudge(fake_settings(fake), template=template)
    assert judge.columns == ("prompt", "completion", "answer")
    judge(BATCH)
    assert sorted(_user(body) for body in fake.bodies()) == [
        "Q: What is 2+2?\nReference: 4\nR: 4\nScore: ?",
        "Q: What is 3+3?\nReference: 6\nR: 7\nScore: ?",
    ]
    assert ScoreJudge(fake_settings(fake)).columns == ("prompt", "completion")


@pytest.mark.parametrize(
    "template",
    [
        PromptTemplate("Rate {response} against {rubric}."),  # a field no judge fills
        PromptTemplate("Rate {response}.", system="Use {style}."),
        PromptTemplate("Rate {}."),  # positional
        PromptTemplate("Rate {response.text}."),  # attribute access
    ],
)
def test_a_template_naming_an_unknown_field_fails_when_the_judge_is_built(template):
    with pytest.raises(ConfigurationError, match="template"):
        ScoreJudge(NOWHERE, template=template)


def test_a_template_renders_literal_braces():
    template = PromptTemplate('Reply {{"ok": true}} about {response}.', system="Judge {question}.")
    assert template.fields == ("question", "response")
    assert template.render({"question": "q", "response": "r"}) == [
        {"role": "system", "content": "Judge q."},
        {"role": "user", "content": 'Reply {"ok": true} about r.'},
    ]


# -- rubric --------------------------------------------------------------------------------


def test_rubric_is_the_weighted_mean_of_its_criteria(fake):
    # "correct" (weight 2) passes for row 0 only, "brief" (weight 1) for both:
    # row 0: (2 * 1 + 1 * 1) / 3 = 1.0, row 1: (2 * 0 + 1 * 1) / 3 = 1/3
    def answer(body):
        text = _user(body)
        if "final answer is right" in text:
            return chat("Yes" if _response(body) == "4" else "No")
        return chat("Yes")

    fake.answer = answer
    criteria = [
        Criterion("correct", "The final answer is right.", weight=2.0),
        {"name": "brief", "description": "It is short."},
    ]
    out = RubricJudge(fake_settings(fake), criteria)(BATCH)
    np.testing.assert_allclose(out.total, [1.0, 1 / 3])
    assert set(out.terms) == {"judge_rubric", "correct", "brief"}
    np.testing.assert_array_equal(out.terms["correct"], [1.0, 0.0])
    np.testing.assert_array_equal(out.terms["brief"], [1.0, 1.0])
    assert fake.calls == 4  # one call per criterion per row


@pytest.mark.parametrize(
    ("criteria", "says"),
    [
        ([], "at least one criterion"),
        ([Criterion("a", "x"), Criterion("a", "y")], "distinct"),
        ([Criterion("spread", "x")], "distinct"),
        ([Criterion("judge_rubric", "x")], "distinct"),
        ([{"name": "a", "description": "x", "weight": 0.0}], "positive weight"),
    ],
)
def test_rubric_refuses_unusable_criteria(criteria, says):
    with pytest.raises(ConfigurationError, match=says):
        RubricJudge(NOWHERE, criteria)


# -- self-consistency ------------------------------------------------------------------------


def test_self_consistency_averages_samples_with_their_own_seeds(fake):
    # seeds 0, 1, 2 answer 6, 8, 10: mean 0.8, spread std(0.6, 0.8, 1.0) = sqrt(0.08 / 3)
    fake.answer = lambda body: chat(f"Score: {6 + 2 * body['seed']}")
    judge = ScoreJudge(fake_settings(fake, temperature=0.7), samples=3)
    out = judge({"prompt": ["q"], "completion": ["a"]})
    assert out.total[0] == pytest.approx(0.8)
    assert out.terms["spread"][0] == pytest.approx(math.sqrt(0.08 / 3))
    assert sorted(b["seed"] for b in fake.bodies()) == [0, 1, 2]
    assert {b["temperature"] for b in fake.bodies()} == {0.7}


def test_min_judgments_scores_a_row_that_lost_some_samples(fake):
    def answer(body):
        return error(500) if body["seed"] == 12 else chat(f"Score: {body['seed'] - 5}")

    fake.answer = answer
    settings = fake_settings(fake, temperature=1.0, seed=10)
    strict = ScoreJudge(settings, samples=3)({"prompt": ["q"], "completion": ["a"]})
    assert strict.status[0] == Status.ERROR and "HTTP 500" in strict.messages[0]
    lenient = ScoreJudge(settings, samples=3, min_judgments=2)(
        {"prompt": ["q"], "completion": ["a"]}
    )
    assert lenient.status[0] == Status.OK and lenient.total[0] == pytest.approx(0.55)  # 5, 6
    # the row is scored, but it says a judgment failed, and its spread is not a full set's
    assert lenient.messages[0].startswith("1 of 3 judgments failed: ")
    assert math.isnan(lenient.terms["spread"][0])


def test_self_consistency_needs_a_temperature_and_a_sensible_minimum():
    with pytest.raises(ConfigurationError, match="temperature 0"):
        ScoreJudge(NOWHERE, samples=3)
    from dataclasses import replace

    warm = replace(NOWHERE, temperature=0.5)
    with pytest.raises(ConfigurationError, match="min_judgments"):
        ScoreJudge(warm, samples=2, min_judgments=3)
    with pytest.raises(ConfigurationError, match="samples must be at least 1"):
        ScoreJudge(warm, samples=0)


# -- final answers ---------------------------------------------------------------------------


def test_final_answer_shows_the_judge_only_the_answer(fake):
    fake.answer = lambda body: chat("Yes" if _response(body) == "4" else "No")
    batch = {
        "prompt": ["What is 2+2?", "What is 2+2?", "What is 2+2?"],
        "completion": ["Long reasoning... so \\boxed{4}", "Thought process:", "\\boxed{5}"],
    }
    judge = YesNoJudge(fake_settings(fake), probability="text", final_answer=extract_boxed)
    out = judge(batch)
    # no final answer: 0.0, status ok, said why, and no call made for it
    np.testing.assert_array_equal(out.total, [1.0, 0.0, 0.0])
    assert (out.status == Status.OK).all()
    assert out.messages[0] is None and out.messages[2] is None
    assert out.messages[1].startswith("no answer")
    assert fake.calls == 2
    assert sorted(_response(b) for b in fake.bodies()) == ["4", "5"]


def test_chat_messages_are_read_by_role(fake):
    fake.answer = lambda body: chat("Yes" if _response(body) == "4" else "No")
    batch = {
        "prompt": [
            [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "2+2?"}]
        ],
        "completion": [[{"role": "assistant", "content": "4"}]],
    }
    out = YesNoJudge(fake_settings(fake), probability="text")(batch)
    assert out.total[0] == 1.0
    assert "Question:\n2+2?\n" in _user(fake.bodies()[0])


# -- against a real server -------------------------------------------------------------------

CRITERIA = [Criterion("correct", "The final answer is right.", 2.0), Criterion("brief", "Short.")]

#: kind -> (build the judge from settings, the chat requests it sends for BATCH)
REAL_KINDS = {
    "score": (lambda s: ScoreJudge(s), 2),
    "label": (lambda s: LabelJudge(s, ["correct", "incorrect"], passing=["correct"]), 2),
    "yes_no_text": (lambda s: YesNoJudge(s, probability="text"), 2),
    "yes_no_auto": (lambda s: YesNoJudge(s, probability="auto"), 2),
    "reference": (lambda s: ReferenceJudge(s, probability="text"), 2),
    "rubric": (lambda s: RubricJudge(s, CRITERIA), 4),
}


def _assert_mechanics(out, n: int) -> None:
    """Shape, statuses, values in [0, 1] exactly where ok, messages exactly where not."""
    assert out.total.shape == (n,) and out.status.shape == (n,) and len(out.messages) == n
    assert set(out.status.tolist()) <= {Status.OK, Status.ERROR}
    ok = out.status == Status.OK
    assert np.all((out.total[ok] >= 0.0) & (out.total[ok] <= 1.0))
    assert np.isnan(out.total[~ok]).all()
    for row in range(n):
        assert (out.messages[row] is None) == bool(ok[row]), out.messages[row]


@pytest.mark.real_model
@pytest.mark.slow
@pytest.mark.parametrize("kind", REAL_KINDS)
def test_each_pointwise_kind_against_a_real_server(real_settings, kind):
    build, requests = REAL_KINDS[kind]
    judge = build(real_settings)
    out = judge(BATCH)
    _assert_mechanics(out, 2)
    keys = {"judge_rubric", "correct", "brief"} if kind == "rubric" else {judge.name}
    assert set(out.terms) == keys
    usage = judge.update(BATCH)
    assert usage["calls"] + usage["failures"] == requests and usage["cache_hits"] == 0
    assert usage["timeouts"] == 0
    if usage["calls"]:
        assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0


@pytest.mark.real_model
@pytest.mark.slow
def test_systemone_probabilities_from_a_real_server(real_settings):
    judge = YesNoJudge(real_settings, probability="systemone")
    out = judge(BATCH)
    # the decision endpoint answers every row with a probability: all ok, in [0, 1]
    assert (out.status == Status.OK).all() and out.messages == (None, None)
    assert np.all((out.total >= 0.0) & (out.total <= 1.0))
    assert judge.update(BATCH)["calls"] == 2.0


@pytest.mark.real_model
@pytest.mark.slow
def test_self_consistency_and_final_answers_against_a_real_server(real_settings):
    from dataclasses import replace

    warm = replace(real_settings, temperature=0.8)
    judge = YesNoJudge(warm, probability="text", samples=3, final_answer=extract_boxed)
    batch = {
        "prompt": ["What is 2+2?", "What is 2+2?"],
        "completion": ["I add them: \\boxed{4}", "Thought process:"],
    }
    out = judge(batch)
    assert set(out.terms) == {"judge_yes_no", "spread"}
    # row 1 states no answer: 0.0, ok, said why, no call; row 0 is three sampled calls
    assert out.total[1] == 0.0 and out.status[1] == Status.OK
    assert out.messages[1].startswith("no answer") and math.isnan(out.terms["spread"][1])
    assert out.status[0] in (Status.OK, Status.ERROR)
    if out.status[0] == Status.OK:
        assert 0.0 <= out.total[0] <= 1.0 and out.messages[0] is None
        assert 0.0 <= out.terms["spread"][0] <= 0.5
    else:
        assert math.isnan(out.total[0]) and out.messages[0]
    usage = judge.update(batch)
    assert usage["calls"] + usage["failures"] == 3


def test_a_verifier_first_and_the_judge_only_where_it_abstains(fake):
    from rewardkit.core import fallback, term

    @term
    def exact(completion, answer):
        return [
            None if not c.isdigit() else float(c == a)
            for c, a in zip(completion, answer, strict=True)
        ]

    fake.answer = lambda body: chat("Yes")
    reward = fallback(exact, YesNoJudge(fake_settings(fake), probability="text"))
    batch = {"prompt": ["q"] * 3, "completion": ["4", "four", "5"], "answer": ["4", "4", "4"]}
    out = reward(batch)
    np.testing.assert_array_equal(out.total, [1.0, 1.0, 0.0])
    assert fake.calls == 1 and _response(fake.bodies()[0]) == "four"
    assert reward.update(batch)["judge_yes_no/calls"] == 1.0


@pytest.mark.parametrize("probability", ["text", "systemone"])
def test_a_completion_without_a_final_answer_is_not_applicable_and_costs_no_call(fake, probability):
    fake.answer = lambda body: chat("Yes")
    if probability == "systemone":
        fake.script = [Answer(200, {"answers": {"verdict": {"type": "noul", "noul": 0.9}}})]
    cut_off = [
        {"role": "assistant", "content": "", "tool_calls": [{"id": "1"}]},
        {"role": "tool", "content": "4"},
    ]
    batch = {"prompt": ["2+2?", "2+2?"], "completion": ["4", cut_off]}
    out = YesNoJudge(fake_settings(fake), probability=probability)(batch)
    assert out.status.tolist() == [Status.OK, Status.NOT_APPLICABLE]
    assert math.isnan(out.total[1]) and "ends with a 'tool' message" in out.messages[1]
    assert fake.calls == 1


# -- inputs a judge cannot use --------------------------------------------------------------


def test_yes_no_reads_log_probabilities_only_where_the_first_token_is_the_verdict(fake):
    # "The response is wrong, no." starts with "The": its alternatives say nothing of the
    # verdict, so the text is read ("The ..." is no leading Yes/No: unreadable, an error)
    alternatives = {"The": math.log(0.9), "Yes": math.log(0.06), "No": math.log(0.04)}
    fake.answer = lambda body: chat("The response is wrong, no.", top_logprobs=alternatives)
    out = YesNoJudge(fake_settings(fake), probability="auto")(BATCH)
    assert list(out.status) == [Status.ERROR, Status.ERROR]
    assert np.isnan(out.total).all()


def test_a_reference_judge_without_a_reference_makes_no_call(fake):
    fake.answer = lambda body: chat("Yes")
    batch = {"prompt": ["q"] * 4, "completion": ["4"] * 4, "answer": ["4", None, float("nan"), " "]}
    out = ReferenceJudge(fake_settings(fake), probability="text")(batch)
    assert out.total[0] == 1.0 and fake.calls == 1
    assert list(out.status[1:]) == [Status.NOT_APPLICABLE] * 3
    assert all("no reference answer" in m for m in out.messages[1:])


def test_a_final_answer_extractor_that_raises_fails_its_row_only(fake):
    fake.answer = lambda body: chat("Yes")

    def extract(text):
        if text == "boom":
            raise ValueError("cannot read")
        return text

    batch = {"prompt": ["q", "q"], "completion": ["4", "boom"], "answer": ["4", "4"]}
    out = ReferenceJudge(fake_settings(fake), probability="text", final_answer=extract)(batch)
    assert out.total[0] == 1.0 and out.status[1] == Status.ERROR
    assert out.messages[1] == "final_answer raised ValueError: cannot read"
    assert fake.calls == 1


@pytest.mark.parametrize("probability", ["auto", "logprobs", "systemone"])
def test_self_consistency_needs_the_text_verdict(probability):
    from dataclasses import replace

    with pytest.raises(ConfigurationError, match="self-consistency"):
        YesNoJudge(replace(NOWHERE, temperature=0.5), probability=probability, samples=3)


def test_a_rubric_whose_every_call_fails_keeps_its_breakdown_keys(fake):
    fake.answer = lambda body: error(500)
    out = RubricJudge(fake_settings(fake), [Criterion("a", "A."), Criterion("b", "B.")])(BATCH)
    assert set(out.terms) == {"judge_rubric", "a", "b"}
    assert np.isnan(out.terms["a"]).all() and (out.status == Status.ERROR).all()
