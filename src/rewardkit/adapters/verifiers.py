"""verifiers (prime-rl): a rewardkit term as a ``Rubric``, and a verifiers reward as a term.

verifiers' ``Rubric(funcs, weights)`` (0.1.x-0.3.x; prime-rl's environments)
calls each function with the keyword arguments it declares, out of
``prompt, completion, answer, state, info, task`` (``Rubric.score_objects``),
awaits it if it is async, and sums ``weight x score`` into the rollout's
reward; every function's score is also a metric under its ``__name__``, so a
weight-0 function is a logged metric only (``Rubric.add_metric``).

:func:`rubric_functions` gives the term's total as the one weighted function
(weight 1) and each part, plus ``<name>_applicable``, as weight-0 metrics.
The term runs once per rollout: the metrics read the total's output from a
small cache keyed on the rollout. A sample without a reward scores
``not_applicable_score`` (verifiers sums floats, so a NaN would poison the
reward). :func:`to_rubric` builds the ``verifiers.Rubric`` itself.

:func:`from_verifiers` goes the other way: a plain verifiers reward function
(sync or async, any subset of those parameters) becomes a per-sample term;
an exception marks that sample an error.

Example:
    >>> from rewardkit.verify import exact_match
    >>> funcs, weights = rubric_functions(exact_match(name="correct"))
    >>> [f.__name__ for f in funcs], weights
    (['correct', 'correct_applicable'], [1.0, 0.0])
    >>> funcs[0](prompt="2+2?", completion="4", answer="4", state={}, info={})
    1.0
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import numpy as np

from rewardkit.core.batch import Batch, batch_size
from rewardkit.core.messages import answer_text, message_field, unanswered_reason
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.term import RewardTerm, Term, as_term

__all__ = [
    "AnswerParser",
    "VerifiersFunction",
    "from_verifiers",
    "rubric_functions",
    "to_rubric",
]

#: what a Rubric passes to its reward functions (verifiers' ``score_objects``)
RUBRIC_ARGUMENTS = ("prompt", "completion", "answer", "state", "info", "task", "parser")


class AnswerParser:
    """What a verifiers 0.3 reward function expects of its ``parser``, reading the answer
    as rewardkit does: ``parse_answer(completion)`` is the assistant's final message
    (None where the completion ends with a tool's message), ``parse(text)`` the text.

    Example:
        >>> AnswerParser().parse_answer([{"role": "assistant", "content": " 4 "}])
        '4'
    """

    def parse(self, text: str) -> str:
        return text.strip()

    def parse_answer(self, completion: Any) -> str | None:
        if unanswered_reason(completion) is not None:
            return None
        return self.parse(answer_text(completion))


def _plain_messages(value: Any) -> Any:
    """verifiers' message objects (0.3's models with item access, 0.4's pydantic models
    without it) as dicts."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        return value
    plain = []
    for m in value:
        if isinstance(m, Mapping):
            plain.append(m)
        else:
            message = {"role": message_field(m, "role"), "content": message_field(m, "content")}
            calls = message_field(m, "tool_calls")
            plain.append(message if calls is None else {**message, "tool_calls": calls})
    return plain


class _RolloutScorer:
    """Runs the term once per rollout: the outputs of recent rollouts are kept, keyed on
    the rollout's text (some verifiers versions pass each function a fresh ``state``)."""

    def __init__(self, term: Term, not_applicable_score: float, keep: int = 4096) -> None:
        self.term = term
        self.fill = float(not_applicable_score)
        self.keep = keep
        self._recent: OrderedDict[str, RewardOutput] = OrderedDict()

    def output(
        self,
        prompt: Any = None,
        completion: Any = None,
        answer: Any = None,
        info: Mapping[str, Any] | None = None,
        task: Any = None,
    ) -> RewardOutput:
        key = json.dumps([prompt, completion, answer, info, task], default=repr, sort_keys=True)
        if key in self._recent:
            self._recent.move_to_end(key)
            return self._recent[key]
        batch: dict[str, list[Any]] = {
            "prompt": [_plain_messages(prompt)],
            "completion": [_plain_messages(completion)],
            "answer": [answer],
            "task": [task],
        }
        for key, value in (info or {}).items():
            batch.setdefault(key, [value])
        out = self.term(batch)
        self._recent[key] = out
        if len(self._recent) > self.keep:
            self._recent.popitem(last=False)
        return out

    def value(self, out: RewardOutput, part: str | None) -> float:
        values = out.total if part is None else out.terms[part]
        value = float(values[0])
        ok = out.status[0] == Status.OK if part is None else np.isfinite(value)
        return value if ok else self.fill


def rubric_functions(
    term: Term, not_applicable_score: float = 0.0
) -> tuple[list[Callable[..., float]], list[float]]:
    """The term as verifiers reward functions and weights: the total (weight 1.0), then
    ``<name>_applicable`` and each part (weight 0.0, metrics)."""
    term = as_term(term)
    scorer = _RolloutScorer(term, not_applicable_score)
    funcs = [
        _rubric_function(scorer, term.name, lambda out: scorer.value(out, None)),
        _rubric_function(
            scorer, f"{term.name}_applicable", lambda out: float(out.status[0] == Status.OK)
        ),
    ]
    for part in getattr(term, "parts", ()):  # a composite's direct parts
        funcs.append(_rubric_function(scorer, part.name, _part_reader(scorer, part.name)))
    return funcs, [1.0] + [0.0] * (len(funcs) - 1)


def _part_reader(scorer: _RolloutScorer, name: str) -> Callable[[RewardOutput], float]:
    """Reads the part ``name`` of an output."""
    return lambda out: scorer.value(out, name)


def _rubric_function(
    scorer: _RolloutScorer, name: str, read: Callable[[RewardOutput], float]
) -> Callable[..., float]:
    """A function with the parameters a Rubric passes, reading one number of the output."""

    def function(
        prompt: Any = None,
        completion: Any = None,
        answer: Any = None,
        state: dict[str, Any] | None = None,
        info: Mapping[str, Any] | None = None,
        task: Any = None,
    ) -> float:
        del state  # a Rubric passes it; the scorer keys its cache on the rollout instead
        return read(scorer.output(prompt, completion, answer, info, task))

    function.__name__ = function.__qualname__ = name
    return function


def to_rubric(term: Term, parser: Any = None, not_applicable_score: float = 0.0) -> Any:
    """A ``verifiers.Rubric`` scoring with ``term`` (needs ``pip install 'verifiers<0.4'``).

    Example:
        >>> rubric = to_rubric(my_reward)  # doctest: +SKIP
        >>> vf.SingleTurnEnv(dataset=dataset, rubric=rubric)  # doctest: +SKIP
    """
    import verifiers as vf

    if not hasattr(vf, "Rubric"):
        raise ImportError(
            "this verifiers has no Rubric (0.4 replaced it with @vf.reward on a Task): "
            "use rewardkit.adapters.verifiers_v1.v1_reward(term) in your vf.Task, or "
            "install verifiers<0.4"
        )
    funcs, weights = rubric_functions(term, not_applicable_score)
    return vf.Rubric(funcs=funcs, weights=weights, parser=parser)


class VerifiersFunction(RewardTerm):
    # a verifiers function reads the whole completion itself (ToolRubric counts tool
    # messages): the rollout is passed whatever its last message is
    needs_answer = False

    """A verifiers reward function as a per-sample term.

    Reads ``completion`` and, if the function asks for them, ``prompt``,
    ``answer``, ``info`` (a dict column, or the other columns of the row),
    ``task``; ``state`` is an empty dict. Async functions are awaited.
    """

    def __init__(
        self, func: Callable[..., Any], name: str | None = None, parser: Any = None
    ) -> None:
        super().__init__(name or cast(str, getattr(func, "__name__", "verifiers_reward")))
        self.func = func
        # a Rubric's method (MathRubric.correct_answer) gets its rubric's parser, as the
        # Rubric passes it; else rewardkit's reading of the final answer
        owner = getattr(func, "__self__", None)
        self.parser = parser or getattr(owner, "parser", None) or AnswerParser()
        parameters = inspect.signature(func).parameters
        self._takes_all = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        self._wanted = [a for a in RUBRIC_ARGUMENTS if self._takes_all or a in parameters]
        self.columns = tuple(a for a in self._wanted if a in ("prompt", "completion", "answer"))

    def _row(self, batch: Batch, index: int) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for argument in self._wanted:
            if argument == "state":
                row["state"] = {}
            elif argument == "parser":
                row["parser"] = self.parser
            elif argument == "info" and "info" not in batch:
                skip = {"prompt", "completion", "answer", "task"}
                row["info"] = {k: v[index] for k, v in batch.items() if k not in skip}
            elif argument in batch:
                row[argument] = batch[argument][index]
            elif argument == "answer":
                row["answer"] = ""  # verifiers' own default
        return row

    def _compute(self, batch: Batch) -> RewardOutput:
        n = batch_size(batch)
        values = np.full(n, np.nan)
        status = np.zeros(n, dtype=np.int8)
        messages: list[str | None] = [None] * n
        for index in range(n):
            try:
                value = _resolve(self.func(**self._row(batch, index)))
                values[index] = float(value)
            except Exception as exc:  # one bad sample must not fail the batch
                status[index] = Status.ERROR
                messages[index] = f"{type(exc).__name__}: {exc}"
        return RewardOutput(values, status=status, messages=tuple(messages))


def _resolve(value: Any) -> Any:
    if not inspect.isawaitable(value):
        return value

    async def wait() -> Any:
        return await value

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    with concurrent.futures.ThreadPoolExecutor(1) as executor:  # inside a running loop
        return executor.submit(asyncio.run, wait()).result()


def from_verifiers(
    func: Callable[..., Any], name: str | None = None, parser: Any = None
) -> VerifiersFunction:
    """A verifiers reward function (sync or async) as a rewardkit term.

    A function that takes ``parser`` (0.3's ``MathRubric.correct_answer``) gets
    ``parser``, else its rubric's own parser when it is a rubric's method, else
    an :class:`AnswerParser`.

    Example:
        >>> def correct_answer(completion, answer) -> float:
        ...     return float(completion.strip() == answer)
        >>> from_verifiers(correct_answer)({"completion": ["4", "5"], "answer": ["4", "4"]}).total
        array([1., 0.])
    """
    return VerifiersFunction(func, name, parser)
