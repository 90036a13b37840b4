"""A BR-RM-style two-turn pairwise judge: branch on a few dimensions, then rethink.

"Think Twice: Branch-and-Rethink Reasoning Reward Model" (BR-RM; Jiao et al., 2025,
arXiv:2510.23596) judges a pair of responses in two turns of one conversation, to keep
its attention on what matters for the instance ("judgment diffusion" is their name for
one-shot judging spread thin over every criterion):

1. **adaptive branching**: the judge picks a small set of instance-critical dimensions
   (one to three) from a fixed list (:data:`DIMENSIONS`) and writes a short hypothesis
   per response about the error it may make along them;
2. **branch-conditioned rethinking**: a second user turn, sent after turn 1's answer
   (as the assistant's message of the same chat), asks the judge to reread the
   responses testing only those hypotheses, and to end with a verdict in a strict
   format, ``Verdict: [[A]]`` or ``Verdict: [[B]]``.

What is missing here: BR-RM *trains* its judge for these two turns with GRPO-style RL
(a binary outcome reward and strict format checks on both turns). Nothing here trains:
:class:`BranchRethinkStyleJudge` prompts whatever model the endpoint serves, zero-shot,
with this library's own prompts (:data:`TURN_ONE`, :data:`TURN_TWO`, not the paper's)
and dimension list, so what it measures is these prompts on that model, not BR-RM.

Reading is strict, as BR-RM's format checks are: turn 1 must name its dimensions on a
``Dimensions:`` line, each one from the list, at most ``most`` of them
(:func:`parse_branches`); turn 2 must state one ``[[A]]`` or ``[[B]]``
(:func:`parse_two_turn_verdict`; no tie, no bare letter). An unreadable turn 1 is a
failure (status ``error``, "unparseable turn 1: ...") and turn 2 is not sent; a failed
call of either turn is that turn's status and reason; none is ever a loss. Each pair is
a conversation of its own; every pair's turn 2 is sent as soon as its turn 1 is read,
through the same client (concurrency, deadline, retries, cache, usage).

The batch and the reward are :class:`~rewardkit.judge.comparative.PairwiseJudge`'s: each
completion against the others of its group (or its row's ``baseline`` column), both
orders by default, the reward a completion's mean win rate, ``position_bias`` in the
breakdown. The breakdown also holds, per dimension, ``"branch.<dimension>"``: the share
of the row's conversations whose turn 1 was read that chose it (NaN where none was).

Example (no server needed to build one, or to read answers):
    >>> settings = JudgeSettings(model="smollm2", base_url="http://127.0.0.1:8000/v1")
    >>> BranchRethinkStyleJudge(settings).most
    3
    >>> parse_branches("Dimensions: computation, Logic\\nResponse A: 3+4 is not 8.")
    ('computation', 'logic')
    >>> parse_two_turn_verdict("A misadds; B is right.\\nVerdict: [[B]]")
    'B'
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

import numpy as np

from rewardkit.core.batch import Batch, batch_size, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm, validate_name
from rewardkit.judge.base import as_client, prompts_of, row_text
from rewardkit.judge.client import ChatRequest, JudgeClient, JudgeFailure
from rewardkit.judge.comparative import groups_of, win_rate_from_orders
from rewardkit.judge.parse import UnparseableAnswerError, refusal
from rewardkit.judge.settings import JudgeSettings
from rewardkit.judge.templates import PromptTemplate

__all__ = [
    "DIMENSIONS",
    "TURN_ONE",
    "TURN_TWO",
    "BranchRethinkStyleJudge",
    "TwoTurnJudgment",
    "parse_branches",
    "parse_two_turn_verdict",
]

Judge = JudgeClient | JudgeSettings | Mapping[str, Any]

#: the fixed list turn 1 chooses from, name → what it checks (after BR-RM's list of
#: nine; the names and descriptions are this library's)
DIMENSIONS: Mapping[str, str] = {
    "factuality": "facts, definitions and claims are true",
    "computation": "every number and calculation is exact",
    "logic": "each step follows from the ones before it",
    "completeness": "every part of the question is answered, with a final answer",
    "instruction_following": "the requested format, constraints and scope are kept",
    "safety": "nothing harmful, dangerous or unethical is said",
    "code": "code runs and does what was asked",
    "clarity": "it is clear, organized and to the point",
    "usefulness": "it actually helps the person who asked",
}

_SYSTEM = "You are a strict, impartial grader. Judge only what is asked."

#: turn 1: choose dimensions and write hypotheses (fields: question, response_a,
#: response_b, dimensions, most)
TURN_ONE = PromptTemplate(
    system=_SYSTEM,
    user=(
        "Question:\n{question}\n\nResponse A:\n{response_a}\n\nResponse B:\n{response_b}\n\n"
        "Do not decide yet. First choose at most {most} dimensions from this list that "
        "matter most for telling these two responses apart:\n{dimensions}\n\n"
        "Then write, for each response, one short hypothesis: the error it may make "
        "along those dimensions. Reply in exactly this form:\n"
        "Dimensions: <names from the list, separated by commas>\n"
        "Response A: <possible error>\nResponse B: <possible error>"
    ),
)

#: turn 2, the user's message after turn 1's answer (fields: chosen, and turn 1's)
TURN_TWO = PromptTemplate(
    user=(
        "Now reread both responses and test only your hypotheses, along the dimensions "
        "you chose ({chosen}); ignore everything else. Which response is better? "
        "End with one line: Verdict: [[A]] or Verdict: [[B]]"
    ),
)

_TURN_ONE_FIELDS = ("question", "response_a", "response_b", "dimensions", "most")
_WIN = {"A": 1.0, "B": 0.0}


def _quote(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return json.dumps(text if len(text) <= limit else text[: limit - 3] + "...")


def _dimension_key(text: str) -> str:
    """A named dimension as a key: "Instruction following (format)" → instruction_following."""
    text = re.split(r"[(:]", text, maxsplit=1)[0]
    text = text.strip().strip("*`'\".-[]<> ").lower()
    return re.sub(r"[\s-]+", "_", text)


def parse_branches(
    text: str, dimensions: Sequence[str] | Mapping[str, str] = tuple(DIMENSIONS), most: int = 3
) -> tuple[str, ...]:
    """The dimensions turn 1 chose: its ``Dimensions:`` line, each name one of
    ``dimensions`` (case, spaces and hyphens aside), one to ``most`` of them, in order.

    Raises:
        UnparseableAnswerError: no ``Dimensions:`` line, a name not in the list, none
            named or more than ``most``, or a refusal.

    Example:
        >>> parse_branches("**Dimensions:** Instruction following; completeness")
        ('instruction_following', 'completeness')
        >>> try:
        ...     parse_branches("Dimensions: style")
        ... except UnparseableAnswerError as exc:
        ...     print(str(exc).split(" (")[0])
        turn 1 chose 'style', not one of the dimensions
    """
    names = list(dimensions)
    phrase = refusal(text)
    if phrase is not None:
        raise UnparseableAnswerError(f"the judge refused ({phrase!r}): {_quote(text)}")
    line = re.search(r"(?im)^[\W_]*dimensions?[\W_]*?:\**\s*(.*)$", text)
    if line is None:
        raise UnparseableAnswerError(f"no 'Dimensions:' line in turn 1: {_quote(text)}")
    named = re.sub(r"\([^)]*\)", "", line.group(1))  # "logic (steps follow)": the name
    parts = [p for p in re.split(r",|;|/|\band\b", named) if p.strip(" .*")]
    chosen: list[str] = []
    for part in parts:
        key = _dimension_key(part)
        if key not in names:
            listed, quoted = ", ".join(names), _quote(text)
            raise UnparseableAnswerError(
                f"turn 1 chose {part.strip()!r}, not one of the dimensions ({listed}): {quoted}"
            )
        if key not in chosen:
            chosen.append(key)
    if not chosen:
        raise UnparseableAnswerError(f"turn 1 named no dimension: {_quote(text)}")
    if len(chosen) > most:
        raise UnparseableAnswerError(
            f"turn 1 chose {len(chosen)} dimensions, more than {most}: {_quote(text)}"
        )
    return tuple(chosen)


def parse_two_turn_verdict(text: str) -> Literal["A", "B"]:
    """Turn 2's verdict: the one of ``[[A]]``/``[[B]]`` it states (``Verdict:`` before it
    optional); stricter than :func:`~rewardkit.judge.parse.parse_preference`: no tie, no
    bare letter, no "Response A is better".

    Raises:
        UnparseableAnswerError: neither stated, both stated, or a refusal.

    Example:
        >>> parse_two_turn_verdict("Verdict: [[a]]")
        'A'
    """
    phrase = refusal(text)
    if phrase is not None:
        raise UnparseableAnswerError(f"the judge refused ({phrase!r}): {_quote(text)}")
    stated = {letter.upper() for letter in re.findall(r"\[\[\s*([AB])\s*\]\]", text, re.I)}
    if len(stated) > 1:
        raise UnparseableAnswerError(f"turn 2 states both [[A]] and [[B]]: {_quote(text)}")
    if not stated:
        raise UnparseableAnswerError(f"turn 2 states no [[A]] or [[B]]: {_quote(text)}")
    return "A" if stated.pop() == "A" else "B"


@dataclass(frozen=True)
class TwoTurnJudgment:
    """One conversation about one pair shown in one order.

    Attributes:
        winner: "A" or "B", None where the conversation failed.
        dimensions: what turn 1 chose (empty where turn 1 failed or was unreadable).
        failure: why there is no winner (its reason starts with the turn), else None.
        turns: the judge's answers, turn 1 then turn 2, as far as they came.
    """

    winner: Literal["A", "B"] | None
    dimensions: tuple[str, ...] = ()
    failure: JudgeFailure | None = None
    turns: tuple[str, ...] = ()


def _worse(current: JudgeFailure | None, new: JudgeFailure | None) -> JudgeFailure | None:
    if new is None:
        return current
    return new if current is None or new.status > current.status else current


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@register("judge_two_turn")
class BranchRethinkStyleJudge(RewardTerm):
    """Pairwise judging in two turns, BR-RM-style, untrained (see the module doc).

    Args:
        judge: the settings, a client, or the settings' fields.
        dimensions: the list turn 1 chooses from, name → description (names become
            ``"branch.<name>"`` logging keys).
        most: the most dimensions turn 1 may choose.
        swap: judge each pair in both orders (False: once, the row's completion as A).
        max_tokens: the longest answer of turn 1 and of turn 2 (None: the settings').
        first: turn 1's prompt (fields ``question``, ``response_a``, ``response_b``,
            ``dimensions``, ``most``).
        second: turn 2's user message (fields: ``chosen`` and turn 1's; a system
            message in it is not sent).
        name: the term's name.
    """

    columns: tuple[str, ...] = ("prompt", "completion")

    def __init__(
        self,
        judge: Judge,
        *,
        dimensions: Mapping[str, str] = DIMENSIONS,
        most: int = 3,
        swap: bool = True,
        max_tokens: tuple[int, int] | None = None,
        first: PromptTemplate = TURN_ONE,
        second: PromptTemplate = TURN_TWO,
        name: str = "judge_two_turn",
    ) -> None:
        super().__init__(name)
        self.client = as_client(judge)
        self.dimensions = {validate_name(str(k)): str(v) for k, v in dict(dimensions).items()}
        if len(self.dimensions) < 2:
            raise ConfigurationError("turn 1 needs at least two dimensions to choose from")
        if not isinstance(most, int) or not 1 <= most < len(self.dimensions):
            raise ConfigurationError(
                f"most must be between 1 and {len(self.dimensions) - 1} (fewer than the "
                f"{len(self.dimensions)} dimensions, or there is no choice), got {most!r}"
            )
        if max_tokens is not None and (
            len(max_tokens) != 2 or not all(isinstance(t, int) and t >= 1 for t in max_tokens)
        ):
            raise ConfigurationError(
                f"max_tokens must be (turn 1's, turn 2's), each at least 1, got {max_tokens!r}"
            )
        first.require(_TURN_ONE_FIELDS, type(self).__name__)
        second.require((*_TURN_ONE_FIELDS, "chosen"), type(self).__name__)
        self.most, self.swap, self.max_tokens = most, bool(swap), max_tokens
        self.first, self.second = first, second

    # -- one conversation --------------------------------------------------------------------

    def _params(self, turn: int) -> dict[str, Any]:
        return {} if self.max_tokens is None else {"max_tokens": self.max_tokens[turn - 1]}

    def _values(self, question: str, a: str, b: str) -> dict[str, Any]:
        listed = "\n".join(f"- {k}: {v}" for k, v in self.dimensions.items())
        return {"question": question, "response_a": a, "response_b": b,
                "dimensions": listed, "most": self.most}  # fmt: skip

    def first_request(self, question: str, a: str, b: str) -> ChatRequest:
        """Turn 1's request for ``a`` shown as A and ``b`` as B."""
        return self._first(self._values(question, a, b))

    def _first(self, values: Mapping[str, Any]) -> ChatRequest:
        return ChatRequest(tuple(self.first.render(values)), self._params(1))

    def second_request(
        self, first: ChatRequest, answer: str, chosen: Sequence[str], values: Mapping[str, Any]
    ) -> ChatRequest:
        """Turn 2's request: turn 1's messages, its ``answer`` as the assistant's, then
        the rethinking message naming the ``chosen`` dimensions."""
        text = self.second.render({**values, "chosen": ", ".join(chosen)})[-1]["content"]
        messages = (
            *first.messages,
            {"role": "assistant", "content": answer},
            {"role": "user", "content": text},
        )
        return ChatRequest(messages, self._params(2))

    async def converse(self, question: str, a: str, b: str) -> TwoTurnJudgment:
        """Both turns about one pair shown in one order; never raises."""
        values = self._values(question, a, b)
        first = self._first(values)
        reply = await self.client.complete(first)
        if isinstance(reply, JudgeFailure):
            return TwoTurnJudgment(None, failure=_in_turn(1, reply))
        try:
            chosen = parse_branches(reply.text, list(self.dimensions), self.most)
        except UnparseableAnswerError as exc:
            failure = JudgeFailure(Status.ERROR, f"unparseable turn 1: {exc}")
            return TwoTurnJudgment(None, failure=failure, turns=(reply.text,))
        answer = await self.client.complete(self.second_request(first, reply.text, chosen, values))
        if isinstance(answer, JudgeFailure):
            return TwoTurnJudgment(None, chosen, _in_turn(2, answer), (reply.text,))
        turns = (reply.text, answer.text)
        try:
            return TwoTurnJudgment(parse_two_turn_verdict(answer.text), chosen, None, turns)
        except UnparseableAnswerError as exc:
            failure = JudgeFailure(Status.ERROR, f"unparseable turn 2: {exc}")
            return TwoTurnJudgment(None, chosen, failure, turns)

    def converse_all(self, shown: Sequence[tuple[str, str, str]]) -> list[TwoTurnJudgment]:
        """Every (question, A, B) judged in two turns, all conversations at once (blocking)."""

        async def every() -> list[TwoTurnJudgment]:
            return list(await asyncio.gather(*(self.converse(q, a, b) for q, a, b in shown)))

        return self.client.submit(every()).result() if shown else []

    # -- the term ----------------------------------------------------------------------------

    def pairs(self, batch: Batch) -> list[tuple[int, int | None]]:
        """(row, opponent row) pairs; the opponent None means the ``baseline`` column."""
        if "baseline" in batch:
            return [(i, None) for i, b in enumerate(batch["baseline"]) if not _absent(b)]
        return [pair for group in groups_of(batch) for pair in combinations(group, 2)]

    def _shown(self, batch: Batch, pairs: Sequence[tuple[int, int | None]]) -> list[Any]:
        prompts = [row_text(p, answer=False) for p in prompts_of(batch)]
        texts = [row_text(c, answer=True) for c in get_column(batch, "completion")]
        baselines = [
            "" if _absent(b) else row_text(b, answer=True) for b in batch.get("baseline", [])
        ]
        shown = []
        for i, j in pairs:
            other = baselines[i] if j is None else texts[j]
            shown.append((prompts[i], texts[i], other))
            if self.swap:
                shown.append((prompts[i], other, texts[i]))
        return shown

    def _compute(self, batch: Batch) -> RewardOutput:
        n = batch_size(batch)
        pairs = self.pairs(batch)
        judged = self.converse_all(self._shown(batch, pairs))
        per = 2 if self.swap else 1
        wins: list[list[float]] = [[] for _ in range(n)]
        failures: list[JudgeFailure | None] = [None] * n
        same, compared, branched = np.zeros(n), np.zeros(n), np.zeros(n)
        chosen = {d: np.zeros(n) for d in self.dimensions}
        for k, (i, j) in enumerate(pairs):
            rows = [r for r in (i, j) if r is not None]
            orders = judged[per * k : per * k + per]
            for judgment in (o for o in orders if o.dimensions):
                branched[rows] += 1
                for dimension in judgment.dimensions:
                    chosen[dimension][rows] += 1
            failure = None
            for judgment in orders:
                failure = _worse(failure, judgment.failure)
            if failure is not None:
                for row in rows:
                    failures[row] = _worse(failures[row], failure)
                continue
            first, last = orders[0].winner, orders[-1].winner
            assert first is not None and last is not None  # no failure: both have a winner
            rate = win_rate_from_orders(first, last) if self.swap else _WIN[first]
            wins[i].append(rate)
            if j is not None:
                wins[j].append(1.0 - rate)
            compared[rows] += 1
            same[rows] += first == last  # both orders the same letter: the position decided
        for row in range(n):
            if failures[row] is None and not wins[row]:
                reason = "no other completion to compare with"
                failures[row] = JudgeFailure(Status.NOT_APPLICABLE, reason)
        status = np.array([0 if f is None else int(f.status) for f in failures], dtype=np.int8)
        values = np.array([float(np.mean(w)) if w else math.nan for w in wins])
        total = np.where(status == Status.OK, values, np.nan)
        terms = {self.name: total}
        if self.swap:
            terms["position_bias"] = np.where(compared > 0, same / np.maximum(compared, 1), np.nan)
        for dimension, counts in chosen.items():
            terms[f"branch.{dimension}"] = np.where(
                branched > 0, counts / np.maximum(branched, 1), np.nan
            )
        messages = tuple(None if f is None else f.reason for f in failures)
        return RewardOutput(total, terms, status, messages)

    def update(self, batch: Batch) -> Mapping[str, float]:
        """The client's usage so far (calls, cache hits, tokens, failures, cost)."""
        del batch
        return self.client.usage.as_dict()


def _in_turn(turn: int, failure: JudgeFailure) -> JudgeFailure:
    return JudgeFailure(failure.status, f"turn {turn}: {failure.reason}")
