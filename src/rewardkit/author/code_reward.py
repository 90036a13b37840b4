"""Auto MC-Reward-style reward code: a language model writes a reward function, a critic and
a trajectory analyser make it revise, and the code only ever runs in the sandbox.

After Li et al., "Auto MC-Reward: Automated Dense Reward Design with Large Language Models
for Minecraft" (CVPR 2024, arXiv:2312.09238). Three roles, all played by one chat model:

1. the **designer** writes ``reward(obs, action, next_obs) -> float`` from the task's
   description (the observation's fields named) in a fenced ```python block;
2. the code is extracted, compiled (:func:`compile` runs nothing) and run in
   :class:`~rewardkit.verify.sandbox.Sandbox` over the sample transitions in one batch:
   every output must be a finite number, within the time limit. A failure's message (the
   exception, "non-finite output", "ran past its time limit") goes back to the designer;
3. the **critic** reads the code and what it returned on the samples and answers Yes or No
   with a reason (the paper's check of consistency and of the observation's use); a No goes
   back to the designer, at most ``revisions`` times a round;
4. with episodes, the code that passed must also run on every transition of them; where
   it fails there (status ``episodes_failed``) it is not accepted, and the failure goes
   back to the designer as the next revision's feedback;
5. the **trajectory analyser** reads how the accepted reward scored the caller's episodes,
   successful against failed, with notes on the failures, and says why the agent fails and
   what to change; the designer revises in the next round (no analysis: the loop ends).

What is missing, so this is "Auto MC-Reward-style", not Auto MC-Reward: the paper trains
the agent with each accepted reward between rounds and its analyser reads the statistics
of the *new agent's* trajectories (how it died, where it got stuck); here nothing is
trained, the episodes are the caller's own (e.g. scripted successes and random failures),
the same in every round, and the analyser reads the caller's notes on them. The paper's
prompts, its Minecraft observation format and its reward template (a dense and a sparse
part) are not reproduced: the prompts here are this module's own. Each accepted reward is
measured on the episodes by the chance that a successful episode's return under it beats
a failed one's (ties count one half):

    AUC = P(G_s > G_f) + ½ P(G_s = G_f),   G = Σ_t r_gen(s_t, a_t, s_t+1).

Every attempt is recorded (:class:`CodeAttempt`): the reply, the code, whether it compiled,
ran, gave finite numbers and passed the critic, and its rewards' statistics. The accepted
code becomes a term with :meth:`CodeRewardResult.reward`, which runs it in the sandbox once
per batch (a row that fails is that row's error, never a 0; a timeout or crash of the whole
run is every row's status).

Example (a scripted stand-in for the chat model; the code still runs in the sandbox):

    >>> from rewardkit.judge.client import Reply
    >>> class Scripted:
    ...     def __init__(self, *texts): self.texts = list(texts)
    ...     def run(self, requests): return [Reply(self.texts.pop(0)) for _ in requests]
    >>> model = Scripted("```python\\ndef reward(obs, action, next_obs):\\n"
    ...                  "    return next_obs['x'] - obs['x']\\n```", "Yes, it rewards progress.")
    >>> task = RewardTask("walk", "Walk right. obs is a dict with the position 'x'.")
    >>> samples = [{"obs": {"x": 0}, "action": 1, "next_obs": {"x": 1}},
    ...            {"obs": {"x": 1}, "action": 0, "next_obs": {"x": 1}}]
    >>> result = design_reward_code(model, task, samples, config=CodeRewardConfig(rounds=1))
    >>> result.accepted.status, result.accepted.stats["mean"]
    ('accepted', 0.5)
    >>> result.reward()({"obs": [{"x": 2}], "action": [1], "next_obs": [{"x": 5}]}).total
    array([3.])
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

import numpy as np

from rewardkit.author.sandboxed import (
    ChatModel,
    SandboxRun,
    SandboxSettings,
    ask,
    attempt_counts,
    batch_limits,
    check_reply,
    code_params,
    example_block,
    reward_stats,
    run_function,
)
from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import RewardOutput
from rewardkit.core.term import RewardTerm
from rewardkit.judge.client import JudgeFailure, Reply
from rewardkit.judge.parse import UnparseableAnswerError, parse_yes_no
from rewardkit.verify.sandbox import Sandbox, SandboxLimits

__all__ = [
    "CodeAttempt",
    "CodeRewardConfig",
    "CodeRewardResult",
    "Episode",
    "GeneratedReward",
    "RewardTask",
    "design_reward_code",
    "episode_summary",
    "separation_auc",
]

#: what an attempt came to; only "accepted" is usable
AttemptStatus = Literal[
    "judge_failure", "no_code", "syntax_error", "no_function", "runtime_error", "timeout",
    "bad_output", "bad_input", "sandbox_error", "constant", "critic_rejected",
    "critic_unreadable", "episodes_failed", "accepted",
]  # fmt: skip


def separation_auc(success: Sequence[float], failure: Sequence[float]) -> float:
    """P(a successful episode's return > a failed one's), ties ½; NaN without both kinds.

    Example:
        >>> separation_auc([3.0, 1.0], [1.0, 0.0])
        0.875
    """
    if not len(success) or not len(failure):
        return math.nan
    s = np.asarray(success, dtype=np.float64)[:, None]
    f = np.asarray(failure, dtype=np.float64)[None, :]
    return float(np.mean((s > f) + 0.5 * (s == f)))


# -- the task, the episodes, the record ---------------------------------------------------------


@dataclass(frozen=True)
class RewardTask:
    """What the designer is told.

    Attributes:
        name: a short name, for the record.
        description: the environment, the goal and the observation's fields, in words.
        entry: the function's name.
        arguments: its parameters (each a transition's key), in call order.
        example: a reward function for a *different* task, shown as the format to follow
            (the paper's prompt shows its own template); None shows none.
    """

    name: str
    description: str
    entry: str = "reward"
    arguments: tuple[str, ...] = ("obs", "action", "next_obs")
    example: str | None = None

    @property
    def signature(self) -> str:
        return f"def {self.entry}({', '.join(self.arguments)}):"


@dataclass(frozen=True)
class Episode:
    """A trajectory for the analyser: its transitions (dicts keyed by the task's arguments),
    whether it reached the goal, and a note in words on what happened."""

    transitions: tuple[Mapping[str, Any], ...]
    success: bool
    note: str = ""


@dataclass(frozen=True)
class CodeRewardConfig:
    """How long the loop runs and what it accepts.

    Attributes:
        rounds: designer → analyser rounds (the analyser runs between rounds, given episodes).
        revisions: designer ↔ critic revisions a round (a round's attempts: ``revisions + 1``).
        wall_seconds: the sandbox's wall-clock limit for one batch of transitions.
        memory_mb: the sandbox's memory limit.
        reject_constant: reject code whose reward is the same on every sample.
        critic: ask the critic (False: the mechanical checks alone accept).
        temperature: the designer's sampling temperature (None: the client's).
        review_max_tokens: the longest critic or analyser answer (None: the client's).
        stop_after_code: end the designer's replies at the code block's closing fence
            (a ``stop`` string: fewer tokens; the block may then arrive unclosed).
        seed: the sampling seed sent with request k is ``seed + k`` (None: none sent).
    """

    rounds: int = 2
    revisions: int = 2
    wall_seconds: float = 5.0
    memory_mb: int = 512
    reject_constant: bool = True
    critic: bool = True
    temperature: float | None = None
    review_max_tokens: int | None = 96
    stop_after_code: bool = True
    seed: int | None = 0

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.revisions < 0:
            raise ConfigurationError(
                f"rounds must be >= 1 and revisions >= 0, got {self.rounds} and {self.revisions}"
            )
        self.limits()  # SandboxLimits checks wall_seconds and memory_mb now

    def limits(self) -> SandboxLimits:
        """The sandbox limits of one batch."""
        return batch_limits(self.wall_seconds, self.memory_mb)


@dataclass(frozen=True)
class CodeAttempt:
    """One designer reply and what became of it (see the module docs)."""

    round: int
    revision: int
    status: AttemptStatus
    message: str
    reply: str
    code: str | None = None
    truncated: bool = False
    compiled: bool = False
    ran: bool = False
    finite: bool = False
    critic_passed: bool | None = None
    critic_reply: str | None = None
    stats: Mapping[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stats": dict(self.stats)}


@dataclass(frozen=True)
class CodeRewardResult:
    """Every attempt, the analyses, and the accepted attempt (the last one accepted)."""

    task: RewardTask
    attempts: tuple[CodeAttempt, ...]
    analyses: tuple[str, ...] = ()
    config: CodeRewardConfig = field(default_factory=CodeRewardConfig)

    @property
    def accepted(self) -> CodeAttempt | None:
        done = [a for a in self.attempts if a.status == "accepted"]
        return done[-1] if done else None

    def counts(self) -> dict[str, int]:
        """Attempts, and how many compiled, ran, gave finite numbers, passed the critic."""
        passed = sum(bool(a.critic_passed) for a in self.attempts)
        return {**attempt_counts(self.attempts), "critic_passed": passed}

    def reward(self, name: str | None = None, sandbox: Sandbox | None = None) -> GeneratedReward:
        """The accepted code as a term; ConfigurationError when none was accepted."""
        if self.accepted is None or self.accepted.code is None:
            raise ConfigurationError(f"no reward code was accepted for {self.task.name!r}")
        name = name or f"generated_{self.task.entry}"
        return GeneratedReward(self.accepted.code, self.task, self.config.limits(), name, sandbox)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": asdict(self.task),
            "config": asdict(self.config),
            "counts": self.counts(),
            "analyses": list(self.analyses),
            "attempts": [a.to_dict() for a in self.attempts],
        }


class GeneratedReward(RewardTerm):
    """Model-written reward code as a term: one sandboxed run per batch.

    Reads the task's arguments as columns. A row that fails (an exception, a non-number, a
    non-finite value, arguments that are not JSON) is that row's error with its message,
    never a number, and the other rows keep their values; a run that fails as a whole (a
    timeout, a crash) gives every row that status and message. A pickled copy rebuilds
    the same sandbox (:class:`~rewardkit.author.sandboxed.SandboxSettings`).
    """

    def __init__(
        self,
        code: str,
        task: RewardTask,
        limits: SandboxLimits | None = None,
        name: str = "generated_reward",
        sandbox: Sandbox | None = None,
    ) -> None:
        super().__init__(name)
        self.code, self.task = code, task
        self.limits = limits or SandboxLimits()
        self.columns = task.arguments
        self._sandbox = sandbox or Sandbox(self.limits)

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k != "_sandbox"}
        return {**state, "_sandbox_settings": SandboxSettings.of(self._sandbox)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        settings = state.pop("_sandbox_settings", None)
        self.__dict__.update(state)
        self._sandbox = settings.build() if settings is not None else Sandbox(self.limits)

    def _compute(self, batch: Batch) -> RewardOutput:
        rows = [list(r) for r in zip(*(get_column(batch, c) for c in self.columns), strict=True)]
        run = run_function(self._sandbox, self.code, self.task.entry, rows, limits=self.limits)
        return run.output(len(rows))


# -- the loop -----------------------------------------------------------------------------------

DESIGNER_SYSTEM = (
    "You are a reward designer for reinforcement learning. You write one Python function "
    "in a ```python code block. Use only plain Python and the math module."
)
_FENCE = "Answer with the code in one ```python block."


def designer_prompt(task: RewardTask, code: str | None, feedback: str | None) -> str:
    """The designer's request: the task, and for a revision the code and what to fix."""
    ask = (
        f"{task.description}\n\nWrite the Python function `{task.signature}` that returns a "
        "float: a dense reward that rises as the agent makes progress on the task."
    )
    ask = example_block(task.example) + ask
    if code is None and feedback is None:
        return f"{ask} {_FENCE}"
    previous = f"\n\nYour previous code:\n```python\n{code}\n```" if code else ""
    return f"{ask}{previous}\n\nFeedback: {feedback}\n\nWrite the corrected function. {_FENCE}"


def critic_prompt(task: RewardTask, code: str, stats: Mapping[str, float]) -> str:
    """The critic's request: the task, the code and what it returned on the samples."""
    return (
        f"Task: {task.description}\n\nReward function:\n```python\n{code}\n```\n\n"
        f"On {int(stats['count'])} sample transitions it returned rewards from "
        f"{stats['min']:.3g} to {stats['max']:.3g} (mean {stats['mean']:.3g}).\n\n"
        "Is this reward function correct for the task: does it read the observation as "
        "described, and does it reward progress on the task? Reply Yes or No, then one "
        "sentence with the reason."
    )


def analyser_prompt(
    task: RewardTask, code: str, summary: Mapping[str, float], notes: Sequence[str]
) -> str:
    """The trajectory analyser's request: how the reward scored successes and failures."""
    failures = "\n".join(f"- {note}" for note in notes) or "- (no notes)"
    return (
        f"Task: {task.description}\n\nReward function:\n```python\n{code}\n```\n\n"
        f"The agent's episodes: {int(summary['successes'])} reached the goal, "
        f"{int(summary['failures'])} failed. Mean return under this reward: "
        f"{summary['success_return']:.3g} for successful episodes, "
        f"{summary['failure_return']:.3g} for failed ones.\nFailed episodes:\n{failures}\n\n"
        "Why does the agent fail, and how should the reward function change so that it "
        "rewards the steps that lead to the goal? Answer in at most three sentences."
    )


@dataclass
class _Loop:
    """State of one run of :func:`design_reward_code`."""

    model: ChatModel
    task: RewardTask
    samples: Sequence[Mapping[str, Any]]
    config: CodeRewardConfig
    sandbox: Sandbox
    requests: int = 0

    def ask(self, text: str, system: str | None = None, **params: Any) -> Reply | JudgeFailure:
        seed = self.config.seed
        self.requests += 1
        seed = None if seed is None else seed + self.requests - 1
        return ask(self.model, text, system, seed, **params)

    def review(self) -> dict[str, int]:
        limit = self.config.review_max_tokens
        return {} if limit is None else {"max_tokens": limit}

    def run(self, code: str, rows: Sequence[Sequence[Any]]) -> SandboxRun:
        limits = self.config.limits()
        return run_function(self.sandbox, code, self.task.entry, rows, limits=limits)

    def attempt(self, where: dict[str, Any], code: str | None, feedback: str | None) -> CodeAttempt:
        params = code_params(self.config.temperature, self.config.stop_after_code)
        reply = self.ask(designer_prompt(self.task, code, feedback), DESIGNER_SYSTEM, **params)
        rows = [[s[a] for a in self.task.arguments] for s in self.samples]
        check = check_reply(self.sandbox, reply, self.task.entry, rows, limits=self.config.limits())
        where.update(check.fields)
        if check.values is None:
            status = cast(AttemptStatus, check.status)
            return CodeAttempt(**where, status=status, message=check.message)
        where["stats"] = stats = reward_stats(check.values)
        if self.config.reject_constant and stats["std"] == 0.0:
            message = f"the reward is {stats['mean']:g} on every sample: it tells no step apart"
            return CodeAttempt(**where, status="constant", message=message)
        if not self.config.critic:
            return CodeAttempt(**where, status="accepted", message="")
        return self.criticise(where, where["code"], stats)

    def criticise(self, where: dict[str, Any], code: str, stats: dict[str, float]) -> CodeAttempt:
        reply = self.ask(critic_prompt(self.task, code, stats), None, **self.review())
        if isinstance(reply, JudgeFailure):
            return CodeAttempt(**where, status="judge_failure", message=reply.reason)
        try:
            passed = parse_yes_no(reply.text) == "yes"
        except UnparseableAnswerError as exc:
            return CodeAttempt(
                **where, status="critic_unreadable", message=str(exc), critic_reply=reply.text
            )
        message = "" if passed else f"the critic says: {reply.text.strip()[:400]}"
        status: AttemptStatus = "accepted" if passed else "critic_rejected"
        return CodeAttempt(
            **where, status=status, message=message, critic_passed=passed, critic_reply=reply.text
        )

    def on_episodes(self, attempt: CodeAttempt, episodes: Sequence[Episode]) -> CodeAttempt:
        """An attempt that passed, run on every transition of the episodes: accepted with
        the episodes' statistics, or ``episodes_failed`` with why (the designer's feedback)."""
        rows = [[t[a] for a in self.task.arguments] for e in episodes for t in e.transitions]
        run = self.run(cast(str, attempt.code), rows)
        if run.values is None:
            message = f"the reward failed on the agent's episodes ({run.status}): {run.message}"
            return dataclasses.replace(attempt, status="episodes_failed", message=message)
        summary = episode_summary(run.values, episodes)
        stats = {**attempt.stats, **{f"episodes_{k}": v for k, v in summary.items()}}
        return dataclasses.replace(attempt, stats=stats)

    def advise(self, attempt: CodeAttempt, episodes: Sequence[Episode]) -> str | None:
        """The analyser's advice on an accepted attempt's episode statistics (None when the
        request failed)."""
        summary = {k[9:]: v for k, v in attempt.stats.items() if k.startswith("episodes_")}
        notes = [e.note for e in episodes if not e.success and e.note][:4]
        prompt = analyser_prompt(self.task, cast(str, attempt.code), summary, notes)
        reply = self.ask(prompt, None, **self.review())
        return None if isinstance(reply, JudgeFailure) else reply.text.strip()


def episode_summary(values: np.ndarray, episodes: Sequence[Episode]) -> dict[str, float]:
    """Successes, failures, each kind's mean return under ``values`` (the episodes'
    transitions, concatenated) and the separation AUC."""
    ends = np.cumsum([len(e.transitions) for e in episodes])[:-1]
    returns = [float(part.sum()) for part in np.split(values, ends)]
    wins = [g for g, e in zip(returns, episodes, strict=True) if e.success]
    losses = [g for g, e in zip(returns, episodes, strict=True) if not e.success]
    return {
        "successes": float(len(wins)),
        "failures": float(len(losses)),
        "success_return": float(np.mean(wins)) if wins else math.nan,
        "failure_return": float(np.mean(losses)) if losses else math.nan,
        "auc": separation_auc(wins, losses),
    }


def design_reward_code(
    model: ChatModel,
    task: RewardTask,
    samples: Sequence[Mapping[str, Any]],
    *,
    episodes: Sequence[Episode] = (),
    config: CodeRewardConfig | None = None,
    sandbox: Sandbox | None = None,
) -> CodeRewardResult:
    """Run the Auto MC-Reward-style designer → critic → analyser loop (see the module docs:
    no agent is trained between rounds).

    Args:
        model: a chat model (:class:`~rewardkit.judge.client.JudgeClient`, or anything with
            its ``run``); a failed request is an attempt with status ``judge_failure``.
        task: what the designer is told.
        samples: transitions (dicts with the task's arguments) that every attempt runs on.
        episodes: trajectories for the analyser and the ``episodes_auc`` statistic, the
            same in every round (none: no analyser, and the loop stops at the first
            accepted attempt). Code that fails on them is not accepted.
        config: rounds, revisions, sandbox limits.
        sandbox: the sandbox (default: full isolation with the config's limits).
    """
    config = config or CodeRewardConfig()
    if not samples:
        raise ConfigurationError("design_reward_code needs sample transitions to run code on")
    loop = _Loop(model, task, samples, config, sandbox or Sandbox(config.limits()))
    attempts: list[CodeAttempt] = []
    analyses: list[str] = []
    code: str | None = None
    feedback: str | None = None
    for round_ in range(config.rounds):
        for revision in range(config.revisions + 1):
            attempt = loop.attempt({"round": round_, "revision": revision}, code, feedback)
            if attempt.status == "accepted" and episodes:
                attempt = loop.on_episodes(attempt, episodes)
            attempts.append(attempt)
            code, feedback = attempt.code or code, attempt.message or None
            if attempt.status == "accepted":
                break
        if attempt.status != "accepted":
            continue
        if not episodes or round_ == config.rounds - 1:
            break
        advice = loop.advise(attempt, episodes)
        if advice is None:  # no analysis to revise on
            break
        analyses.append(advice)
        feedback = f"Trajectory analysis: {advice}"
    return CodeRewardResult(task, tuple(attempts), tuple(analyses), config)
