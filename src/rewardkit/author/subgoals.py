"""CALM-style subgoal bonus: a model proposes subgoals and judges, per transition, which were
achieved.

After Pignatelli et al. 2024 ("Assessing the Zero-Shot Capabilities of LLMs for
Action Evaluation in RL", CALM: Credit Assignment with Language Models), who ask
a model to decompose a task into elementary subgoals, then to say, from a
text description of one transition (state, action, next state), whether a
subgoal was achieved in it. Each achievement ends an option and earns an
auxiliary reward, a dense signal for a task whose own reward is sparse and
delayed; the paper measures the model's judgments against human annotations.

What is missing, so this is "CALM-style", not CALM: the abstract's CALM
automates credit assignment "via reward shaping and options discovery"; only
the reward-shaping half is here. No options are built (no option policies,
no initiation sets, no option-level learning): an achievement is a bonus in
the reward and nothing else. The bonus is paid once per subgoal per episode,
by this module's own rule; the prompts are this module's own, not the
paper's; and no agent is trained or evaluated here.

Here:

- :func:`propose_subgoals` asks for a numbered list and reads it with
  :func:`parse_subgoals` (numbered or bulleted lines, deduplicated, at most
  ``max_subgoals``; an answer with no such line is an error, never a guess);
- :func:`transition_caption` writes the transition the model reads, from
  the caller's own descriptions of the two states and the action;
- :func:`judge_achievements` asks one yes/no question per (transition,
  subgoal) and returns a :class:`Judgment` for each, with its status; with
  ``systemone=True`` it reads P(yes) from ``transformers serve``'s
  ``/v1/systemone`` instead of generated text (achieved: P(yes) above a
  threshold), which still ranks transitions when a small model answers
  "No" to everything;
- :class:`SubgoalBonus` is the auxiliary reward: β for each subgoal a row
  achieves for the first time in its episode (episodes end at
  ``terminated`` or ``truncated``; rows in time order, ``env`` for vector
  envs). A row with a judgment that failed (server failure, unreadable
  answer) has no reward: NaN, status ``error``/``timeout``, the reason as its
  message, and its achievements are not remembered. Judgments are cached by
  (subgoal, caption), so a repeated transition costs no call. Scoring is a
  function of the batch and the committed episodes only: scoring a batch twice
  (an audit, a logging pass) pays the same bonus twice; ``update(batch)``
  commits the batch's achievements and episode ends, as the other stateful
  bonuses do (with ``update_every > 1`` in an env wrapper, a subgoal achieved in
  a step not yet committed can be paid again). The term is thread-safe.

Example:
    >>> parse_subgoals("Plan:\\n1. Pick up the key.\\n2) open the door\\n- Reach the goal")
    ('Pick up the key', 'open the door', 'Reach the goal')
    >>> transition_caption("You hold nothing.", "pick up", "You hold the key.")
    'Before: You hold nothing.\\nAction: pick up\\nAfter: You hold the key.'
    >>> settings = JudgeSettings(model="m", base_url="http://127.0.0.1:9/v1", retries=0,
    ...                          deadline_s=2.0)
    >>> bonus = SubgoalBonus(settings, "open the door", ["pick up the key"])
    >>> out = bonus({"caption": ["..."], "terminated": [False], "truncated": [False]})
    >>> out.status.tolist(), out.messages[0].startswith("connection failed")  # no server
    ([3], True)
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.author.parameters import AuthoringFailure
from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.term import RewardTerm
from rewardkit.judge.base import as_client
from rewardkit.judge.client import ChatRequest, JudgeClient, JudgeFailure, Reply
from rewardkit.judge.decisions import read_yes_probability, systemone_body
from rewardkit.judge.parse import UnparseableAnswerError, parse_yes_no, refusal
from rewardkit.judge.settings import JudgeSettings
from rewardkit.judge.templates import PromptTemplate

__all__ = [
    "ACHIEVED_PROMPT",
    "SUBGOALS_PROMPT",
    "Judgment",
    "SubgoalBonus",
    "Subgoals",
    "judge_achievements",
    "parse_subgoals",
    "propose_subgoals",
    "transition_caption",
]

Judge = JudgeClient | JudgeSettings | Mapping[str, Any]

SUBGOALS_PROMPT = PromptTemplate(
    system="You are a helpful assistant.",
    user=(
        "Task: {task}\nWhat are the steps to complete this task? "
        "Write a numbered list of at most {max_subgoals} short steps."
    ),
)

ACHIEVED_PROMPT = PromptTemplate(
    system="You judge whether a step of a task was achieved. Answer Yes or No.",
    user=(
        "Task: {task}\nSubgoal: {subgoal}\n\nTransition:\n{caption}\n\n"
        "Was the subgoal achieved in this transition? Reply Yes or No."
    ),
)

_ITEM = re.compile(r"^\s*(?:\d{1,2}\s*[.):]|[-*\u2022])\s+(.+?)\s*$", re.MULTILINE)


def parse_subgoals(text: str, max_subgoals: int = 8) -> tuple[str, ...]:
    """The numbered or bulleted lines of ``text``, cleaned and deduplicated, the first
    ``max_subgoals``; raises :class:`~rewardkit.judge.UnparseableAnswerError` when none."""
    phrase = refusal(text)
    if phrase is not None:
        raise UnparseableAnswerError(f"the model refused ({phrase!r})")
    items: dict[str, str] = {}
    for raw in _ITEM.findall(text):
        item = re.sub(r"[*_`]+", "", raw).strip().rstrip(".;:,").strip()
        if re.search(r"[A-Za-z]{2}", item) and len(item) <= 200:
            items.setdefault(item.lower(), item)
    if not items:
        short = " ".join(text.split())[:160]
        raise UnparseableAnswerError(f"no numbered or bulleted subgoal lines: {short!r}")
    return tuple(items.values())[:max_subgoals]


@dataclass(frozen=True)
class Subgoals:
    """A task's subgoals as the model proposed them, and its answer."""

    task: str
    items: tuple[str, ...]
    text: str


def propose_subgoals(
    client: Judge,
    task: str,
    *,
    max_subgoals: int = 6,
    template: PromptTemplate = SUBGOALS_PROMPT,
    max_tokens: int = 64,
) -> Subgoals | AuthoringFailure:
    """Ask the model to decompose ``task``; the subgoals, or a failure with its reason."""
    client = as_client(client)
    template.require(("task", "max_subgoals"), "propose_subgoals")
    messages = template.render({"task": task, "max_subgoals": max_subgoals})
    (answer,) = client.run([ChatRequest(tuple(messages), {"max_tokens": max_tokens})])
    if isinstance(answer, JudgeFailure):
        return AuthoringFailure.of(answer)
    try:
        return Subgoals(task, parse_subgoals(answer.text, max_subgoals), answer.text)
    except UnparseableAnswerError as exc:
        return AuthoringFailure(Status.ERROR, str(exc), answer.text)


def transition_caption(before: str, action: str, after: str) -> str:
    """The text of one transition the model reads: the state, the action, the next state."""
    return f"Before: {before}\nAction: {action}\nAfter: {after}"


@dataclass(frozen=True)
class Judgment:
    """Whether one subgoal was achieved in one transition, as the model said.

    Attributes:
        achieved: True/False, or None where there is no judgment.
        status: OK, or ERROR/TIMEOUT.
        reason: why there is no judgment (None when OK).
        text: the model's answer, where there was one.
        probability: P(yes), where it was asked for (``systemone=True``).
    """

    achieved: bool | None
    status: Status = Status.OK
    reason: str | None = None
    text: str | None = None
    probability: float | None = None


def _judgment(answer: Reply | JudgeFailure) -> Judgment:
    if isinstance(answer, JudgeFailure):
        return Judgment(None, answer.status, answer.reason)
    try:
        return Judgment(parse_yes_no(answer.text) == "yes", text=answer.text)
    except UnparseableAnswerError as exc:
        return Judgment(None, Status.ERROR, str(exc), answer.text)


def _graded(answer: Any, threshold: float) -> Judgment:
    if isinstance(answer, JudgeFailure):
        return Judgment(None, answer.status, answer.reason)
    try:
        p = read_yes_probability(answer)
    except ValueError as exc:
        return Judgment(None, Status.ERROR, str(exc))
    return Judgment(p > threshold, probability=p)


def judge_achievements(
    client: Judge,
    task: str,
    subgoals: Sequence[str],
    captions: Sequence[str],
    *,
    template: PromptTemplate = ACHIEVED_PROMPT,
    max_tokens: int = 4,
    systemone: bool = False,
    threshold: float = 0.5,
) -> list[list[Judgment]]:
    """``[transition][subgoal]`` judgments: one yes/no call for each pair, all at once.

    ``systemone=True`` asks ``transformers serve``'s ``/v1/systemone`` for P(yes)
    instead of generating text (the prompt as the state, its last line as the
    question); achieved is P(yes) > ``threshold``. Other servers answer 404:
    every judgment is then an error with that reason.
    """
    client = as_client(client)
    template.require(("task", "subgoal", "caption"), "judge_achievements")
    prompts = [
        template.render({"task": task, "subgoal": goal, "caption": caption})
        for caption in captions
        for goal in subgoals
    ]
    if systemone:
        model = client.settings.model
        bodies = [
            systemone_body(
                model, "\n\n".join(m["content"] for m in p), p[-1]["content"].split("\n")[-1]
            )
            for p in prompts
        ]
        answers = [_graded(a, threshold) for a in client.post_all("/systemone", bodies)]
    else:
        requests = [ChatRequest(tuple(p), {"max_tokens": max_tokens}) for p in prompts]
        answers = [_judgment(a) for a in client.run(requests)]
    width = len(subgoals)
    return [answers[i * width : (i + 1) * width] for i in range(len(captions))]


class SubgoalBonus(RewardTerm):
    """β for each subgoal first achieved in its episode, as the model judges (see module doc).

    Reads ``caption`` (a :func:`transition_caption`), ``terminated``,
    ``truncated`` and, for vector envs, ``env``. The breakdown holds, per
    subgoal ``k``, ``subgoal_k``: 1 where it was first achieved (NaN on a row
    without all its judgments). Scoring changes no episode: ``update(batch)``
    commits what scoring the batch found.
    """

    columns = ("caption", "terminated", "truncated")

    def __init__(
        self,
        judge: Judge,
        task: str,
        subgoals: Sequence[str] | Subgoals,
        *,
        beta: float = 1.0,
        template: PromptTemplate = ACHIEVED_PROMPT,
        systemone: bool = False,
        threshold: float = 0.5,
        name: str = "subgoal_bonus",
    ) -> None:
        super().__init__(name)
        self.client = as_client(judge)
        self.task = task
        self.subgoals = tuple(subgoals.items if isinstance(subgoals, Subgoals) else subgoals)
        if not self.subgoals:
            raise ConfigurationError("SubgoalBonus needs at least one subgoal")
        self.beta = float(beta)
        template.require(("task", "subgoal", "caption"), "SubgoalBonus")
        self.template, self.systemone, self.threshold = template, systemone, float(threshold)
        self.cache: dict[tuple[str, str], Judgment] = {}
        self.calls = 0
        self._achieved: dict[Any, set[int]] = {}  # env -> subgoals achieved in its open episode
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _lock=threading.Lock())

    def reset(self) -> None:
        """Forget every environment's episode (not the cache)."""
        with self._lock:
            self._achieved.clear()

    def judgments(self, captions: Sequence[str], *, ask: bool = True) -> list[list[Judgment]]:
        """The judgments of ``captions`` (cached ones without a call); failures are not cached.

        ``ask=False`` asks nothing: a judgment not in the cache is an error saying so.
        """
        with self._lock:
            todo = [c for c in dict.fromkeys(captions) if self._missing(c)] if ask else []
        found: dict[str, list[Judgment]] = {}
        if todo:
            fresh = judge_achievements(
                self.client,
                self.task,
                self.subgoals,
                todo,
                template=self.template,
                systemone=self.systemone,
                threshold=self.threshold,
            )
            found = dict(zip(todo, fresh, strict=True))
        unjudged = Judgment(None, Status.ERROR, "not judged: score the batch before update()")
        with self._lock:
            self.calls += len(todo) * len(self.subgoals)
            for caption, row in found.items():
                for goal, judged in zip(self.subgoals, row, strict=True):
                    if judged.status == Status.OK:
                        self.cache[(goal, caption)] = judged
            return [
                found.get(caption)
                or [self.cache.get((g, caption), unjudged) for g in self.subgoals]
                for caption in captions
            ]

    def _missing(self, caption: str) -> bool:
        return any((goal, caption) not in self.cache for goal in self.subgoals)

    def _scan(
        self, batch: Batch, rows: list[list[Judgment]], achieved: dict[Any, set[int]]
    ) -> RewardOutput:
        """Walk the rows in time order over ``achieved`` (env → subgoals achieved in its
        open episode), which it changes: the bonus of each row."""
        ended = np.asarray(get_column(batch, "terminated"), dtype=bool) | np.asarray(
            get_column(batch, "truncated"), dtype=bool
        )
        envs = np.asarray(batch.get("env", np.zeros(len(rows), dtype=int))).tolist()
        first = np.zeros((len(self.subgoals), len(rows)))
        status = np.zeros(len(rows), dtype=np.int8)
        messages: list[str | None] = [None] * len(rows)
        for i, row in enumerate(rows):
            done = achieved.setdefault(envs[i], set())
            failed = [j for j in row if j.status != Status.OK]
            if failed:
                status[i] = max(int(j.status) for j in failed)
                messages[i] = failed[0].reason
                first[:, i] = np.nan
            else:
                for k, judged in enumerate(row):
                    if judged.achieved and k not in done:
                        done.add(k)
                        first[k, i] = 1.0
            if ended[i]:
                del achieved[envs[i]]
        total = self.beta * first.sum(axis=0)
        terms = {f"subgoal_{k}": first[k] for k in range(len(self.subgoals))}
        return RewardOutput(total, {self.name: total, **terms}, status, tuple(messages))

    def _compute(self, batch: Batch) -> RewardOutput:
        rows = self.judgments([str(c) for c in get_column(batch, "caption")])
        with self._lock:
            achieved = {env: set(done) for env, done in self._achieved.items()}
        return self._scan(batch, rows, achieved)

    def update(self, batch: Batch) -> dict[str, float]:
        """Commit what scoring ``batch`` found: each env's achievements and episode ends.

        Reads the judgments from the cache and asks nothing, so it commits exactly what
        scoring paid: a row whose judgments failed (or that was never scored) commits no
        achievement, only its episode's end. Returns the calls made and the judgments
        cached so far.
        """
        if batch:
            rows = self.judgments([str(c) for c in get_column(batch, "caption")], ask=False)
            with self._lock:
                self._scan(batch, rows, self._achieved)
        return {"judge_calls": float(self.calls), "cached_judgments": float(len(self.cache))}
