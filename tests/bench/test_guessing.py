"""The higher/lower guessing game: replies, demonstrations and the outcome term."""

import random

import pytest

from rewardkit.core.errors import ConfigurationError
from rewardkit_bench.tasks.guessing import GuessingGame, GuessOutcome, interval_policy_accuracy


def test_replies_follow_the_rules():
    game = GuessingGame(low=1, high=15, guesses=3)
    row = {"prompt": "?", "answer": "6"}
    assert game.reply(row, 0, "8") == "<"
    assert game.reply(row, 1, "4") == ">"
    assert game.reply(row, 1, "6") == "="
    assert game.reply(row, 2, "9") == "<!"  # the last guess also cues the answer
    assert game.reply(row, 0, "16") == "x"  # out of range
    assert game.reply(row, 0, "") == "x"
    assert game.reply(row, 0, "1<") == "x"
    assert game.reply(row, 3, "6") == ""  # the answer turn gets no reply
    assert game.turns == 4 and game.turn_tokens == 3


def test_demonstrations_stay_inside_the_consistent_interval():
    game = GuessingGame(low=1, high=31, guesses=4)
    rng = random.Random(0)
    for _ in range(300):
        secret = rng.randint(1, 31)
        pieces = game.demonstration(secret, rng)
        low, high = 1, 31
        for (guess_text, mine), (reply, theirs) in zip(pieces[:-1:2], pieces[1::2], strict=True):
            assert mine and not theirs
            guess = int(guess_text.rstrip(";"))
            assert low <= guess <= high
            assert reply.rstrip("!") == ("<" if secret < guess else ">" if secret > guess else "=")
            if reply.startswith("="):
                low = high = guess
            elif reply.startswith("<"):
                high = guess - 1
            else:
                low = guess + 1
        assert low <= int(pieces[-1][0]) <= high
        assert pieces[-2][0].endswith("!")


def test_the_demonstrators_win_rate_matches_the_exact_value():
    # 1..3, one guess: a hit or a middle guess wins (5 of 9 secret-guess pairs); an edge
    # miss leaves two numbers (4 pairs, half won): 7/9
    game = GuessingGame(low=1, high=3, guesses=1)
    assert interval_policy_accuracy(game, episodes=40_000) == pytest.approx(7 / 9, abs=0.012)


def test_outcome_reads_the_answer_after_the_last_cue():
    outcome = GuessOutcome()
    batch = {"completion": ["8;<4;>6;=!6", "8;<4;>5;>!7", "8;<4;>6;=", "x!6;!6"],
             "answer": ["6", "6", "6", 6]}  # fmt: skip
    assert outcome(batch).total.tolist() == [1.0, 0.0, 0.0, 1.0]


def test_bad_settings_and_secrets_are_refused():
    with pytest.raises(ConfigurationError):
        GuessingGame(low=5, high=5)
    with pytest.raises(ConfigurationError):
        GuessingGame(guesses=0)
    with pytest.raises(ConfigurationError, match="outside"):
        GuessingGame().problems([0])
