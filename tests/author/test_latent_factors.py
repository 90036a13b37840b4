"""LaRe's encoder writing on scripted replies (every branch), and the sandboxed encoder."""

from __future__ import annotations

import json
import pickle
import threading

import numpy as np
import pytest

from rewardkit.author.latent_factors import (
    EncoderFailedError,
    EncoderTask,
    LatentFactorConfig,
    PrefetchEncoder,
    SandboxedEncoder,
    write_encoder,
)
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import Status
from rewardkit.core.rollout import flat_rollout_batch
from rewardkit.core.term import RewardTerm
from rewardkit.credit.delayed import OnlineRedistribution
from rewardkit.judge.client import JudgeFailure, Reply
from rewardkit.verify.sandbox import Sandbox, SandboxLimits

TASK = EncoderTask("pole", "obs is [x, angle]; action is 0 or 1; keep the angle near 0.")
OBS = np.array([[0.0, 0.1], [1.0, -0.2], [-1.0, 0.0], [0.5, 0.3]])
ACTIONS = np.array([0, 1, 1, 0])
GOOD = "def encode(obs, action):\n    return [abs(obs[1]), abs(obs[0])]\n"
ONE = "def encode(obs, action):\n    return abs(obs[1])\n"


def fenced(code: str) -> str:
    return f"```python\n{code}```"


class Scripted:
    """A chat model answering with the scripted texts (or failures), in order."""

    def __init__(self, *replies: str | JudgeFailure) -> None:
        self.replies = list(replies)
        self.requests: list = []

    def run(self, requests):
        self.requests.extend(requests)
        out = []
        for _ in requests:
            item = self.replies.pop(0)
            out.append(item if isinstance(item, JudgeFailure) else Reply(item))
        return out

    @property
    def prompts(self) -> list[str]:
        return [r.messages[-1]["content"] for r in self.requests]


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(SandboxLimits(wall_seconds=5))


def test_candidates_are_checked_and_the_synthesis_is_accepted(sandbox):
    model = Scripted(
        fenced(GOOD),
        fenced("def encode(obs, action)\n    return [1]\n"),  # syntax error
        fenced("def encode(obs, action):\n    return [obs[1] * 1e308 * 10]\n"),  # overflows
        fenced(GOOD.replace("abs(obs[0])", "abs(obs[0]), float(action)")),  # the synthesis
    )
    config = LatentFactorConfig(candidates=3, rounds=1)
    result = write_encoder(model, TASK, OBS, ACTIONS, config=config, sandbox=sandbox)
    assert [(a.source, a.status) for a in result.attempts] == [
        ("candidate 0", "passed"), ("candidate 1", "syntax_error"),
        ("candidate 2", "bad_output"), ("synthesis", "accepted")]  # fmt: skip
    assert result.accepted.factors == 3 and result.accepted.stats["constant"] == 0
    assert "non-finite" in result.attempts[2].message
    synthesis = model.prompts[-1]
    assert "Candidate 1 (it ran and returned 2 finite factors)" in synthesis
    assert "Candidate 2 (it failed: SyntaxError" in synthesis
    assert [r.params.get("seed") for r in model.requests] == [0, 1, 2, 3]
    assert all(r.params["temperature"] == 0.8 for r in model.requests[:3])
    assert result.counts()["passed"] == 2 and result.counts()["compiled"] == 3
    json.dumps(result.to_dict())


def test_a_passing_candidate_is_accepted_when_the_synthesis_fails(sandbox):
    model = Scripted(fenced(ONE), "I merged them.")
    config = LatentFactorConfig(candidates=1, rounds=1)
    result = write_encoder(model, TASK, OBS, ACTIONS, config=config, sandbox=sandbox)
    assert [a.status for a in result.attempts] == ["accepted", "no_code"]
    assert result.accepted.source == "candidate 0" and result.accepted.factors == 1


def test_paper_mode_shows_the_failure_to_the_next_round(sandbox):
    bad_synthesis = fenced("def encode(obs, action):\n    return [obs[5]]\n")
    model = Scripted(fenced(ONE), bad_synthesis, fenced(GOOD), fenced(GOOD))
    config = LatentFactorConfig(candidates=1, rounds=2, accept_candidates=False)
    result = write_encoder(model, TASK, OBS, ACTIONS, config=config, sandbox=sandbox)
    assert [(a.round, a.status) for a in result.attempts] == [
        (0, "passed"), (0, "runtime_error"), (1, "passed"), (1, "accepted")]  # fmt: skip
    assert "IndexError" in result.attempts[1].message
    second_round = model.prompts[2]
    assert "A previous function failed" in second_round and "obs[5]" in second_round
    assert "IndexError" in second_round


@pytest.mark.parametrize(
    ("code", "status", "words"),
    [
        ("def encode(obs, action):\n    return [0.0] * (1 + int(action))\n", "bad_output",
         "different lengths"),
        ("def encode(obs, action):\n    return [obs[0]] * 20\n", "too_many_factors", "at most"),
        ("def encode(obs, action):\n    return [1.0, 2.0]\n", "constant", "same on every"),
        ("def encode(obs, action):\n    while True:\n        pass\n", "timeout", "time limit"),
        ("def encode(obs, action):\n    return 'far'\n", "bad_output", "returned str"),
    ],
)  # fmt: skip
def test_what_the_checks_reject(sandbox, code, status, words):
    model = Scripted(fenced(code))
    config = LatentFactorConfig(candidates=1, rounds=1, synthesize=False, wall_seconds=1.0)
    result = write_encoder(model, TASK, OBS, ACTIONS, config=config, sandbox=sandbox)
    (attempt,) = result.attempts
    assert attempt.status == status and words in attempt.message
    assert result.accepted is None
    with pytest.raises(ConfigurationError, match="no encoder was accepted"):
        result.encoder()


def test_model_failures_are_attempts(sandbox):
    failure = JudgeFailure(Status.ERROR, "connection failed: refused")
    model = Scripted(failure, failure)
    config = LatentFactorConfig(candidates=2, rounds=1)
    result = write_encoder(model, TASK, OBS, ACTIONS, config=config, sandbox=sandbox)
    assert [a.status for a in result.attempts] == ["judge_failure", "judge_failure"]
    assert len(model.requests) == 2  # no synthesis of nothing


def test_the_sandboxed_encoder_prefetches_a_batch_and_looks_rows_up(sandbox):
    encoder = SandboxedEncoder(GOOD, dim=2, sandbox=sandbox)
    run = encoder.prefetch(OBS, ACTIONS)
    assert run.status == "ok" and run.values.shape == (4, 2)
    assert encoder(OBS[1], ACTIONS[1]) == [0.2, 1.0]
    assert (encoder.runs, encoder.misses) == (1, 0)
    encoder.clear()
    assert encoder(np.array([2.0, -0.5]), 1) == [0.5, 2.0]  # a miss: one more run
    assert (encoder.runs, encoder.misses) == (2, 1)
    wrong = SandboxedEncoder(GOOD, dim=3, sandbox=sandbox).encode(OBS, ACTIONS)
    assert wrong.status == "bad_output" and "expected 3" in wrong.message
    broken = SandboxedEncoder("def encode(obs, action):\n    return [obs[9]]\n", 1, sandbox=sandbox)
    with pytest.raises(EncoderFailedError, match="IndexError"):
        broken(OBS[0], 0)
    again = pickle.loads(pickle.dumps(encoder))
    assert again.encode(OBS[:1], ACTIONS[:1]).values.tolist() == [[0.1, 0.0]]


def _rollout(steps: int = 6) -> dict:
    rng = np.random.default_rng(0)
    terminated = np.zeros((steps, 2), dtype=bool)
    terminated[2, 0] = terminated[5, :] = True
    return flat_rollout_batch(
        obs=rng.normal(size=(steps, 2, 2)), action=rng.integers(0, 2, size=(steps, 2)),
        reward=np.where(terminated, 3.0, 0.0), terminated=terminated,
        truncated=np.zeros((steps, 2), dtype=bool),
    )  # fmt: skip


def test_prefetch_encoder_feeds_lare_without_per_row_runs(sandbox):
    encoder = SandboxedEncoder(GOOD, dim=2, sandbox=sandbox)
    lare = OnlineRedistribution("lare", obs_dim=2, actions=2, encoder=encoder, encoder_dim=2,
                                update_every=1, seed=0)  # fmt: skip
    term = PrefetchEncoder(lare, encoder)
    out = term(_rollout())
    assert out.total.shape == (12,) and np.isfinite(out.total).all()
    assert (encoder.runs, encoder.misses) == (1, 0) and not encoder._cache
    assert lare.losses  # finished episodes trained the decoder
    failing = SandboxedEncoder(
        "def encode(obs, action):\n    return [obs[7]]\n", 1, sandbox=sandbox
    )
    bad = PrefetchEncoder(
        OnlineRedistribution("lare", 2, 2, encoder=failing, encoder_dim=1), failing
    )
    out = bad(_rollout())
    assert set(out.status.tolist()) == {Status.ERROR} and "IndexError" in out.messages[0]


def test_config_and_input_validation():
    with pytest.raises(ConfigurationError):
        LatentFactorConfig(candidates=0)
    with pytest.raises(ConfigurationError, match="accept_candidates"):
        LatentFactorConfig(synthesize=False, accept_candidates=False)
    with pytest.raises(ConfigurationError, match="sample states"):
        write_encoder(Scripted(), TASK, [], [])


MARKED = (
    "def encode(obs, action):\n    if obs[0] > 50:\n        raise ValueError('unreadable state')\n"
    "    return [obs[0], obs[1]]\n"
)


def _steps(obs, ends, reward_at_end=3.0):
    """A (T, 2) rollout of 2 envs: ``ends`` the (t, env) that end an episode."""
    terminated = np.zeros(obs.shape[:2], dtype=bool)
    for t, env in ends:
        terminated[t, env] = True
    return flat_rollout_batch(
        obs=obs, action=np.zeros(obs.shape[:2], dtype=int),
        reward=np.where(terminated, reward_at_end, 0.0), terminated=terminated,
        truncated=np.zeros(obs.shape[:2], dtype=bool),
    )  # fmt: skip


def test_a_step_that_cannot_be_encoded_costs_its_episode_never_a_wrong_return(sandbox):
    rng = np.random.default_rng(1)
    encoder = SandboxedEncoder(MARKED, dim=2, sandbox=sandbox)
    lare = OnlineRedistribution("lare", obs_dim=2, actions=1, encoder=encoder, encoder_dim=2,
                                update_every=100, seed=0)  # fmt: skip
    term = PrefetchEncoder(lare, encoder)
    first = rng.normal(size=(3, 2, 2))
    first[2, 0, 0] = 99.0  # env 0's third step cannot be encoded
    out = term(_steps(first, ends=[]))
    # rows t*2 + env: env 1 is scored, env 0's whole open episode is withheld
    assert out.status.tolist() == [Status.ERROR, 0, Status.ERROR, 0, Status.ERROR, 0]
    assert "ValueError: unreadable state" in out.messages[4]
    assert "its return is unknown" in out.messages[0] and np.isfinite(out.total[1::2]).all()
    assert 0 not in lare.episodes and len(lare.episodes[1]) == 3 and term.withheld == {0}
    second = term(_steps(rng.normal(size=(3, 2, 2)), ends=[(1, 0), (2, 1)]))
    # env 0: the rest of the broken episode (to its end at t=1) is withheld, then scored again
    assert second.status.tolist() == [Status.ERROR, 0, Status.ERROR, 0, 0, 0]
    assert "an earlier step" in second.messages[0] and term.withheld == set()
    assert [len(steps) for steps, _ in lare.finished] == [6]  # env 1's whole episode only
    assert [total for _, total in lare.finished] == [3.0]
    assert len(lare.episodes[0]) == 1  # env 0's new episode started clean


def test_a_failed_episode_that_starts_and_ends_inside_a_batch_is_dropped_alone(sandbox):
    encoder = SandboxedEncoder(MARKED, dim=2, sandbox=sandbox)
    lare = OnlineRedistribution("lare", obs_dim=2, actions=1, encoder=encoder, encoder_dim=2,
                                update_every=100, seed=0)  # fmt: skip
    term = PrefetchEncoder(lare, encoder)
    obs = np.zeros((4, 2, 2))
    obs[2, 0, 0] = 99.0
    out = term(_steps(obs, ends=[(0, 0), (2, 0), (3, 1)]))
    env0 = out.status[0::2].tolist()
    assert env0 == [0, Status.ERROR, Status.ERROR, 0]  # episode 1 (t=1..2) alone is withheld
    assert [len(steps) for steps, _ in lare.finished] == [1, 4]  # env 0's first, env 1's
    assert term.withheld == set() and len(lare.episodes[0]) == 1


def test_a_whole_run_timeout_is_every_rows_timeout_and_poisons_every_open_episode(sandbox):
    slow = "def encode(obs, action):\n    while True:\n        pass\n"
    encoder = SandboxedEncoder(slow, 2, limits=SandboxLimits(wall_seconds=1, cpu_seconds=1),
                               sandbox=sandbox)  # fmt: skip
    lare = OnlineRedistribution("lare", 2, 1, encoder=encoder, encoder_dim=2)
    term = PrefetchEncoder(lare, encoder)
    out = term(_steps(np.zeros((2, 2, 2)), ends=[]))
    assert set(out.status.tolist()) == {Status.TIMEOUT} and term.withheld == {0, 1}
    assert "timeout" in out.messages[0]


def test_an_episodic_term_without_forget_is_refused_and_a_plain_term_loses_only_its_rows(sandbox):
    class Episodic(RewardTerm):
        columns = ("obs", "action", "terminated", "truncated")

        def _compute(self, batch):
            return np.zeros(len(batch["obs"]))

    encoder = SandboxedEncoder(MARKED, dim=2, sandbox=sandbox)
    with pytest.raises(ConfigurationError, match="forget"):
        PrefetchEncoder(Episodic("e"), encoder)
    plain = PrefetchEncoder(Reads(encoder), encoder)
    out = plain({"obs": np.array([[1.0, 2.0], [99.0, 0.0], [3.0, 4.0]]), "action": [0, 0, 0]})
    assert out.total[[0, 2]].tolist() == [3.0, 7.0] and out.status.tolist() == [0, 3, 0]


class Reads(RewardTerm):
    """Sums each row's factors through the encoder; ``during`` runs on another thread first."""

    columns = ("obs", "action")

    def __init__(self, encoder, during=None):
        super().__init__("reads")
        self.encoder, self.during = encoder, during

    def _compute(self, batch):
        if self.during is not None:
            worker = threading.Thread(target=self.during)
            worker.start()
            worker.join()
        rows = zip(batch["obs"], batch["action"], strict=True)
        return np.array([sum(self.encoder(o, a)) for o, a in rows])


def test_another_threads_batch_never_wipes_the_rows_this_one_prefetched(sandbox):
    encoder = SandboxedEncoder(GOOD, dim=2, sandbox=sandbox)
    other = PrefetchEncoder(Reads(encoder), encoder)
    mine = PrefetchEncoder(Reads(encoder, during=lambda: other({"obs": OBS[:2],
                                                               "action": ACTIONS[:2]})),
                           encoder)  # fmt: skip
    out = mine({"obs": OBS, "action": ACTIONS})
    assert out.status.tolist() == [0, 0, 0, 0] and encoder.misses == 0
    assert not encoder._cache  # every holder let go


def test_the_sandboxed_encoder_pickles_with_the_callers_sandbox(sandbox):
    mine = Sandbox(SandboxLimits(wall_seconds=7), slots=1)
    encoder = SandboxedEncoder(GOOD, dim=2, limits=SandboxLimits(wall_seconds=4), sandbox=mine)
    copy = pickle.loads(pickle.dumps(PrefetchEncoder(Reads(encoder), encoder)))
    rebuilt = copy.encoder._sandbox
    assert rebuilt.limits == SandboxLimits(wall_seconds=7) and rebuilt.slots == 1
    assert copy.encoder.limits == SandboxLimits(wall_seconds=4)
    assert copy({"obs": OBS[:1], "action": ACTIONS[:1]}).total.tolist() == [0.1]
