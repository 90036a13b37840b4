"""Ray on a local instance (2 CPUs): a pool equals the term in process, a killed actor is
restarted with its chunk retried, retries exhausted give error statuses, and suite runs go to
Ray tasks."""

import threading
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from rewardkit.core import build_reward  # noqa: E402
from rewardkit.core.output import RewardOutput, Status  # noqa: E402
from rewardkit.core.term import RewardTerm  # noqa: E402
from rewardkit.distributed import RayScorer, run_on_ray  # noqa: E402
from rewardkit_bench.runner import Suite, drive  # noqa: E402

SPEC = {
    "name": "fmt_len",
    "sum": [
        {"term": "think_answer_format"},
        {"term": "length_linear", "max_length": 64},
        {"term": "exact_match", "extract": "<answer>(.*?)</answer>", "name": "correct"},
    ],
}


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _batch(n):
    texts = [f"<think>{'x' * (i % 7)}</think><answer>{i % 5}</answer>" if i % 3 else "no tags"
             for i in range(n)]  # fmt: skip
    return {"completion": texts, "answer": [str(i % 4) for i in range(n)]}


def test_a_ray_pool_scores_as_the_term_does_in_process():
    term = build_reward(SPEC)
    batch = _batch(100)
    mine, pooled = term(batch), RayScorer(term, actors=2, chunk_size=16)(batch)
    np.testing.assert_array_equal(pooled.status, mine.status)
    np.testing.assert_array_equal(pooled.total, mine.total)
    for name, values in mine.terms.items():
        np.testing.assert_array_equal(pooled.terms[name], values)


class Sleepy(RewardTerm):
    """Length, after sleeping ``seconds`` per chunk (time for an actor to be killed)."""

    def __init__(self, seconds):
        super().__init__("sleepy")
        self.seconds = seconds

    def _compute(self, batch):
        time.sleep(self.seconds)
        return RewardOutput(np.array([float(len(c)) for c in batch["completion"]]))


def _kill_during(scorer, batch, after_s):
    pool = scorer.pool()
    before = ray.get(pool[0].pid.remote())
    result = {}
    worker = threading.Thread(target=lambda: result.update(out=scorer(batch)))
    worker.start()
    time.sleep(after_s)
    ray.kill(pool[0], no_restart=False)
    worker.join(120)
    return result["out"], before


def test_a_killed_actor_is_restarted_and_its_chunk_retried():
    batch = {"completion": ["a" * i for i in range(40)]}
    scorer = RayScorer(Sleepy(0.3), actors=2, chunk_size=4, max_restarts=3, max_task_retries=3)
    out, before = _kill_during(scorer, batch, 0.5)
    assert (out.status == Status.OK).all()
    np.testing.assert_array_equal(out.total, np.arange(40.0))  # nothing lost, nothing moved
    assert ray.get(scorer.pool()[0].pid.remote()) != before  # a new process


def test_retries_exhausted_are_errors_not_scores():
    batch = {"completion": ["a" * i for i in range(16)]}
    scorer = RayScorer(Sleepy(0.3), actors=2, chunk_size=4, max_restarts=0, max_task_retries=0)
    out, _ = _kill_during(scorer, batch, 0.4)
    failed = out.status == Status.ERROR
    assert failed.any() and np.isnan(out.total[failed]).all()
    assert "Ray actor failed" in out.messages[int(np.flatnonzero(failed)[0])]
    np.testing.assert_array_equal(out.total[~failed], np.arange(16.0)[~failed])


class Squares(Suite):
    name = "squares"
    options = ("jobs",)

    def command(self, args):
        return "squares"

    def plan(self, args, runs):
        return [] if runs else [1, 2, 3, 4]

    def run_unit(self, unit):
        return {"n": unit, "square": unit * unit}

    def record(self, args, runs):
        return {"runs": runs}

    def report(self, results, plots):
        return "".join(
            f"{r['n']}^2={r['square']}\n" for r in sorted(results["runs"], key=lambda r: r["n"])
        )


def test_suite_runs_go_to_ray_tasks(tmp_path, capsys):
    assert sorted(r["square"] for r in run_on_ray(lambda n: {"square": n * n}, [3, 1])) == [1, 9]
    assert drive(Squares(), ["--ray", "--out", str(tmp_path)]) == 0
    assert "4 runs as Ray tasks" in capsys.readouterr().out
    assert (tmp_path / "report.md").read_text() == "1^2=1\n2^2=4\n3^2=9\n4^2=16\n"


def test_chunks_not_back_in_time_are_timeouts_and_close_stops_the_actors():
    scorer = RayScorer(Sleepy(3.0), actors=1, chunk_size=2, timeout_s=0.5)
    out = scorer({"completion": ["a", "bb"]})
    assert out.status.tolist() == [Status.TIMEOUT] * 2 and np.isnan(out.total).all()
    assert "within 0.5 s" in out.messages[0]
    scorer.close()
    assert scorer._pool is None
