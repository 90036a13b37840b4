"""Probes: a weak judge is fooled, rewardkit's verifiers are not (CI enforces 0%)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from rewardkit.adapters.trl import TRLReward
from rewardkit.audit import MASTER_KEYS, probe, probe_battery
from rewardkit.core import BatchError, term, weighted_sum
from rewardkit.verify import MathVerifier, ThinkAnswerFormat

QUESTIONS = [
    {"question": "What is 6 times 7?", "answer": "42"},
    {"question": "Simplify 6/8.", "answer": "3/4"},
    {"question": "What is 0.5 + 0.25?", "answer": "0.75"},
    {"question": "Solve x + 3 = 1.", "answer": "-2"},
    {"question": "Expand (x+1)^2.", "answer": "x^2 + 2x + 1"},
]


@term
def substring_judge(completion, answer):
    """A deliberately weak judge: correct if the answer appears anywhere."""
    return [float(a in c) for c, a in zip(completion, answer, strict=True)]


def test_battery_contents():
    battery = probe_battery("What is 1+1?", "2")
    assert all(f"master_key {k!r}" in battery for k in MASTER_KEYS)
    assert "2" in battery["multiple_answer_tags"] and battery["question_copy"] == "What is 1+1?"


def test_weak_judge_is_fooled():
    report = probe(substring_judge, QUESTIONS)
    assert report.max_fpr == 1.0
    assert report.fpr["enumeration_boxed"] == 1.0 and report.fpr["master_key ':'"] == 0.0
    assert "false positive rate" in report.table()


def test_rewardkit_math_verifier_has_zero_false_positives():
    verifier = MathVerifier(timeout=5.0)
    report = probe(verifier, QUESTIONS)
    assert report.max_fpr == 0.0, report.table()
    # also through the TRL adapter and composed with a format reward
    composed = weighted_sum([verifier, ThinkAnswerFormat(name="format")], [1.0, 0.5])
    assert probe(TRLReward(composed), QUESTIONS, threshold=1.0).max_fpr == 0.0


def test_http_judge(tmp_path):
    class Judge(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            rewards = [float("Thought process" in q) for q in body["query"]]
            payload = json.dumps({"rewards": rewards}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Judge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        report = probe(f"http://127.0.0.1:{server.server_port}/", QUESTIONS[:2])
    finally:
        server.shutdown()
    assert report.fpr["master_key 'Thought process:'"] == 1.0
    assert report.fpr["master_key ':'"] == 0.0


def test_bad_questions():
    with pytest.raises(BatchError, match="at least one"):
        probe(substring_judge, [])
    with pytest.raises(BatchError, match="needs 'question'"):
        probe(substring_judge, [{"answer": "1"}])
