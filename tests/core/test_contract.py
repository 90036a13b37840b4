"""The shared contract every registered term passes.

Shape (N,), float64, NaN exactly where the status is not OK, a name in its
own breakdown, a pickling round trip that gives the same output, and no hard
violation under check_reward. Registering a term without adding an example
here fails ``test_every_registered_term_has_an_example``.
"""

import json
import pickle

import numpy as np
import pytest

from rewardkit.audit import check_reward
from rewardkit.core import REGISTRY, Composite, Status, build_reward
from rewardkit_bench.tasks.arithmetic import ArithmeticAnswer, NumericCloseness

TEXT = {
    "completion": ["<answer>4</answer>", "four", "", [{"role": "assistant", "content": "4"}]],
    "answer": ["4", "4", "4", None],
}
GROUNDING = {
    "completion": ["<answer>[0, 0, 10, 10]</answer>", "(5, 5)", "no box", "[1, 1, 4, 9]"],
    "gt_box": [[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 5, 5]],
}
CONFIDENT = {
    "completion": ["<answer>4</answer> confidence: 0.9", "four confidence: 20%", "", "4"],
    "answer": ["4", "4", "4", None],
}
STEPS = {
    "obs": [[0.0, 1.0], [1.0, 1.0], [2.0, 0.0]],
    "next_obs": [[1.0, 1.0], [2.0, 0.0], [3.0, 0.0]],
    "terminated": [False, False, True],
}
JUDGED = {
    "prompt": ["What is 2+2?", "What is 2+2?", "What is 3+3?"],
    "completion": ["4", "5", [{"role": "assistant", "content": "6"}]],
    "answer": ["4", "4", 6],
}
FAKE_JUDGE = "<FAKE_JUDGE>"
MASK = np.zeros((6, 6), bool)
MASK[1:4, 1:4] = True
EXAMPLES = {
    "action_l2": ({}, {"action": [[1.0, 2.0], [0.0, 0.0], [-1.0, 0.5]]}),
    "column": ({"column": "score"}, {"score": [1.0, None, -2.0]}),
    "constant": ({"value": -0.01}, {"reward": [0.0, 1.0]}),
    "env_reward": ({}, {"reward": [0.0, 1.0, -1.0]}),
    "exact_match": ({"extract": r"<answer>(.*?)</answer>"}, TEXT),
    "length_linear": ({"max_length": 8}, TEXT),
    "regex_match": ({"pattern": r"<answer>\d+</answer>"}, TEXT),
    "math_correct": ({"timeout": 10.0}, TEXT),
    "think_answer_format": ({}, TEXT),
    "dapo_overlong": ({"max_length": 10, "cache_length": 4, "unit": "chars"}, TEXT),
    "cosine_length": (
        {"correctness": {"term": "math_correct"}, "max_length": 10, "unit": "chars"},
        TEXT,
    ),
    "tool_call_cost": ({"cost": 0.5}, TEXT),
    "repetition_penalty": ({"n": 1}, TEXT),
    "box_iou": ({}, GROUNDING),
    "gaussian_point": ({"alpha": 0.5}, GROUNDING),
    "gaussian_coverage": ({}, GROUNDING),
    "box_size": ({}, GROUNDING),
    "partial_credit": (
        {},
        {"completion": TEXT["completion"], "answer": ["4; 5", "4", "1.a", None]},
    ),
    "brier_calibration": ({"correctness": {"term": "math_correct"}}, CONFIDENT),
    "salience_iou": (
        {},
        {
            "completion": [
                "<think>[0, 0, 10, 10]</think><answer>red</answer>",
                "no box",
                "[20, 20, 30, 30] [0, 0, 5, 5]",
                [{"role": "assistant", "content": "[0, 0, 10, 10]"}],
            ],
            "gt_boxes": [[[0, 0, 10, 10], [20, 20, 30, 30]]] * 3 + [[[0, 0, 10, 10]]],
            "salience": [[3.0, 1.0]] * 3 + [[1.0]],
        },
    ),
    "layout_metric": (
        {"scale": 1.0},
        {
            "completion": [
                "<map>chair: [0, 0, 2, 2]\nsofa: [5, 5]</map>",
                "no map",
                "<map>chair: [1, 1]</map>",
            ],
            "gt_layout": [{"chair": [1, 1], "sofa": [5, 6]}, {"chair": [1, 1]}, None],
        },
    ),
    "spatial_answer": (
        {},
        {
            "completion": [
                "<map>m</map><think>t</think><answer>1.2</answer>",
                "<answer>left</answer>",
                "",
                "<answer>3</answer>",
            ],
            "answer": ["1.0", "Left", "3", None],
        },
    ),
    "detail_reward": (
        {"alpha": 0.5},
        {
            "completion": [
                "<answer>origin: A; destination: B</answer>",
                "<answer>origin: A; destination: C</answer>",
                "no answer",
                "<answer>origin: A</answer>",
            ],
            "details": ["origin: A; destination: B"] * 3 + [None],
            "difficulty": ["hard", "easy", "middle", None],
            "hops": [1, 0, 0, None],
        },
    ),
    "truncated_gaussian_click": (
        {"alpha": 0.25},
        {
            "completion": [
                "<point>[5,5]</point><confidence>0.9</confidence>",
                "<point>[12,5]</point><confidence>0.3</confidence>",
                "no click",
                "<point>[5,5]</point>",
            ],
            "gt_box": [[0, 0, 10, 10]] * 4,
        },
    ),
    "temporal_iou": (
        {},
        {
            "completion": ["<answer>[2, 6]</answer>", "no span", "<answer>[0, 4]</answer>"],
            "gt_span": [[0, 4], [0, 4], None],
        },
    ),
    "j_and_f": (
        {"bound_th": 0.008},
        {"pred_mask": [MASK, None, np.roll(MASK, 2, 1)], "gt_mask": [MASK, MASK, MASK]},
    ),
    "temporal_consistency": (
        {},
        {"pred_mask": [MASK[None], None], "gt_mask": [MASK[None], MASK[None]]},
    ),
    "stvg_o1": (
        {"think_weight": 0.5},
        {
            "completion": [
                "<time>1 - 2</time><think_bbox>1. [0, 0, .5, .5], 2. [0, 0, .5, 1]</think_bbox>"
                "<pred_bbox>1. [0, 0, .5, .5]</pred_bbox>",
                "no span",
            ],
            "gt_span": [[1, 3], [0, 1]],
            "gt_boxes": [[[0, 0, 0.5, 0.5]] * 3, [[0, 0, 1, 1]] * 2],
        },
    ),
    "potential_shaping": (
        {"potential": "negative_distance", "potential_params": {"goal": [3.0, 0.0]}, "gamma": 0.9},
        STEPS,
    ),
    "next_state_value": ({"potential": "coordinate", "potential_params": {"index": 0}}, STEPS),
    "count_bonus": ({"beta": 0.5}, STEPS),
    "toponav_bonus": ({"new_node_bonus": 0.5}, {**STEPS, "truncated": [False, False, False]}),
    "causal_empowerment": ({"num_actions": 3}, {**STEPS, "actions": [0, 2, 1]}),
    "carl_reward": (
        {"progress": "progress", "penalties": {"collision": 0.5, "lane": 0.9}, "terminal": "crash"},
        {
            "progress": [0.5, None, 0.2],
            "collision": [1, 0, 0],
            "lane": [2, 0, 1],
            "crash": [0, 0, 1],
        },
    ),
    "simhash_count_bonus": ({"bits": 8}, STEPS),
    "e3b_bonus": ({"projection_dim": 4}, {**STEPS, "truncated": [False, False, False]}),
    "episodic_count_bonus": ({"beta": 0.5}, {**STEPS, "truncated": [False, False, False]}),
    "rnd_bonus": ({"feature_dim": 8, "hidden": 16}, STEPS),
    "rdd_bonus": ({"feature_dim": 8, "hidden": 16}, STEPS),
    "noveld_bonus": (
        {"feature_dim": 8, "hidden": 16},
        {**STEPS, "truncated": [False, False, False]},
    ),
    "novelty_search": ({"k": 2}, {"descriptor": [[0.0, 0.0], [1.0, 0.0], [3.0, 4.0]]}),
    "reward_model": (
        {"path": "<TINY_REWARD_MODEL>", "allow_untrained": True},
        {
            "prompt": ["2+2=", "2+2=", "2+2="],
            "completion": ["4", "9" * 100, [{"role": "assistant", "content": "4"}]],
        },
    ),
    "remote": ({"url": "<LIVE_SERVER_URL>"}, TEXT),
    "process_reward_model": (
        {"path": "<TINY_PROCESS_MODEL>", "allow_untrained": True},
        {"completion": ["1+1=2\n2+2=4\n", "", [{"role": "assistant", "content": "3\n"}]]},
    ),
    "judge_score": ({"judge": FAKE_JUDGE}, JUDGED),
    "judge_label": (
        {"judge": FAKE_JUDGE, "labels": ["correct", "wrong"], "passing": ["correct"]},
        JUDGED,
    ),
    "judge_yes_no": ({"judge": FAKE_JUDGE, "probability": "text"}, JUDGED),
    "judge_reference": ({"judge": FAKE_JUDGE}, JUDGED),
    "judge_rubric": (
        {"judge": FAKE_JUDGE, "criteria": [{"name": "right", "description": "It is right."}]},
        JUDGED,
    ),
    "judge_pairwise": ({"judge": FAKE_JUDGE}, JUDGED),
    "judge_two_turn": ({"judge": FAKE_JUDGE}, JUDGED),
    "judge_group": ({"judge": FAKE_JUDGE}, JUDGED),
    "code_tests": (
        {"wall_seconds": 2.0},
        {
            "completion": [
                "```python\nprint(int(input()) * 2)\n```",
                "no code",
                "```python\n1/0\n```",
            ],
            "tests": [[{"input": "2", "output": "4"}]] * 3,
        },
    ),
}


#: benchmark terms, kept out of the global registry but held to the same contract
UNREGISTERED = {
    "arith_answer": (
        ArithmeticAnswer,
        {"missing_score": 0.0},
        {"completion": ["1,3>3", "3", ">4"], "answer": ["3"] * 3},
    ),
    "arith_closeness": (
        NumericCloseness,
        {},
        {"completion": ["1,3>3", "3", ">4"], "answer": ["3", "3", None]},
    ),
}


def _build(name, params, extra=None):
    if name in UNREGISTERED:
        return UNREGISTERED[name][0](**params, **(extra or {}))
    return build_reward({"term": name, **params, **(extra or {})})


def test_benchmark_terms_stay_out_of_the_global_registry():
    assert not set(UNREGISTERED) & set(REGISTRY.names())


def test_every_registered_term_has_an_example():
    missing = set(REGISTRY.names()) - set(EXAMPLES)
    assert not missing, f"add contract examples for {sorted(missing)}"


@pytest.fixture(scope="module")
def tiny_reward_model_dir(tmp_path_factory):
    from rewardkit.models import PreferenceRewardModel

    folder = tmp_path_factory.mktemp("models") / "tiny-rm"
    PreferenceRewardModel.tiny("0123456789+=", seed=0).save(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny_process_model_dir(tmp_path_factory):
    from rewardkit.models import ProcessRewardModel

    folder = tmp_path_factory.mktemp("models") / "tiny-prm"
    ProcessRewardModel.tiny("0123456789+=", seed=0).save(folder)
    return str(folder)


@pytest.fixture(scope="module")
def live_server_url():
    """A reward server (the length term) on an ephemeral loopback port."""
    from rewardkit.serve import create_app
    from tests.serve.conftest import live_server

    with live_server(create_app(build_reward({"term": "length_linear", "max_length": 8}))) as url:
        yield url


MODEL_FIXTURES = {
    "<TINY_REWARD_MODEL>": "tiny_reward_model_dir",
    "<TINY_PROCESS_MODEL>": "tiny_process_model_dir",
}
URL_FIXTURES = {"<LIVE_SERVER_URL>": "live_server_url"}


def _fake_judge_answer(body):
    """An answer of the kind each judge's default prompt asks for."""
    from tests.judge.conftest import chat

    prompt = body["messages"][-1]["content"]
    if "responses follow" in prompt:
        count = int(prompt.split("responses follow")[0].split()[-1])
        return chat(json.dumps({"scores": [0.5] * count}))
    if "Verdict: [[A]]" in prompt:  # judge_two_turn's turn 2
        return chat("Verdict: [[A]]")
    if "Dimensions:" in prompt:  # judge_two_turn's turn 1
        return chat("Dimensions: computation\nResponse A: may misadd\nResponse B: may misadd")
    if "Response A" in prompt:
        return chat("[[A]]")
    if "Classify" in prompt:
        return chat("correct")
    if "Rate how well" in prompt:
        return chat("Score: 7")
    return chat("Yes")


@pytest.fixture(scope="module")
def fake_judge():
    """Settings (as a spec table) for a scripted OpenAI-compatible server."""
    pytest.importorskip("openai")
    from tests.judge.conftest import FakeServer

    server = FakeServer(_fake_judge_answer)
    try:
        yield {"model": "fake-judge", "base_url": server.base_url, "retries": 0, "deadline_s": 5.0}
    finally:
        server.close()


@pytest.mark.parametrize("name", sorted([*EXAMPLES, *UNREGISTERED]))
def test_term_contract(name, request):
    params, batch = EXAMPLES[name] if name in EXAMPLES else UNREGISTERED[name][1:]
    if params.get("path") in MODEL_FIXTURES:
        params = {**params, "path": request.getfixturevalue(MODEL_FIXTURES[params["path"]])}
    if params.get("judge") == FAKE_JUDGE:
        params = {**params, "judge": request.getfixturevalue("fake_judge")}
    if params.get("url") in URL_FIXTURES:
        params = {**params, "url": request.getfixturevalue(URL_FIXTURES[params["url"]])}
    term = _build(name, params)
    n = len(next(iter(batch.values())))
    out = term(batch)
    assert out.total.shape == (n,)
    assert out.total.dtype == np.float64
    assert out.status.dtype == np.int8
    np.testing.assert_array_equal(np.isnan(out.total), out.status != Status.OK)
    if isinstance(term, Composite):  # a composite lists its parts
        assert all(part.name in out.terms for part in term.parts)
    else:
        assert term.name in out.terms
    clone = pickle.loads(pickle.dumps(term))
    again = clone(batch)
    np.testing.assert_array_equal(again.total, out.total)
    np.testing.assert_array_equal(again.status, out.status)
    assert check_reward(term, batch, warn=False).passed
    renamed = _build(name, params, {"name": "renamed"})
    assert renamed.name == "renamed"
