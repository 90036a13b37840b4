"""LaRe's latent-factor encoder, written by a language model, self-verified, run in the sandbox.

Qu et al., "Latent Reward: LLM-Empowered Credit Assignment in Episodic Reinforcement
Learning" (AAAI 2025, arXiv:2412.11120). An episodic return R is explained as a sum of
step rewards decoded from *latent factors* z_t = φ(s_t, a_t) that an LLM writes as code:

    R ≈ Σ_t f_θ(φ(s_t, a_t)),

the decoder f_θ learned by :class:`~rewardkit.models.decomposition.LatentRewardDecoder`
(:class:`~rewardkit.credit.delayed.OnlineRedistribution`'s ``lare`` design). This module
writes φ:

1. **environment prompting**: the task's description (the observation's layout, the
   actions, the goal) asks for ``encode(obs, action) -> list of floats``;
2. **self-verification**: the model samples ``candidates`` responses, each run in the
   sandbox on pre-collected states (:func:`~rewardkit.author.sandboxed.run_function`);
   the model then reads the candidates with their check results and synthesizes one
   improved response; that response is **pre-verified** the same way: every row must give
   the same number of finite factors (1 to ``max_factors``), not all constant, within the
   time limit;
3. when nothing passes, the failure (code and message) is shown to the next round.

The synthesis is accepted when it passes; otherwise, with ``accept_candidates``, the first
candidate that passed (the record says which). Every attempt is recorded
(:class:`EncoderAttempt`).

The accepted code never runs in this process: :class:`SandboxedEncoder` (in
:mod:`rewardkit.author.sandboxed_encoder`) evaluates it over a batch of (obs, action) rows
in one sandboxed run, returning an (N, k) array, or each failed row's reason. It is also
the ``encoder(obs, action) -> factors`` callable the redistribution expects:
:meth:`SandboxedEncoder.prefetch` encodes a whole rollout at once and each call is then a
lookup; :class:`PrefetchEncoder` wraps a term so that every batch is prefetched before the
term reads it (a row that cannot be encoded is that row's status, never made-up factors,
and its episode is kept from the redistribution, whose return it would corrupt).

Example (a scripted stand-in for the chat model; the code runs in the sandbox):

    >>> from rewardkit.judge.client import Reply
    >>> class Scripted:
    ...     def run(self, requests):
    ...         code = "def encode(obs, action):\\n    return [abs(obs[0]), float(action)]\\n"
    ...         return [Reply(f"```python\\n{code}```") for _ in requests]
    >>> task = EncoderTask("line", "obs is [position]; action is 0 or 1; reach position 0.")
    >>> result = write_encoder(Scripted(), task, [[1.0], [-2.0]], [0, 1],
    ...                        config=LatentFactorConfig(candidates=2, rounds=1))
    >>> result.accepted.source, result.accepted.factors
    ('synthesis', 2)
    >>> encoder = result.encoder()
    >>> encoder.prefetch(np.array([[3.0], [-1.0]]), np.array([1, 0])).values.tolist()
    [[3.0, 1.0], [1.0, 0.0]]
    >>> encoder(np.array([-1.0]), 0)  # a lookup: no sandbox run
    [1.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, cast

import numpy as np

from rewardkit.author.sandboxed import (
    ChatModel,
    ask,
    attempt_counts,
    batch_limits,
    check_reply,
    code_params,
    example_block,
)
from rewardkit.author.sandboxed_encoder import (
    EncoderFailedError,
    PrefetchEncoder,
    SandboxedEncoder,
)
from rewardkit.core.errors import ConfigurationError
from rewardkit.judge.client import ChatRequest, JudgeFailure, Reply
from rewardkit.verify.sandbox import Sandbox, SandboxLimits

__all__ = [
    "EncoderAttempt",
    "EncoderFailedError",
    "EncoderResult",
    "EncoderTask",
    "LatentFactorConfig",
    "PrefetchEncoder",
    "SandboxedEncoder",
    "write_encoder",
]

EncoderStatus = Literal[
    "judge_failure", "no_code", "syntax_error", "no_function", "runtime_error", "timeout",
    "bad_output", "bad_input", "sandbox_error", "too_many_factors", "constant", "passed",
    "accepted",
]  # fmt: skip


@dataclass(frozen=True)
class EncoderTask:
    """What the model is told: a ``name``, the ``description`` (observation layout, actions,
    goal), the function's name ``entry``, its ``arguments``, and optionally an ``example``
    encoder for a *different* task, shown as the format to follow."""

    name: str
    description: str
    entry: str = "encode"
    arguments: tuple[str, str] = ("obs", "action")
    example: str | None = None

    @property
    def signature(self) -> str:
        return f"def {self.entry}({', '.join(self.arguments)}):"


@dataclass(frozen=True)
class LatentFactorConfig:
    """How the encoder is written and checked.

    Attributes:
        candidates: responses sampled a round (LaRe's n), synthesized into one.
        rounds: rounds before giving up; a round's failure is shown to the next.
        synthesize: ask the model to merge the candidates (False: candidates only).
        accept_candidates: when the synthesis fails its checks, accept the first candidate
            that passed (False: only the synthesis counts, as in the paper).
        max_factors: the most factors an encoder may return.
        temperature: the candidates' sampling temperature (None: the client's).
        stop_after_code: end replies at the code block's closing fence (a ``stop`` string).
        wall_seconds: the sandbox's wall-clock limit for one batch of rows.
        memory_mb: the sandbox's memory limit.
        seed: request k is sent ``seed + k`` (None: no seed).
    """

    candidates: int = 3
    rounds: int = 2
    synthesize: bool = True
    accept_candidates: bool = True
    max_factors: int = 16
    temperature: float | None = 0.8
    stop_after_code: bool = True
    wall_seconds: float = 5.0
    memory_mb: int = 512
    seed: int | None = 0

    def __post_init__(self) -> None:
        if self.candidates < 1 or self.rounds < 1 or self.max_factors < 1:
            raise ConfigurationError("candidates, rounds and max_factors must be at least 1")
        if not self.synthesize and not self.accept_candidates:
            raise ConfigurationError(
                "with synthesize=False nothing could be accepted: set accept_candidates=True"
            )
        self.limits()  # SandboxLimits checks wall_seconds and memory_mb now

    def limits(self) -> SandboxLimits:
        """The sandbox limits of one batch."""
        return batch_limits(self.wall_seconds, self.memory_mb)


@dataclass(frozen=True)
class EncoderAttempt:
    """One response (a candidate or the synthesis) and what its checks found.

    ``factors`` is the number of factors; ``stats`` their per-factor mean and std on the
    samples, and how many were constant.
    """

    round: int
    source: str
    status: EncoderStatus
    message: str
    reply: str
    code: str | None = None
    truncated: bool = False
    compiled: bool = False
    ran: bool = False
    finite: bool = False
    factors: int = 0
    stats: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stats": dict(self.stats)}


# -- the loop ---------------------------------------------------------------------------------

SYSTEM = (
    "You write Python code for reinforcement learning. Answer with one ```python code block. "
    "Use only plain Python and the math module."
)


def candidate_prompt(
    task: EncoderTask, config: LatentFactorConfig, failed: EncoderAttempt | None
) -> str:
    """LaRe's environment prompt: the task, the function asked for, a previous failure."""
    text = example_block(task.example) + (
        f"{task.description}\n\nThe agent is rewarded only at the end of the episode. To tell "
        f"which steps helped, write the Python function `{task.signature}` that returns a "
        f"list of 1 to {config.max_factors} floats: factors that measure how well the agent "
        "is doing at this step (each factor one aspect of the task)."
    )
    if failed is not None and failed.code:
        text += (
            f"\n\nA previous function failed:\n```python\n{failed.code}\n```\n"
            f"Problem: {failed.message}\nAvoid this problem."
        )
    return text + "\n\nAnswer with the code in one ```python block."


def synthesis_prompt(task: EncoderTask, candidates: Sequence[EncoderAttempt]) -> str:
    """LaRe's self-verification: the candidates and their checks, merged into one response."""
    parts = []
    for index, c in enumerate(candidates, start=1):
        check = (
            f"it ran and returned {c.factors} finite factors"
            if c.finite
            else f"it failed: {c.message}"
        )
        parts.append(f"Candidate {index} ({check}):\n```python\n{c.code}\n```")
    joined = "\n\n".join(parts)
    return (
        f"{task.description}\n\nHere are {len(candidates)} candidate functions "
        f"`{task.signature}` that return factors of how well the agent is doing:\n\n{joined}\n\n"
        "Check them for mistakes, then write one improved, correct function that combines "
        f"their best ideas and returns a list of floats. Name it `{task.entry}`. "
        "Answer with the code in one ```python block."
    )


def _check(
    reply: Reply | JudgeFailure,
    where: dict[str, Any],
    rows: list[list[Any]],
    config: LatentFactorConfig,
    sandbox: Sandbox,
    entry: str,
) -> EncoderAttempt:
    check = check_reply(sandbox, reply, entry, rows, vector=True, limits=config.limits())
    where.update(check.fields)
    if check.values is None:
        status = cast(EncoderStatus, check.status)
        return EncoderAttempt(**where, status=status, message=check.message)
    values = check.values
    width = int(values.shape[1])
    std = values.std(axis=0)
    stats = {
        "mean": values.mean(axis=0).round(4).tolist(),
        "std": std.round(4).tolist(),
        "constant": int(np.sum(std == 0)),
    }
    where.update(factors=width, stats=stats)
    if width > config.max_factors:
        message = f"{width} factors, at most {config.max_factors} allowed"
        return EncoderAttempt(**where, status="too_many_factors", message=message)
    if stats["constant"] == width:
        message = "every factor is the same on every sample state: it tells no step apart"
        return EncoderAttempt(**where, status="constant", message=message)
    return EncoderAttempt(**where, status="passed", message="")


@dataclass(frozen=True)
class EncoderResult:
    """Every attempt, and the accepted one (see the module docs)."""

    task: EncoderTask
    attempts: tuple[EncoderAttempt, ...]
    config: LatentFactorConfig = field(default_factory=LatentFactorConfig)

    @property
    def accepted(self) -> EncoderAttempt | None:
        return next((a for a in self.attempts if a.status == "accepted"), None)

    def counts(self) -> dict[str, int]:
        """Attempts, and how many had code, compiled, ran, gave finite factors, passed."""
        passed = sum(a.status in ("passed", "accepted") for a in self.attempts)
        return {**attempt_counts(self.attempts), "passed": passed}

    def encoder(self, sandbox: Sandbox | None = None) -> SandboxedEncoder:
        """The accepted code as a :class:`SandboxedEncoder`; ConfigurationError without one."""
        chosen = self.accepted
        if chosen is None or chosen.code is None:
            raise ConfigurationError(f"no encoder was accepted for {self.task.name!r}")
        return SandboxedEncoder(
            chosen.code, chosen.factors, self.task.entry, self.config.limits(), sandbox
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": asdict(self.task),
            "config": asdict(self.config),
            "counts": self.counts(),
            "attempts": [a.to_dict() for a in self.attempts],
        }


def write_encoder(
    model: ChatModel,
    task: EncoderTask,
    observations: Any,
    actions: Any,
    *,
    config: LatentFactorConfig | None = None,
    sandbox: Sandbox | None = None,
) -> EncoderResult:
    """Write LaRe's encoder with self-verification (see the module docs).

    Args:
        model: a chat model (:class:`~rewardkit.judge.client.JudgeClient` or anything with
            its ``run``); a failed request is an attempt with status ``judge_failure``.
        task: what the model is told.
        observations, actions: the pre-collected states (and actions) every response runs on.
        config: candidates, rounds, limits.
        sandbox: the sandbox (default: full isolation with the config's limits).
    """
    config = config or LatentFactorConfig()
    rows = [
        [np.asarray(o).tolist(), np.asarray(a).tolist()]
        for o, a in zip(observations, actions, strict=True)
    ]
    if not rows:
        raise ConfigurationError("write_encoder needs sample states to run code on")
    writer = _Writer(model, task, config, rows, sandbox or Sandbox(config.limits()))
    attempts: list[EncoderAttempt] = []
    failed: EncoderAttempt | None = None
    for round_ in range(config.rounds):
        candidates = writer.candidates(round_, failed)
        with_code = [c for c in candidates if c.code is not None]
        merged = writer.synthesis(round_, with_code) if config.synthesize and with_code else None
        attempts += [*candidates, *([merged] if merged is not None else [])]
        chosen = _choose(merged, candidates, config)
        if chosen is not None:
            attempts[attempts.index(chosen)] = replace(chosen, status="accepted")
            break
        failed = merged if merged is not None and merged.code else next(iter(with_code), failed)
    return EncoderResult(task, tuple(attempts), config)


@dataclass
class _Writer:
    """The requests and checks of one :func:`write_encoder` run."""

    model: ChatModel
    task: EncoderTask
    config: LatentFactorConfig
    rows: list[list[Any]]
    sandbox: Sandbox
    sent: int = 0

    def _seed(self) -> dict[str, int]:
        self.sent += 1
        return {} if self.config.seed is None else {"seed": self.config.seed + self.sent - 1}

    def candidates(self, round_: int, failed: EncoderAttempt | None) -> list[EncoderAttempt]:
        params = code_params(self.config.temperature, self.config.stop_after_code)
        prompt = candidate_prompt(self.task, self.config, failed)
        requests = [
            ChatRequest.user(prompt, system=SYSTEM, **params, **self._seed())
            for _ in range(self.config.candidates)
        ]
        replies = self.model.run(requests)
        return [self.check(r, round_, f"candidate {k}") for k, r in enumerate(replies)]

    def synthesis(self, round_: int, candidates: Sequence[EncoderAttempt]) -> EncoderAttempt:
        seed = self._seed().get("seed")
        params = code_params(None, self.config.stop_after_code)
        reply = ask(self.model, synthesis_prompt(self.task, candidates), SYSTEM, seed, **params)
        return self.check(reply, round_, "synthesis")

    def check(self, reply: Reply | JudgeFailure, round_: int, source: str) -> EncoderAttempt:
        where = {"round": round_, "source": source}
        return _check(reply, where, self.rows, self.config, self.sandbox, self.task.entry)


def _choose(
    merged: EncoderAttempt | None, candidates: Sequence[EncoderAttempt], config: LatentFactorConfig
) -> EncoderAttempt | None:
    if merged is not None and merged.status == "passed":
        return merged
    if config.accept_candidates:
        return next((c for c in candidates if c.status == "passed"), None)
    return None
