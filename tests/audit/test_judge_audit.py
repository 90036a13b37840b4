"""Judge audits: position bias, agreement with a verifier, self-consistency, and probes that
count a judge's failures apart; expected values computed by hand, with fake judges."""

import math

import numpy as np
import pytest

from rewardkit.audit import (
    MASTER_KEYS,
    AgreementReport,
    PositionBiasReport,
    SelfConsistencyReport,
    position_bias,
    probe,
    probe_battery,
    self_consistency,
    verifier_agreement,
)
from rewardkit.audit.judge import _pairwise_term
from rewardkit.core import BatchError, ConfigurationError, term
from rewardkit.core.batch import batch_size
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.term import RewardTerm

judge = pytest.importorskip("rewardkit.judge")  # the judge extra: openai, aiolimiter, ...

DEAD = "http://127.0.0.1:9/v1"  # nothing listens on port 9: every call fails at once


class Scripted(RewardTerm):
    """A fake judge: per-row values and statuses from a function of the row's completion."""

    columns = ("completion",)

    def __init__(self, rule, name="scripted", samples=None):
        super().__init__(name)
        self.rule = rule
        if samples is not None:
            self.samples = samples

    def _compute(self, batch):
        found = [self.rule(c) for c in batch["completion"]]
        values = np.array([v for v, _ in found], dtype=float)
        status = np.array([s for _, s in found], dtype=np.int8)
        messages = tuple(None if s == Status.OK else "scripted failure" for s in status)
        return RewardOutput(values, {self.name: values}, status, messages)


# -- position bias -------------------------------------------------------------------------------


@term
def prefers_longer(completion, baseline):
    """A position-blind judge: A wins when it is longer, a tie when the lengths are equal."""
    return [
        1.0 if len(c) > len(b) else 0.5 if len(c) == len(b) else 0.0
        for c, b in zip(completion, baseline, strict=True)
    ]


@term
def first_wins(completion, baseline):
    return [1.0] * len(completion)


PAIRS = [
    ("q1", "right answer", "x"),  # better is longer: right in both orders
    ("q2", "ok", "wrong one"),  # better is shorter: wrong in both orders
    ("q3", "aa", "bb"),  # equal lengths: a tie in both orders
]


def test_position_blind_judge_has_no_bias():
    report = position_bias(prefers_longer, PAIRS)
    # verdicts: order 1 A, B, tie; swapped B, A, tie
    assert report.pairs == 3 and report.failures == 0 and report.judged == 3
    assert report.first_position == pytest.approx(2 / 6)
    assert report.ties == pytest.approx(2 / 6)
    assert report.position_decided == 0.0
    # right: pair 1 in both orders, nothing else
    assert report.accuracy_one_order == pytest.approx(2 / 6)
    # swap-averaged win rates 1, 0, 0.5: one pick above 0.5
    assert report.accuracy_swapped == pytest.approx(1 / 3)
    assert report.mean_win_rate == pytest.approx(0.5)


def test_a_judge_that_always_picks_a_is_all_position():
    report = position_bias(first_wins, PAIRS)
    assert report.first_position == 1.0 and report.ties == 0.0
    assert report.position_decided == 1.0
    # one order: right whenever the better response happens to be shown first
    assert report.accuracy_one_order == 0.5
    # the swap turns that luck into ties: no pair is picked, the win rate is a coin's
    assert report.accuracy_swapped == 0.0 and report.mean_win_rate == 0.5


def test_probabilities_are_read_as_verdicts_above_or_below_one_half():
    @term
    def leaning(completion, baseline):
        return [0.7 if c.startswith("r") else 0.2 for c in completion]

    report = position_bias(leaning, [("q", "right", "wrong")])
    # order 1: A="right" -> 0.7 -> A; order 2: A="wrong" -> 0.2 -> B: better wins both
    assert report.accuracy_swapped == 1.0 and report.first_position == 0.5


def test_failed_verdicts_drop_their_pair_and_are_counted():
    def rule(text):
        return (math.nan, Status.ERROR) if text == "boom" else (1.0, Status.OK)

    class OneOrder(Scripted):
        columns = ("completion", "baseline")

    pairs = [("q1", "boom", "x"), ("q2", "a", "b"), ("q3", "c", "d")]
    report = position_bias(OneOrder(rule), pairs)
    # pair 1 fails in order 1 (A = "boom") only, and is left out whole
    assert report.pairs == 3 and report.failures == 1 and report.judged == 2
    assert report.first_position == 1.0 and report.position_decided == 1.0
    assert report.accuracy_one_order == 0.5 and report.accuracy_swapped == 0.0
    assert report.reasons == {"scripted failure": 1} and "scripted failure" in report.table()


def test_a_judge_that_is_down_is_all_failures_never_a_bias():
    settings = judge.JudgeSettings(model="m", base_url=DEAD, retries=0, deadline_s=5.0)
    built = _pairwise_term(settings)
    assert isinstance(built, judge.PairwiseJudge) and built.swap is False
    report = position_bias(settings, PAIRS[:2])
    assert report.failures == 2 and report.judged == 0
    assert math.isnan(report.first_position) and math.isnan(report.mean_win_rate)
    assert all(reason.startswith("connection failed") for reason in report.reasons)
    assert "0 of 2" in report.table()


def test_position_bias_reports():
    report = position_bias(prefers_longer, PAIRS)
    assert isinstance(report, PositionBiasReport)
    with pytest.raises(AttributeError):
        report.pairs = 4  # frozen
    assert report.to_dict()["judged"] == 3 and report.to_dict()["position_decided"] == 0.0
    assert "pairs the position decided" in report.table()


def test_position_bias_rejects_bad_pairs():
    with pytest.raises(BatchError, match="at least one"):
        position_bias(first_wins, [])
    with pytest.raises(BatchError, match="triple"):
        position_bias(first_wins, [("q", "a")])


# -- agreement with a verifier --------------------------------------------------------------------

VALUES = {"a": 0.9, "b": 0.2, "c": 0.6, "d": math.nan, "e": 0.1, "f": 0.7}


def by_letter(text):
    value = VALUES[text]
    return (value, Status.ERROR if math.isnan(value) else Status.OK)


BATCH = {"completion": list("abcdef")}
LABELS = [1, 1, 0, 1, None, 0]


def test_agreement_with_labels_by_hand():
    report = verifier_agreement(Scripted(by_letter), LABELS, BATCH)
    # a: tp, b: fn, c: fp, d: judge failed, e: unlabelled, f: fp
    assert (report.true_positives, report.false_positives) == (1, 2)
    assert (report.false_negatives, report.true_negatives) == (1, 0)
    assert report.judge_failures == 1 and report.unlabelled == 1
    assert report.both == 4 and report.coverage == pytest.approx(4 / 6)
    assert report.accuracy == pytest.approx(0.25)
    # p_o = 1/4; judge passes 3/4, labels 1/2: p_e = 3/4*1/2 + 1/4*1/2 = 1/2
    assert report.kappa == pytest.approx((0.25 - 0.5) / (1 - 0.5))
    assert report.false_positive_rate == 1.0 and report.false_negative_rate == 0.5
    assert report.reasons == {"scripted failure": 1}


def test_the_threshold_moves_the_passes():
    report = verifier_agreement(Scripted(by_letter), LABELS, BATCH, threshold=0.65)
    # passes: a (0.9) and f (0.7); c (0.6) now fails: a tp, b fn, c tn, f fp
    counts = (report.true_positives, report.false_positives, report.false_negatives,
              report.true_negatives)  # fmt: skip
    assert counts == (1, 1, 1, 1) and report.accuracy == 0.5 and report.kappa == 0.0


def test_agreement_with_a_verifier_term():
    @term
    def verifier(completion):  # abstains on "b" and "e"
        return [None if c in "be" else float(c in "acf") for c in completion]

    report = verifier_agreement(Scripted(by_letter), verifier, BATCH)
    # labels a 1, c 1, d 0 (judge failed), f 1: all three scored rows agree
    assert report.unlabelled == 2 and report.judge_failures == 1
    assert report.both == 3 and report.accuracy == 1.0 and report.true_positives == 3
    # the judge and the labels pass everything: chance explains it all, kappa undefined
    assert math.isnan(report.kappa)
    assert isinstance(report, AgreementReport) and report.to_dict()["both"] == 3
    assert "Cohen's kappa" in report.table() and "n/a" in report.table()


def test_perfect_agreement_has_kappa_one():
    report = verifier_agreement(Scripted(by_letter), [1, 0, 1, 0, 0, 1], BATCH)
    assert report.accuracy == 1.0 and report.kappa == 1.0 and report.judge_failures == 1


def test_agreement_rejects_bad_labels():
    with pytest.raises(BatchError, match="3 labels for a batch of 6"):
        verifier_agreement(Scripted(by_letter), [1, 0, 1], BATCH)
    with pytest.raises(BatchError, match="1, 0 or None"):
        verifier_agreement(Scripted(by_letter), [2, 0, 1, 0, 0, 1], BATCH)
    with pytest.raises(ConfigurationError, match="term or a sequence"):
        verifier_agreement(Scripted(by_letter), "101010", BATCH)


# -- self-consistency -----------------------------------------------------------------------------


def test_self_consistency_by_hand():
    spreads = {"a": 0.0, "b": 0.5, "c": 0.0, "d": math.nan, "e": 0.25}

    class Sampled(RewardTerm):
        columns = ("completion",)
        samples = 4

        def _compute(self, batch):
            spread = np.array([spreads[c] for c in batch["completion"]])
            status = np.where(np.isnan(spread), Status.TIMEOUT, Status.OK).astype(np.int8)
            total = np.where(np.isnan(spread), np.nan, 0.5)
            return RewardOutput(total, {"sampled": total, "spread": spread}, status)

    report = self_consistency(Sampled("sampled"), {"completion": list("abcde")})
    assert report.rows == 5 and report.samples == 4 and report.failures == 1
    assert report.median_spread == pytest.approx(0.125)  # median of 0, 0, 0.25, 0.5
    assert report.mean_spread == pytest.approx(0.1875) and report.max_spread == 0.5
    assert report.unanimous == 0.5
    assert isinstance(report, SelfConsistencyReport) and "unanimous rows" in report.table()
    assert report.to_dict()["failures"] == 1


class ScriptedClient(judge.JudgeClient):
    """Answers each request from its seed: sample k of a row is yes unless k is in ``no``."""

    def __init__(self, settings, no):
        super().__init__(settings)
        self.no = no

    def run(self, requests):
        seed = self.settings.seed or 0
        return [judge.Reply("No" if r.params["seed"] - seed in self.no else "Yes")
                for r in requests]  # fmt: skip


def test_self_consistency_of_a_real_yes_no_judge_without_a_server():
    settings = judge.JudgeSettings(model="m", base_url=DEAD, temperature=0.7)
    sampled = judge.YesNoJudge(ScriptedClient(settings, no={1}), probability="text", samples=3)
    report = self_consistency(sampled, {"prompt": ["q", "q"], "completion": ["a", "b"]})
    # each row: yes, no, yes -> values 1, 0, 1, std sqrt(2/9)
    assert report.failures == 0 and report.samples == 3
    assert report.median_spread == pytest.approx(math.sqrt(2 / 9)) and report.unanimous == 0.0
    agreed = judge.YesNoJudge(ScriptedClient(settings, no=set()), probability="text", samples=3)
    assert self_consistency(agreed, {"prompt": ["q"], "completion": ["a"]}).unanimous == 1.0


def test_self_consistency_needs_samples():
    single = judge.YesNoJudge(judge.JudgeSettings(model="m", base_url=DEAD), probability="text")
    with pytest.raises(ConfigurationError, match="samples > 1"):
        self_consistency(single, {"prompt": ["q"], "completion": ["a"]})

    @term
    def no_spread(completion):
        return [1.0] * len(completion)

    with pytest.raises(ConfigurationError, match="no 'spread'"):
        self_consistency(no_spread, {"completion": ["a"]})


# -- probes count a judge's failures apart ---------------------------------------------------------

QUESTIONS = [
    {"question": "What is 6 times 7?", "answer": "42"},
    {"question": "What is 2 plus 2?", "answer": "4"},
]


class ProbeJudge(RewardTerm):
    """Errors on every master key; passes the rest on question 1 and fails them on question 2."""

    columns = ("prompt", "completion", "answer")

    def _compute(self, batch):
        n = batch_size(batch)
        keys = [c in MASTER_KEYS for c in batch["completion"]]
        status = np.array([Status.ERROR if k else Status.OK for k in keys], dtype=np.int8)
        values = np.array([float("6 times" in p) for p in batch["prompt"]])
        return RewardOutput(np.where(status == 0, values, np.nan), {}, status, (None,) * n)


def test_probe_counts_failures_apart_from_passes_and_fails():
    report = probe(ProbeJudge("probe_judge"), QUESTIONS)
    for key in MASTER_KEYS:
        name = f"master_key {key!r}"
        assert math.isnan(report.fpr[name]) and report.failures[name] == 2
    others = [n for n in probe_battery("q", "1") if not n.startswith("master_key")]
    assert all(report.fpr[n] == 0.5 and report.failures[n] == 0 for n in others)
    assert report.max_fpr == 0.5 and report.failed == 2 * len(MASTER_KEYS)
    assert report.to_dict()["failures"]["master_key ':'"] == 2
    assert "not scored" in report.table() and "n/a" in report.table()


def test_a_failure_is_not_a_fail_either():
    def rule(text):  # passes ":" on question 1, fails (timeout) on question 2
        return (1.0, Status.OK) if text == ":" else (0.0, Status.OK)

    class HalfDown(RewardTerm):
        columns = ("prompt", "completion")

        def _compute(self, batch):
            found = [rule(c) for c in batch["completion"]]
            values = np.array([v for v, _ in found])
            status = np.array([Status.TIMEOUT if ("2 plus" in p and c == ":") else s
                               for (_, s), p, c in zip(found, batch["prompt"],
                                                       batch["completion"], strict=True)],
                              dtype=np.int8)  # fmt: skip
            return RewardOutput(values, {}, status)

    report = probe(HalfDown("half_down"), QUESTIONS)
    # ":" scored once (a pass) and timed out once: 100%, not 50%
    assert report.fpr["master_key ':'"] == 1.0 and report.failures["master_key ':'"] == 1


def test_probing_a_judge_that_is_down_does_not_pass_and_says_why():
    settings = judge.JudgeSettings(model="m", base_url=DEAD, retries=0, deadline_s=5.0)
    report = probe(judge.ReferenceJudge(settings, probability="text"), QUESTIONS[:1])
    assert math.isnan(report.max_fpr) and report.failed == len(report.fpr)
    assert all(math.isnan(rate) for rate in report.fpr.values())
