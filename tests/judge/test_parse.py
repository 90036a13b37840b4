"""Reading judge answers: hand-written answers and the value each must give (or refuse)."""

from __future__ import annotations

import math
import re

import pytest

from rewardkit.judge import (
    JudgeSettings,
    Reply,
    ScoreJudge,
    UnparseableAnswerError,
    win_rate_from_orders,
    yes_probability,
)
from rewardkit.judge.parse import (
    json_object,
    parse_group_scores,
    parse_label,
    parse_preference,
    parse_score,
    parse_yes_no,
    refusal,
)

NOWHERE = JudgeSettings(model="m", base_url="http://127.0.0.1:9/v1")  # never called here


# -- json_object -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"score": 8}', {"score": 8}),
        ('```json\n{"score": 8, "reasoning": "ok"}\n```', {"score": 8, "reasoning": "ok"}),
        ('I think {"a": {"b": 1}} is it', {"a": {"b": 1}}),
        ('{not json} then {"score": 3}', {"score": 3}),
        # braces inside a string do not end the object early
        ('{"reasoning": "the set {1, 2", "score": 5}', {"reasoning": "the set {1, 2", "score": 5}),
        (
            '{"reasoning": "\\\\boxed{4} is right", "verdict": "yes"}',
            {"reasoning": "\\boxed{4} is right", "verdict": "yes"},
        ),
        ("no object here", None),
        ("[1, 2]", None),
        ("{unclosed", None),
    ],
)
def test_json_object(text, expected):
    assert json_object(text) == expected


# -- refusal ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("I'm sorry, but I can't help with that.", "I'm sorry"),
        ("I cannot evaluate this response.", "I cannot evaluate"),
        ("I am unable to grade it.", "I am unable"),
        ("I won't judge that.", "I won't judge"),
        ("I\u2019m sorry, I can\u2019t help.", "I\u2019m sorry"),  # typographic apostrophes
        ("The response is correct.", None),
        ("I can help: Score: 7", None),
    ],
)
def test_refusal(text, phrase):
    assert refusal(text) == phrase


# -- parse_score -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "low", "high", "expected"),
    [
        ('{"score": 8}', 0, 10, 8.0),
        ('{"reasoning": "fine", "score": 2.5}', 0, 10, 2.5),
        ("Score: 3/10. The proof skips a case.", 0, 10, 3.0),
        ("Rating = 9", 0, 10, 9.0),
        ("**Score:** 6", 0, 10, 6.0),
        ("I'd give it 7/10 overall.", 0, 10, 7.0),
        ("Score: -3", -5, 5, -3.0),
        ("4", 1, 5, 4.0),  # the only number
        ("Score: 11. No wait, Score: 8", 0, 10, 8.0),  # 11 is out of range, 8 is the only score
    ],
)
def test_parse_score_reads(text, low, high, expected):
    assert parse_score(text, low, high) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I think it is fine.", "no score between 0 and 10"),
        ("Score: 3. Later: Score: 5.", "several scores [3.0, 5.0]"),
        ("Score: 11", "no score between 0 and 10"),
        ("2+2 = 4, the answer is 4.", "no score"),  # two numbers, no label
        # the stated JSON score is out of range: no other number in the text stands in
        ('{"reasoning": "Score: 7 would be fair", "score": 70}', "the score 70 is outside [0, 10]"),
        ("I'm sorry, but I can't rate this. Score: 5", "the judge refused"),
    ],
)
def test_parse_score_refuses_to_guess(text, reason):
    with pytest.raises(UnparseableAnswerError, match=re.escape(reason)):
        parse_score(text, 0, 10)


# -- parse_label -----------------------------------------------------------------------

LABELS = ["correct", "incorrect"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is incorrect.", "incorrect"),  # not read as "correct"
        ("INCORRECT", "incorrect"),
        ("correct", "correct"),
        ("Label: Correct.", "correct"),
        ('{"label": "Incorrect"}', "incorrect"),
        ('{"label": "correct."}', "correct"),
        ('{"label": "correct", "reasoning": "it is not incorrect"}', "correct"),  # JSON first
    ],
)
def test_parse_label_reads(text, expected):
    assert parse_label(text, LABELS) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("It is correct, or maybe incorrect.", "names several labels"),
        ("It looks fine to me.", "names none of the labels"),
        ("correctness matters", "names none"),  # a label only as part of a word
        ('{"label": "partially correct"}', "not one of"),  # JSON states another label
        ("I'm sorry, I can't evaluate whether it is correct.", "refused"),
    ],
)
def test_parse_label_refuses_to_guess(text, reason):
    with pytest.raises(UnparseableAnswerError, match=reason):
        parse_label(text, LABELS)


# -- parse_yes_no ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes.", "yes"),
        ("No, the student's answer is 41.", "no"),
        ("**No**", "no"),
        ("Answer: no", "no"),
        ("The answer is yes.", "yes"),
        ('{"verdict": "no"}', "no"),
        ('{"verdict": "Yes"}', "yes"),
    ],
)
def test_parse_yes_no_reads(text, expected):
    assert parse_yes_no(text) == expected


@pytest.mark.parametrize(
    "text", ["Maybe.", "It could be either yes or no.", "I'm sorry, but I can't help with that."]
)
def test_parse_yes_no_refuses_to_guess(text):
    with pytest.raises(UnparseableAnswerError):
        parse_yes_no(text)


# -- parse_preference ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[A]]", "A"),
        ("After thinking: [[B]]", "B"),
        ("[[tie]]", "tie"),
        ("[[ Tie ]]", "tie"),
        ("Response B is better than A.", "B"),
        ("The winner is A", "A"),
        ("B", "B"),
        ('{"winner": "a"}', "A"),
        ("Both are equally good.", "tie"),
        # "prefer a longer answer" names the article, not response A
        ("I would prefer a longer answer, so Response B is better.", "B"),
    ],
)
def test_parse_preference_reads(text, expected):
    assert parse_preference(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[[A]] ... on reflection [[B]]", "prefers both"),
        ("Both have merits.", "names no winner"),
        ("I prefer a short reply.", "names no winner"),
        ("I'm sorry, but I can't judge these.", "refused"),
    ],
)
def test_parse_preference_refuses_to_guess(text, reason):
    with pytest.raises(UnparseableAnswerError, match=reason):
        parse_preference(text)


# -- parse_group_scores ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"scores": [0.2, 0.9, 0.5]}', [0.2, 0.9, 0.5]),
        ("1: 0.3\n2: 0.8\n3: 1", [0.3, 0.8, 1.0]),
        ("Response 1: 0.3\nResponse 2: **0.8**\nResponse 3 - 0", [0.3, 0.8, 0.0]),
        ("3. 0.1\n1. 0.2\n2. 0.4", [0.2, 0.4, 0.1]),  # by the number, not the line order
    ],
)
def test_parse_group_scores_reads(text, expected):
    assert parse_group_scores(text, 3, 0.0, 1.0) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"scores": [0.2, 0.9]}', "2 scores for 3 responses"),
        ('{"scores": [0.2, 0.9, 1.5]}', r"scores \[1.5\] outside \[0, 1\]"),
        ("1: 0.3\n2: 0.8", "one score for each of responses 1..3"),
        ("1: 0.3\n2: 0.8\n4: 0.1", "one score for each"),
        ("They are all good.", "one score for each"),
    ],
)
def test_parse_group_scores_refuses_to_guess(text, reason):
    with pytest.raises(UnparseableAnswerError, match=reason):
        parse_group_scores(text, 3, 0.0, 1.0)


# -- numbers from answers --------------------------------------------------------------


def test_yes_probability_by_hand():
    # P(yes) = 0.6 ("Yes") + 0.1 (" yes"), P(no) = 0.2: 0.7 / 0.9
    table = {"Yes": math.log(0.6), " yes": math.log(0.1), "No": math.log(0.2), "The": -0.1}
    assert yes_probability(table) == pytest.approx(0.7 / 0.9)
    assert yes_probability({"NO": math.log(0.5)}) == 0.0
    assert yes_probability({"The": -0.1, "A": -2.0}) is None


@pytest.mark.parametrize(
    ("first", "swapped", "expected"),
    [
        ("A", "B", 1.0),  # x preferred in both orders
        ("B", "A", 0.0),  # y preferred in both orders
        ("A", "A", 0.5),  # always the first shown: no information
        ("B", "B", 0.5),
        ("tie", "tie", 0.5),
        ("A", "tie", 0.75),  # 0.5 * (1 + 1 - 0.5)
        ("tie", "A", 0.25),  # 0.5 * (0.5 + 1 - 1)
    ],
)
def test_win_rate_from_orders(first, swapped, expected):
    assert win_rate_from_orders(first, swapped) == expected


@pytest.mark.parametrize(
    ("low", "high", "text", "expected"),
    [
        (0, 10, "Score: 7", 0.7),
        (1, 5, "Score: 1", 0.0),
        (1, 5, "Score: 4", 0.75),
        (-2, 2, "0", 0.5),
    ],
)
def test_score_judge_rescales_to_unit(low, high, text, expected):
    judge = ScoreJudge(NOWHERE, low=low, high=high)
    assert judge.read(judge.name, Reply(text), {}) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "winner"),
    [
        ("Response A is the correct answer.", "A"),  # SmolLM2's usual phrasings
        ("The correct answer is B.", "B"),
        ("The better response is B", "B"),
        ("Answer B was better.", "B"),
    ],
)
def test_the_phrasings_small_judges_use_name_the_winner(text, winner):
    assert parse_preference(text) == winner


@pytest.mark.parametrize("text", ["The correct answer is 42.", "The correct answer is B's"])
def test_a_correct_answer_that_is_not_a_letter_names_no_winner(text):
    with pytest.raises(UnparseableAnswerError):
        parse_preference(text)


@pytest.mark.parametrize(
    "text",
    [
        "No doubt, the answer is correct.",  # a leading "No" that is not a verdict
        "yes and no",
        "The student is right.",
    ],
)
def test_parse_yes_no_does_not_guess(text):
    with pytest.raises(UnparseableAnswerError):
        parse_yes_no(text)


def test_a_number_inside_a_sentence_is_not_a_score():
    with pytest.raises(UnparseableAnswerError):
        parse_score("The student's answer of 3 is incorrect.", 0, 10)
    assert parse_score("**8**.", 0, 10) == 8.0


def test_a_negated_tie_is_not_a_tie():
    with pytest.raises(UnparseableAnswerError):
        parse_preference("It is not a tie, both differ.")
    assert parse_preference("It is a tie.") == parse_preference("The answer is a tie.") == "tie"
