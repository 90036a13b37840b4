"""L2R-style parameter filling: a model fills the parameters of a fixed reward template.

After Yu et al. 2023 ("Language to Rewards for Robotic Skill Synthesis", L2R), where
a person writes the reward's building blocks once (residual terms behind a
small reward API) and a language model turns a natural-language instruction
into a reward by choosing which terms to use and their *parameters* (weights,
targets); a controller (MuJoCo MPC in the paper) then optimises the filled
reward. Here the model never writes code, so what it can get wrong is bounded:
a value outside its declared range, a missing parameter, an answer with no
values in it.

What is missing, so this is "L2R-style parameter filling", not Language to
Rewards: the paper's two prompts (a *motion descriptor* that rewrites the
instruction as a structured description of the motion, then a *reward coder*
that turns that description into code calling the reward API) are one prompt
here; the model answers with JSON values for a fixed template's parameters,
not with reward-API code (it cannot choose or combine terms); and there is no
optimizer in the loop (no MPC, no rollout of the filled reward, no user
feedback to correct it): the filled template is handed to the caller.

Here a :class:`RewardTemplate` is fixed reward code: named :class:`Parameter`
entries, each with a range and a line of help, and a reward function
``reward(values, batch) -> (N,)`` written by a person. :meth:`RewardTemplate.prompt`
asks the model for a JSON object of values; :meth:`RewardTemplate.parse`
reads the answer (the first JSON object, else ``name: number`` lines, the
form small models write) and validates it:

- a missing parameter, a value that is not a finite number, or an answer
  with neither form is an :class:`~rewardkit.judge.UnparseableAnswerError`
  naming what is wrong;
- a value outside its range is an error too, never silently clamped:
  ``clamp=True`` (the caller's explicit choice) clamps it and records the
  parameter in :attr:`FilledTemplate.clamped`.

:func:`fill_template` runs the loop against any OpenAI-compatible server:
one or more attempts, each a :class:`FilledTemplate` or an
:class:`AuthoringFailure` (status ``error``/``timeout`` and the reason: the
server's failure or why the answer was rejected). A filled template becomes
a term (:meth:`FilledTemplate.term`) or, for a template over one observation
column, a potential for :class:`~rewardkit.shaping.PotentialShaping`
(:meth:`FilledTemplate.potential`).

Example:
    >>> def cost(values, batch):
    ...     x = np.asarray(batch["obs"], dtype=float)[:, 0]
    ...     return -values["weight"] * (x - values["target"]) ** 2
    >>> template = RewardTemplate(
    ...     "reach", "reward = -weight * (x - target)^2",
    ...     (Parameter("weight", 0.0, 10.0, "how much distance costs"),
    ...      Parameter("target", -1.0, 1.0, "where x should end")), cost)
    >>> filled = template.parse('Sure! {"weight": 2, "target": 0.5}')
    >>> filled.values
    {'weight': 2.0, 'target': 0.5}
    >>> filled.term()({"obs": [[0.0], [1.5]], "action": [0, 0]}).total
    array([-0.5, -2. ])
    >>> try:
    ...     template.parse('{"weight": 20, "target": 0.5}')
    ... except UnparseableAnswerError as exc:
    ...     print(exc)
    weight=20 is outside [0, 10]: "{\\"weight\\": 20, \\"target\\": 0.5}"
    >>> template.parse("weight: 20\\ntarget = 0", clamp=True).clamped
    ('weight',)
    >>> client = JudgeClient(JudgeSettings(model="m", base_url="http://127.0.0.1:9/v1",
    ...                                    retries=0, deadline_s=2.0))
    >>> failure, = fill_template(client, template, "stop at 0.5")  # nothing on port 9
    >>> failure.status.name, failure.reason.startswith("connection failed")
    ('ERROR', True)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import FloatArray, Status
from rewardkit.core.term import RewardTerm
from rewardkit.judge.base import as_client
from rewardkit.judge.client import ChatRequest, JudgeClient, JudgeFailure, Reply
from rewardkit.judge.parse import UnparseableAnswerError, json_object, refusal
from rewardkit.judge.settings import JudgeSettings

__all__ = [
    "AuthoringFailure",
    "FilledTemplate",
    "Parameter",
    "RewardTemplate",
    "TemplateReward",
    "fill_template",
]

RewardFunction = Callable[[Mapping[str, float], Batch], Any]
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
#: between a name and its value: closing quotes or bold, then ":", "=" (not "==") or "is"
_SEPARATOR = r"[\"'*]{0,2}\s*(?:[:=](?!=)|\bis\b)\s*\**\s*"


@dataclass(frozen=True)
class AuthoringFailure:
    """A model-authored piece that could not be used: ``status`` (ERROR or TIMEOUT),
    ``reason`` (the server's failure, or why the answer was rejected) and the
    answer's ``text`` where there was one."""

    status: Status
    reason: str
    text: str | None = None

    @classmethod
    def of(cls, failure: JudgeFailure) -> AuthoringFailure:
        """The failure of a judge call, as it is."""
        return cls(failure.status, failure.reason)


@dataclass(frozen=True)
class Parameter:
    """One value the model chooses.

    Attributes:
        name: the key the model writes (a Python identifier).
        low: the smallest value allowed.
        high: the largest value allowed.
        help: what the value does, in one line the model reads.
    """

    name: str
    low: float
    high: float
    help: str

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ConfigurationError(f"parameter name {self.name!r} must be a Python identifier")
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ConfigurationError(
                f"parameter {self.name!r} needs finite low < high, got [{self.low}, {self.high}]"
            )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _quote(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return json.dumps(text if len(text) <= limit else text[: limit - 3] + "...")


@dataclass(frozen=True)
class RewardTemplate:
    """Fixed reward code with named, bounded parameters (see the module doc).

    Attributes:
        name: the template's name (the term's default name).
        description: the reward's formula in words, shown to the model.
        parameters: the values the model chooses.
        reward: the fixed code, ``reward(values, batch) -> N values``; a
            module-level function keeps the term picklable.
        columns: the batch columns ``reward`` reads.
        system: the system message of the prompt.
    """

    name: str
    description: str
    parameters: tuple[Parameter, ...]
    reward: RewardFunction
    columns: tuple[str, ...] = ("obs", "action")
    system: str = "You set the parameters of a reward function. Reply with one JSON object only."

    def __post_init__(self) -> None:
        names = [p.name for p in self.parameters]
        if not names or len(set(names)) != len(names):
            raise ConfigurationError(f"a template needs distinct parameter names, got {names}")
        if not callable(self.reward):
            raise ConfigurationError("reward must be a function (values, batch) -> N values")

    @property
    def names(self) -> tuple[str, ...]:
        """The parameter names, in order."""
        return tuple(p.name for p in self.parameters)

    def prompt(self, instruction: str, **params: Any) -> ChatRequest:
        """The request asking the model for the values that fit ``instruction``."""
        lines = [
            f"- {p.name}: {p.help} (from {_num(p.low)} to {_num(p.high)})" for p in self.parameters
        ]
        text = (
            f"Instruction: {instruction}\nReward: {self.description}\nParameters:\n"
            + "\n".join(lines)
            + f"\nGive the values that fit the instruction as JSON with the keys "
            f"{', '.join(self.names)}."
        )
        return ChatRequest.user(text, system=self.system, **params)

    def parse(self, text: str, *, clamp: bool = False) -> FilledTemplate:
        """Read and validate the values in ``text`` (see the module doc); raises
        :class:`~rewardkit.judge.UnparseableAnswerError` saying what is wrong."""
        found = json_object(text)
        if found is None:
            phrase = refusal(text)
            if phrase is not None:
                raise UnparseableAnswerError(f"the model refused ({phrase!r}): {_quote(text)}")
            found = self._plain_values(text)
            if not found:
                raise UnparseableAnswerError(
                    f"no JSON object and no 'name: number' lines for {list(self.names)}: "
                    + _quote(text)
                )
        try:
            return self.fill(found, clamp=clamp, text=text)
        except ConfigurationError as exc:
            raise UnparseableAnswerError(f"{exc}: {_quote(text)}") from None

    def _plain_values(self, text: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in self.names:
            pattern = rf"(?<![\w-]){re.escape(name)}{_SEPARATOR}({_NUMBER})"
            hits = {float(v) for v in re.findall(pattern, text, re.IGNORECASE)}
            if len(hits) > 1:
                raise UnparseableAnswerError(
                    f"several values {sorted(hits)} for {name}: {_quote(text)}"
                )
            if hits:
                values[name] = hits.pop()
        return values

    def fill(
        self, values: Mapping[str, Any], *, clamp: bool = False, text: str | None = None
    ) -> FilledTemplate:
        """Validated values (a user's own, or a parsed answer); raises ConfigurationError."""
        missing = [name for name in self.names if name not in values]
        if missing:
            raise ConfigurationError(f"missing parameters {missing}")
        chosen: dict[str, float] = {}
        clamped: list[str] = []
        for p in self.parameters:
            value = _number(values[p.name])
            if value is None:
                raise ConfigurationError(f"{p.name}={values[p.name]!r} is not a finite number")
            if not p.low <= value <= p.high:
                if not clamp:
                    raise ConfigurationError(
                        f"{p.name}={_num(value)} is outside [{_num(p.low)}, {_num(p.high)}]"
                    )
                value = min(max(value, p.low), p.high)
                clamped.append(p.name)
            chosen[p.name] = value
        ignored = tuple(sorted(str(k) for k in values if k not in self.names))
        return FilledTemplate(self, chosen, tuple(clamped), ignored, text)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not re.fullmatch(_NUMBER, value):
            return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class FilledTemplate:
    """A template with its values chosen.

    Attributes:
        template: the fixed code.
        values: parameter → value, every one in range.
        clamped: parameters whose value was clamped into range (``clamp=True`` only).
        ignored: keys of the answer that name no parameter.
        text: the model's answer the values were read from (None for a user's values).
    """

    template: RewardTemplate
    values: dict[str, float]
    clamped: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    text: str | None = field(default=None, compare=False)

    def reward(self, batch: Batch) -> FloatArray:
        """The template's reward of ``batch`` under these values, as float64 (N,)."""
        return np.asarray(self.template.reward(self.values, batch), dtype=np.float64)

    def term(self, name: str | None = None) -> TemplateReward:
        """This reward as a term reading the template's columns."""
        return TemplateReward(self, name=name or self.template.name)

    def potential(self) -> Callable[[Any], FloatArray]:
        """This reward as a potential Φ(obs) for potential-based shaping; the
        template must read one observation column (``obs`` or ``next_obs``) only."""
        columns = set(self.template.columns)
        if len(columns) != 1 or not columns <= {"obs", "next_obs"}:
            raise ConfigurationError(
                f"a potential reads one observation column; template {self.template.name!r} "
                f"reads {sorted(columns)}: use .term() instead"
            )
        return _TemplatePotential(self, next(iter(columns)))


@dataclass(frozen=True)
class _TemplatePotential:
    filled: FilledTemplate
    column: str

    def __call__(self, obs: Any) -> FloatArray:
        return self.filled.reward({self.column: np.asarray(obs)})


class TemplateReward(RewardTerm):
    """A filled template as a term: the template's reward under the chosen values."""

    abstains = False

    def __init__(self, filled: FilledTemplate, name: str = "template_reward") -> None:
        super().__init__(name)
        self.filled = filled
        self.columns = tuple(filled.template.columns)

    def _compute(self, batch: Batch) -> FloatArray:
        return self.filled.reward(batch)


def _read(
    template: RewardTemplate, answer: Reply | JudgeFailure, clamp: bool
) -> FilledTemplate | AuthoringFailure:
    if isinstance(answer, JudgeFailure):
        return AuthoringFailure.of(answer)
    try:
        return template.parse(answer.text, clamp=clamp)
    except UnparseableAnswerError as exc:
        return AuthoringFailure(Status.ERROR, str(exc), answer.text)


def fill_template(
    client: JudgeClient | JudgeSettings | Mapping[str, Any],
    template: RewardTemplate,
    instruction: str,
    *,
    attempts: int = 1,
    clamp: bool = False,
    max_tokens: int | None = None,
) -> list[FilledTemplate | AuthoringFailure]:
    """Ask the model for ``template``'s values ``attempts`` times (seeds ``seed + k``).

    Returns one :class:`FilledTemplate` or :class:`AuthoringFailure` per attempt,
    in order; nothing raises for a server failure or a bad answer. Several
    attempts need a temperature above 0 (else they repeat one answer).
    """
    client = as_client(client)
    if not isinstance(attempts, int) or attempts < 1:
        raise ConfigurationError(f"attempts must be at least 1, got {attempts!r}")
    settings = client.settings
    if attempts > 1 and settings.temperature == 0:
        raise ConfigurationError(
            f"attempts={attempts} at temperature 0 would repeat one answer; "
            "set JudgeSettings(temperature=...) above 0"
        )
    base = settings.seed if settings.seed is not None else 0
    extra: dict[str, Any] = {} if max_tokens is None else {"max_tokens": int(max_tokens)}
    requests = [template.prompt(instruction, seed=base + k, **extra) for k in range(attempts)]
    return [_read(template, answer, clamp) for answer in client.run(requests)]
