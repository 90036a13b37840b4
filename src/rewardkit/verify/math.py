"""Math answer verification: extraction, fast path, symbolic fallback with timeouts.

Outcomes are ``correct`` (1.0), ``wrong`` (0.0), ``no_answer`` (0.0 by
default, message "no answer", status ok: a completion that gives up must
score below one that tries, or a policy learns to abstain), ``unparseable``,
``timeout`` and ``error``. The last three are not applicable (NaN) with
their status, so a slow sympy call or a broken worker never reads as a wrong
answer. A missing gold answer is an ``error``: the sample is skipped, never
scored.

Example:
    >>> verifier = MathVerifier(timeout=5.0)
    >>> batch = {"completion": [r"... so \\boxed{\\frac{1}{2}}", "The answer is 0.4", "hmm"],
    ...          "answer": ["0.5", "1/2", "1/2"]}
    >>> out = verifier(batch)
    >>> out.total
    array([1., 0., 0.])
    >>> out.messages[2]
    'no answer'
    >>> MathVerifier(timeout=5.0, no_answer="skip")(batch).total
    array([ 1.,  0., nan])
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypedDict, Unpack

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.core.messages import last_message_text
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm
from rewardkit.verify.extract import GSM8K_SOURCES, extract_boxed, extract_gsm8k
from rewardkit.verify.math_policy import MathPolicy
from rewardkit.verify.mathparse import PLAIN_NUMBER, Outcome
from rewardkit.verify.symbolic import SymbolicPool, default_pool
from rewardkit.verify.text import completion_text

__all__ = [
    "MathPolicy",
    "MathVerifier",
    "Verdict",
    "verify_math",
    "verify_math_batch",
]

_STATUS = {
    Outcome.CORRECT: Status.OK,
    Outcome.WRONG: Status.OK,
    Outcome.UNPARSEABLE: Status.NOT_APPLICABLE,
    Outcome.TIMEOUT: Status.TIMEOUT,
    Outcome.ERROR: Status.ERROR,
    Outcome.NO_ANSWER: Status.OK,
}


@dataclass(frozen=True)
class Verdict:
    """One verification: outcome, the extracted answer, time taken, and why."""

    outcome: Outcome
    extracted: str | None
    seconds: float
    message: str | None = None

    @property
    def score(self) -> float | None:
        """1.0 correct, 0.0 wrong or no answer, None for every other outcome."""
        return {Outcome.CORRECT: 1.0, Outcome.WRONG: 0.0, Outcome.NO_ANSWER: 0.0}.get(self.outcome)


def _gold_text(gold: object) -> str | None:
    if gold is None:
        return None
    text = str(gold).strip()
    if not text:
        return None
    return extract_boxed(text) or text


def _missing_gold(gold: object) -> Verdict:
    message = f"no gold answer ({gold!r}): the sample is skipped, not scored"
    return Verdict(Outcome.ERROR, None, 0.0, message)


def _require_math_verify() -> None:
    try:
        import math_verify  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            "the math verifier needs math-verify: pip install 'rewardkit[llm]'"
        ) from None


#: an answer number math-verify reads as written (it finds no number in "+5" or "-.5")
_ANSWER_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")
#: math opened or closed on a line break, which the worker removes before reading
_LINE_BROKEN_MATH = re.compile(r"\$[ \t]*\n|\n[ \t]*\$|\\\([ \t]*\n")


def _fast_numbers(gold: str, answer: str, policy: MathPolicy) -> Outcome | None:
    """A bare-number gold against an answer number, decided here where that is certain
    to be the worker's verdict: equal numbers, or two unequal integers. Unequal
    decimals, and any inequality under ``rel_tol``, go to the worker."""
    g, a = gold.strip().strip("$").strip(), answer.strip()
    if not (PLAIN_NUMBER.fullmatch(g) and _ANSWER_NUMBER.fullmatch(a)):
        return None
    if Decimal(g) == Decimal(a):
        return Outcome.CORRECT
    if policy.rel_tol is None and "." not in g and "." not in a:
        return Outcome.WRONG
    return None


#: a completion longer than this is not read (no answer): no model answers in a megabyte
MAX_COMPLETION_CHARS = 200_000
#: completions longer than this never take the in-process path
FAST_PATH_MAX_CHARS = 20_000


def _in_process_answer(text: str) -> str | None:
    """The number a completion answers with, where the worker is certain to extract
    exactly that, else None (the worker decides).

    Nothing the worker reads differently qualifies: a percent sign, "final answer"
    (math-verify's anchor that can outrank ``\\boxed``), math broken over lines,
    braces that may nest past the worker's cap. Then three shapes:

    - the whole completion is a number (``-5``, ``1000.0``, ``.4``);
    - one ``<answer>N</answer>`` and no ``$`` (the worker reads the tag first);
    - one ``\\boxed{N}``, no ``\\fbox`` and no brace after the box (math-verify's
      greedy ``\\boxed{.+}`` pattern then ends at the same place).

    Every check is a linear scan of at most FAST_PATH_MAX_CHARS characters;
    ``test_math_verify_backend`` checks the shapes against the worker's verdicts.
    """
    if (
        len(text) > FAST_PATH_MAX_CHARS
        or "%" in text
        or text.count("{") > 100
        or "final answer" in text.casefold()
        or _LINE_BROKEN_MATH.search(text)
    ):
        return None
    whole = text.strip()
    if _ANSWER_NUMBER.fullmatch(whole):
        return whole
    if "<answer>" in text:
        if text.count("<answer>") != 1 or "$" in text:
            return None
        start, end = text.find("<answer>"), text.rfind("</answer>")
        content = text[start + len("<answer>") : end] if end > start else ""
    else:
        if text.count("\\boxed") != 1 or "\\fbox" in text:
            return None
        start = text.find("\\boxed{")
        end = text.find("}", start)
        if start < 0 or "}" in text[end + 1 :]:
            return None
        content = text[start + len("\\boxed{") : end]
    content = content.strip()
    return content if len(content) <= 40 and _ANSWER_NUMBER.fullmatch(content) else None


#: a prompt at least this long is removed where the completion copies it verbatim
MIN_COPIED_PROMPT = 10


def _question_text(prompt: object) -> str | None:
    """The prompt's text (a chat prompt's last message), or None where there is none:
    an odd prompt only turns the prompt rules off for its sample."""
    if prompt is None:
        return None
    try:
        return last_message_text(prompt)
    except BatchError:
        return None


def _without_copied_prompt(text: str, question: str) -> str:
    """The completion with verbatim copies of its prompt removed.

    math-verify reads an answer from the last math in a text even without an
    anchor, so a completion that only repeats "Simplify 6/8." would score
    against 3/4 (the master-key probe's "question copy"). Repeating the
    question is not answering it.
    """
    question = question.strip()
    if len(question) < MIN_COPIED_PROMPT:
        return text
    return text.replace(question, " ")


def _verify_with_math_verify(
    golds: Sequence[object],
    completions: Sequence[object],
    pool: SymbolicPool,
    prompts: Sequence[object] | None,
    policy: MathPolicy,
    max_chars: int,
    timeout: float | None = None,
) -> list[Verdict]:
    verdicts: list[Verdict | None] = [None] * len(golds)
    jobs: list[tuple[int, str, str, str | None]] = []
    rules = policy.as_dict()
    for index, (gold, completion) in enumerate(zip(golds, completions, strict=True)):
        gold_text = None if gold is None else str(gold).strip() or None
        if gold_text is None:
            verdicts[index] = _missing_gold(gold)
            continue
        try:
            text = completion_text(completion)
        except BatchError as exc:  # one odd sample is its own error, not the batch's
            verdicts[index] = Verdict(Outcome.ERROR, None, 0.0, str(exc))
            continue
        if len(text) > max_chars:
            message = f"no answer: the completion is {len(text):,} characters, over {max_chars:,}"
            verdicts[index] = Verdict(Outcome.NO_ANSWER, None, 0.0, message)
            continue
        question = None if prompts is None else _question_text(prompts[index])
        if question is not None:
            text = _without_copied_prompt(text, question)
        start = time.perf_counter()
        answer = _in_process_answer(text)
        fast = None if answer is None else _fast_numbers(gold_text, answer, policy)
        if fast is not None:
            elapsed = time.perf_counter() - start
            verdicts[index] = Verdict(fast, answer, elapsed)
        else:
            jobs.append((index, gold_text, text, question))
    # a GRPO group often repeats a completion word for word: each distinct job goes to the
    # pool once (verification is deterministic; a timeout would repeat too)
    unique = list(dict.fromkeys(job[1:] for job in jobs))
    results = pool.run([(*job, rules) for job in unique], kind="math_verify", timeout=timeout)
    found = dict(zip(unique, results, strict=True))
    for index, gold_text, text, question in jobs:
        result = found[(gold_text, text, question)]
        verdicts[index] = Verdict(result.outcome, result.extracted, result.seconds, result.message)
    return [v for v in verdicts if v is not None]


def verify_math_batch(
    golds: Sequence[object],
    completions: Sequence[object],
    *,
    pool: SymbolicPool | None = None,
    timeout: float | None = None,
    prompts: Sequence[object] | None = None,
    policy: MathPolicy | dict[str, Any] | None = None,
    max_chars: int | None = None,
) -> list[Verdict]:
    """Verify many completions: math-verify's extraction and comparison, run whole
    inside the pool's killable workers, with bare numbers decided here.

    Args:
        golds: gold answers (a ``\\boxed{}`` inside a gold solution is used).
            A list, tuple or numpy array is a set of accepted answers (verl's
            ``ground_truth`` read from parquet by pandas is such an array): the
            completion is correct if it matches any of them.
        completions: model outputs (strings or chat message lists).
        pool: the worker pool; default: the shared pool (one per process).
        timeout: per-sample seconds in the pool's workers (default: the pool's
            own, 2 s for the shared pool).
        prompts: each completion's prompt; verbatim copies of it are removed
            before extraction.
        policy: what counts as equal (``MathPolicy`` or a mapping of its
            fields); the default is math-verify's rules.
        max_chars: a longer completion is not read: no answer, with a message
            (default ``MAX_COMPLETION_CHARS``, about 50k tokens).
    """
    if len(golds) != len(completions):
        raise ValueError(f"{len(golds)} gold answers for {len(completions)} completions")
    if prompts is not None and len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts for {len(completions)} completions")
    if any(_is_answer_set(gold) for gold in golds):
        return _verify_answer_sets(
            golds,
            completions,
            prompts,
            pool=pool,
            timeout=timeout,
            policy=policy,
            max_chars=max_chars,
        )
    rules = MathPolicy.coerce(policy)
    _require_math_verify()
    runner = pool or default_pool()
    limit = MAX_COMPLETION_CHARS if max_chars is None else max_chars
    return _verify_with_math_verify(golds, completions, runner, prompts, rules, limit, timeout)


#: where MathVerifier reads GSM8K's ``#### N``: in every completion, or where data_source says
GSM8K_MARKER_RULES = ("always", "gsm8k_source")
_ANSWER_MARKUP = re.compile(r"\\boxed\s*\{|<answer>")


def _final_gsm8k_answer(text: str, strict: bool) -> str | None:
    """``#### N`` at the end of ``text``; unless ``strict`` (the row names GSM8K), only
    where the text gives no boxed or tagged answer anywhere (those are read as usual)."""
    final = extract_gsm8k(text)
    if final is None or strict:
        return final
    return None if _ANSWER_MARKUP.search(text) else final


def _is_answer_set(gold: object) -> bool:
    return isinstance(gold, list | tuple) or (isinstance(gold, np.ndarray) and gold.ndim > 0)


#: which verdict of an answer set stands: the first correct one; else a timeout (that answer
#: might have matched: the sample is unknown, not wrong); else wrong, no answer, the others
_SET_PRECEDENCE = (Outcome.CORRECT, Outcome.TIMEOUT, Outcome.WRONG, Outcome.NO_ANSWER)


def _verify_answer_sets(
    golds: Sequence[object],
    completions: Sequence[object],
    prompts: Sequence[object] | None,
    **options: Any,
) -> list[Verdict]:
    """Each completion against every accepted answer of its gold, in one batch."""
    owners: list[int] = []
    flat_golds: list[object] = []
    for index, gold in enumerate(golds):
        accepted = list(np.asarray(gold, dtype=object).ravel()) if _is_answer_set(gold) else [gold]
        if not accepted:
            accepted = [None]  # an empty set of accepted answers: no gold
        owners.extend([index] * len(accepted))
        flat_golds.extend(accepted)
    flat = verify_math_batch(
        flat_golds,
        [completions[i] for i in owners],
        prompts=None if prompts is None else [prompts[i] for i in owners],
        **options,
    )
    verdicts: list[list[Verdict]] = [[] for _ in golds]
    for owner, verdict in zip(owners, flat, strict=True):
        verdicts[owner].append(verdict)
    chosen = []
    for candidates in verdicts:
        ranked = [v for outcome in _SET_PRECEDENCE for v in candidates if v.outcome is outcome]
        chosen.append(ranked[0] if ranked else candidates[0])
    return chosen


class _MathOptions(TypedDict, total=False):
    """The keyword options of :func:`verify_math_batch`, which :func:`verify_math` passes on."""

    pool: SymbolicPool | None
    timeout: float | None
    prompts: Sequence[object] | None
    policy: MathPolicy | dict[str, Any] | None
    max_chars: int | None


def verify_math(gold: object, completion: object, **options: Unpack[_MathOptions]) -> Verdict:
    """Verify one completion against one gold answer (see ``verify_math_batch``).

    Example:
        >>> verify_math("12%", r"The answer is \\boxed{0.12}").outcome
        <Outcome.CORRECT: 'correct'>
    """
    return verify_math_batch([gold], [completion], **options)[0]


@register("math_correct")
class MathVerifier(RewardTerm):
    """Correctness of a math answer: 1.0, 0.0, or not applicable with a status.

    Reads ``completion`` and ``answer`` (and ``prompt`` where present: a
    verbatim copy of the question is not an answer). By default answers are
    extracted and compared by math-verify inside worker processes killed
    after ``timeout`` seconds, with bare numbers decided on a fast path;
    ``policy`` (a ``MathPolicy`` or a mapping of its fields) sets what counts
    as equal. A completion without an answer scores
    ``no_answer`` (0.0; ``"skip"`` makes it not applicable instead);
    ``unparseable_score`` scores an answer that cannot be parsed (default:
    not applicable). A gold answer that cannot be parsed is an error: the
    sample is skipped.

    A completion that ends with GSM8K's final-answer marker (``#### N`` in its
    last 300 characters, as verl's GSM8K scorer reads it) gives N as its
    answer, text after it ("That took 2 steps.") included, unless the
    completion gives a ``\\boxed{}`` or ``<answer>`` anywhere (then that is
    read). OpenRLHF passes no ``data_source``, so this holds for every sample
    by default;
    ``gsm8k_marker="gsm8k_source"`` keeps the strict form: only rows whose
    ``data_source`` names GSM8K (``openai/gsm8k``, ``gsm8k``).

    Example:
        >>> verifier = MathVerifier(timeout=5.0)
        >>> verifier({"completion": ["48 + 24 = 72\\n#### 72\\nThat took 2 steps."],
        ...           "answer": ["72"]}).total
        array([1.])
    """

    columns = ("completion", "answer")

    def __init__(
        self,
        timeout: float = 2.0,
        unparseable_score: float | None = None,
        no_answer: float | str = 0.0,
        policy: MathPolicy | dict[str, Any] | None = None,
        max_chars: int = MAX_COMPLETION_CHARS,
        gsm8k_marker: str = "always",
        name: str = "math_correct",
    ) -> None:
        super().__init__(name)
        if gsm8k_marker not in GSM8K_MARKER_RULES:
            raise ValueError(
                f"gsm8k_marker must be one of {GSM8K_MARKER_RULES}, got {gsm8k_marker!r}"
            )
        self.gsm8k_marker = gsm8k_marker
        self.timeout = float(timeout)
        self.unparseable_score = unparseable_score
        if isinstance(no_answer, str) and no_answer != "skip":
            raise ValueError(f"no_answer must be a score or 'skip', got {no_answer!r}")
        for option, score in (("no_answer", no_answer), ("unparseable_score", unparseable_score)):
            if isinstance(score, int | float) and not math.isfinite(score):
                raise ValueError(f"{option} must be a finite score, got {score!r}")
        self.no_answer = no_answer
        self.policy = MathPolicy.coerce(policy)
        _require_math_verify()
        if max_chars <= 0:
            raise ValueError(f"max_chars must be positive, got {max_chars}")
        self.max_chars = int(max_chars)
        default_pool()  # workers start now, warm by the first batch

    def _compute(self, batch: Batch) -> RewardOutput:
        completions = list(get_column(batch, "completion"))
        sources = batch.get("data_source")
        for index, completion in enumerate(completions):
            source = None if sources is None else sources[index]
            named = isinstance(source, str) and source.lower() in GSM8K_SOURCES
            if named or self.gsm8k_marker == "always":
                final = _final_gsm8k_answer(completion_text(completion), strict=named)
                completions[index] = completion if final is None else final
        verdicts = verify_math_batch(
            get_column(batch, "answer"),
            completions,
            timeout=self.timeout,
            prompts=batch.get("prompt"),
            policy=self.policy,
            max_chars=self.max_chars,
        )
        values = np.array([np.nan if v.score is None else v.score for v in verdicts])
        status = np.array([_STATUS[v.outcome] for v in verdicts], dtype=np.int8)
        if self.unparseable_score is not None:
            unparseable = np.array([v.outcome is Outcome.UNPARSEABLE for v in verdicts])
            values[unparseable] = self.unparseable_score
            status[unparseable] = Status.OK
        missing = np.array([v.outcome is Outcome.NO_ANSWER for v in verdicts], dtype=bool)
        if self.no_answer == "skip":
            values[missing], status[missing] = np.nan, Status.NOT_APPLICABLE
        else:
            values[missing] = float(self.no_answer)
        messages = tuple(
            v.message
            or (None if v.outcome in (Outcome.CORRECT, Outcome.WRONG) else v.outcome.value)
            for v in verdicts
        )
        return RewardOutput(values, status=status, messages=messages)
