"""A multi-turn text task: guess a hidden number, told "higher" or "lower" after each guess.

The secret s is an integer in ``[low, high]``. The episode's text starts
with the prompt ``"?"``. For ``guesses`` turns the model writes a guess and
``";"``; the environment answers ``"<"`` (the secret is lower), ``">"``
(higher), ``"="`` (that is it) or ``"x"`` (not a number in range), and after
the last guess also ``"!"``, the cue to answer. The last turn is the answer,
ended by EOS. The outcome is 1 when the answer is the secret.

Each reply changes what the model knows: after ``"?8;<4;>"`` the secret is
5, 6 or 7. Binary search always wins when ``high − low + 1 ≤ 2^(guesses+1) − 1``
(15 numbers with 3 guesses); guessing at random inside the interval still
consistent with the replies, as the warm start's demonstrations do, wins
less often (:func:`interval_policy_accuracy`).

Example:
    >>> game = GuessingGame(low=1, high=15, guesses=3)
    >>> row = {"prompt": "?", "answer": "6"}
    >>> [game.reply(row, t, g) for t, g in enumerate(["8", "4", "6"])]
    ['<', '>', '=!']
    >>> GuessOutcome()({"completion": ["8;<4;>6;=!6", "8;<4;>5;>!7"],
    ...                 "answer": ["6", "6"]}).total.tolist()
    [1.0, 0.0]
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.term import RewardTerm
from rewardkit.verify.text import completion_text

__all__ = [
    "GUESSING_ALPHABET",
    "GuessOutcome",
    "GuessingGame",
    "demonstration_ids",
    "interval_policy_accuracy",
]

#: the characters of the game's transcripts
GUESSING_ALPHABET = "0123456789;<>=x!?"


@dataclass(frozen=True)
class GuessingGame:
    """The higher/lower game as a multi-turn text environment (see the module docs).

    It has what :func:`rewardkit.train.multiturn.sample_episodes` needs:
    ``turns`` (the guesses and the answer), ``turn_end``, ``turn_tokens``,
    ``answer_cue`` and :meth:`reply`.
    """

    low: int = 1
    high: int = 15
    guesses: int = 3
    turn_end: str = ";"
    answer_cue: str = "!"

    def __post_init__(self) -> None:
        if not 0 <= self.low < self.high:
            raise ConfigurationError(f"need 0 <= low < high, got {self.low}, {self.high}")
        if self.guesses < 1:
            raise ConfigurationError("the game needs at least one guess")

    @property
    def turns(self) -> int:
        """Model turns per episode: the guesses, then the answer."""
        return self.guesses + 1

    @property
    def turn_tokens(self) -> int:
        """A turn's budget: the longest number and the turn's end."""
        return len(str(self.high)) + 1

    def problems(self, secrets: list[int] | None = None) -> list[dict[str, Any]]:
        """One row per secret (all of ``[low, high]`` by default): ``prompt`` and ``answer``."""
        chosen = range(self.low, self.high + 1) if secrets is None else secrets
        rows = []
        for secret in chosen:
            if not self.low <= secret <= self.high:
                raise ConfigurationError(f"secret {secret} is outside [{self.low}, {self.high}]")
            rows.append({"prompt": "?", "answer": str(secret)})
        return rows

    def parse_guess(self, text: str) -> int | None:
        """The guess in a turn's text, or None when it is not a number in range."""
        text = text.strip()
        if not text.isdigit():
            return None
        value = int(text)
        return value if self.low <= value <= self.high else None

    def reply(self, row: Mapping[str, Any], turn: int, text: str) -> str:
        """The environment's text after model turn ``turn`` (0-based) wrote ``text``."""
        if turn >= self.guesses:
            return ""
        secret, guess = int(row["answer"]), self.parse_guess(text)
        if guess is None:
            feedback = "x"
        else:
            feedback = "<" if secret < guess else ">" if secret > guess else "="
        return feedback + (self.answer_cue if turn == self.guesses - 1 else "")

    def demonstration(self, secret: int, rng: random.Random, guesses: int | None = None) -> list[
        tuple[str, bool]]:  # fmt: skip
        """A warm-start transcript: ``(text, written_by_model)`` pieces after the prompt.

        The demonstrator guesses uniformly inside the interval still consistent
        with the replies, and answers uniformly inside it (the number, once hit).
        ``guesses`` (default: the game's) may be fewer, so the model also learns
        to answer from a shorter history.
        """
        count = self.guesses if guesses is None else guesses
        low, high, found = self.low, self.high, None
        pieces: list[tuple[str, bool]] = []
        for turn in range(count):
            guess = found if found is not None else rng.randint(low, high)
            feedback = "<" if secret < guess else ">" if secret > guess else "="
            if feedback == "=":
                found = guess
            elif feedback == "<":
                high = guess - 1
            else:
                low = guess + 1
            pieces.append((f"{guess}{self.turn_end}", True))
            pieces.append((feedback + (self.answer_cue if turn == count - 1 else ""), False))
        if count == 0:
            pieces.append((self.answer_cue, False))
        answer = found if found is not None else rng.randint(low, high)
        pieces.append((str(answer), True))
        return pieces


def demonstration_ids(
    game: GuessingGame, tokenizer: Any, secret: int, rng: random.Random, guesses: int | None = None
) -> tuple[list[int], list[int]]:
    """A demonstration as token ids from the prompt on, and its loss mask: 1 on the tokens
    the model writes (and the final EOS), 0 on the prompt and the environment's replies."""
    ids: list[int] = tokenizer("?", add_special_tokens=False)["input_ids"]
    mask = [0] * len(ids)
    for text, written_by_model in game.demonstration(secret, rng, guesses):
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids += piece
        mask += [int(written_by_model)] * len(piece)
    return [*ids, tokenizer.eos_token_id], [*mask, 1]


def interval_policy_accuracy(game: GuessingGame, episodes: int = 20_000, seed: int = 0) -> float:
    """The win rate of the demonstrator (:meth:`GuessingGame.demonstration`), by simulation."""
    rng = random.Random(seed)
    wins = 0
    for _ in range(episodes):
        secret = rng.randint(game.low, game.high)
        wins += game.demonstration(secret, rng)[-1][0] == str(secret)
    return wins / episodes


class GuessOutcome(RewardTerm):
    """1 when the text after the last answer cue is the secret (``answer``), else 0."""

    columns = ("completion", "answer")
    abstains = False

    def __init__(self, answer_cue: str = "!", name: str = "guess_outcome") -> None:
        super().__init__(name)
        self.answer_cue = answer_cue

    def _compute(self, batch: Batch) -> list[float]:
        out = []
        texts, answers = get_column(batch, "completion"), get_column(batch, "answer")
        for text, answer in zip(texts, answers, strict=True):
            text = completion_text(text)
            if self.answer_cue not in text:
                out.append(0.0)
                continue
            given = text.rsplit(self.answer_cue, 1)[1].strip()
            out.append(float(given == str(answer).strip()))
        return out
