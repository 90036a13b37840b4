"""verl 0.9.x: rewardkit's ``compute_score`` through the reward loop (verl 0.9.1).

The reward loop is reproduced here from verl 0.9.1's wheel
(``verl/experimental/reward_loop/``), and, where verl is installed
(``make conformance`` builds ``.venv-verl`` with ``verl==0.9.1 --no-deps`` and
the light packages its reward code imports), imported and run:

- ``reward_manager/naive.py`` l.34-99 (``dapo.py``, ``gdpo.py``, ``limited.py``
  alike): one sample per ``run_single``; ``compute_score(data_source=,
  solution_str=, ground_truth=, extra_info=)`` by keyword, a sync function in
  ``loop.run_in_executor`` threads; a dict result's ``score`` is the reward and
  every key goes to ``reward_extra_info``;
- ``reward_loop.py`` l.361-369: the extra keys of the first sample, then
  ``np.array([info[key] for info in infos])``;
- ``reward_manager/registry.py`` l.52: ``Unknown reward manager: batch``;
- ``trainer/ppo/reward.py`` ``load_reward_manager`` / ``get_custom_reward_fn``
  (l.50-157): ``reward.custom_reward_function.{path,name}``,
  ``reward.reward_manager.{source,name,module.path}``;
- ground truth from parquet: a list column read by pandas is a numpy object array.
"""

import asyncio
from pathlib import Path

import numpy as np
import pytest

from rewardkit.adapters.verl import VerlReward
from rewardkit.core import weighted_sum
from rewardkit.verify import LengthLinear, MathVerifier, ThinkAnswerFormat, grpo_lambda

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "integrations" / "verl_reward.py"


def reward():
    return weighted_sum(
        [MathVerifier(timeout=5.0, no_answer="skip", name="correct"), ThinkAnswerFormat()],
        [1.0, 0.2],
        skip_missing=True,
    )


async def naive_run_single(compute_score, sample):
    """naive.py's call: keywords only, in the loop's executor."""
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(None, lambda: compute_score(**sample))
    if isinstance(result, dict):
        return {"reward_score": result["score"], "reward_extra_info": dict(result)}
    return {"reward_score": result, "reward_extra_info": {"acc": result}}


def reward_loop(compute_score, samples):
    """compute_score_batch + the aggregation of reward_loop.py."""

    async def gather():
        return await asyncio.gather(*(naive_run_single(compute_score, s) for s in samples))

    outputs = asyncio.run(gather())
    infos = [o["reward_extra_info"] for o in outputs]
    keys = list(infos[0])
    return [o["reward_score"] for o in outputs], {k: np.array([i[k] for i in infos]) for k in keys}


def sample(solution, gold, source="math", **info):
    info = {"index": 0, "num_turns": None, "rollout_reward_scores": {}, **info}
    return {
        "data_source": source,
        "solution_str": solution,
        "ground_truth": gold,
        "extra_info": info,
    }


def test_golds_as_numpy_arrays_tuples_and_lists_are_accepted_answers():
    accepted = ["1/2", "0.5"]
    samples = [sample(r"\boxed{0.5}", g) for g in
               (np.array(accepted, dtype=object), tuple(accepted), accepted, "0.5")]  # fmt: skip
    samples.append(sample(r"\boxed{0.4}", np.array(accepted, dtype=object)))
    scores, extra = reward_loop(VerlReward(MathVerifier(timeout=5.0)), samples)
    assert scores == [1.0, 1.0, 1.0, 1.0, 0.0]  # before: 0.0 for the array and the tuple
    assert extra["status"].tolist() == ["OK"] * 5


def test_every_sample_has_the_same_finite_keys_whatever_its_status():
    samples = [
        sample("<think>a</think><answer>7</answer>", "7"),
        sample("no idea", "7"),  # no answer: not applicable
        sample("<think>a</think><answer>7</answer>", None),  # no gold
    ]
    scores, extra = reward_loop(VerlReward(reward()), samples)
    assert scores == [1.2, 0.0, 0.2]  # the format part scores where correctness cannot
    for key, values in extra.items():
        if key != "status":
            assert np.isfinite(values.astype(float)).all(), key  # GDPO turns a NaN into NaNs
    assert extra["correct_applicable"].tolist() == [1.0, 0.0, 0.0]  # missing, not 0
    assert extra["timeout"].tolist() == [0.0, 0.0, 0.0] and extra["error"].tolist() == [0.0] * 3
    alone, _ = reward_loop(VerlReward(MathVerifier(timeout=5.0, no_answer="skip")), samples)
    assert alone == [1.0, 0.0, 0.0]


def test_a_gsm8k_answer_is_read_without_a_gsm8k_data_source():
    samples = [sample("48 + 24 = 72\n#### 72\n\nThat took 2 steps.", "72", source=s)
               for s in ("openai/gsm8k", "math", None)]  # fmt: skip
    scores, _ = reward_loop(VerlReward(MathVerifier(timeout=5.0)), samples)
    assert scores == [1.0, 1.0, 1.0]  # before: 0.0 without the GSM8K name
    strict = VerlReward(MathVerifier(timeout=5.0, gsm8k_marker="gsm8k_source"))
    assert reward_loop(strict, samples)[0] == [1.0, 0.0, 0.0]


def test_the_reward_model_keywords_are_absorbed():
    result = VerlReward(MathVerifier(timeout=5.0))(
        data_source="math", solution_str=r"\boxed{3}", ground_truth="3", extra_info={},
        reward_router_address="127.0.0.1:1", reward_model_tokenizer=object(),
    )  # fmt: skip
    assert result["score"] == 1.0


def test_groups_from_uids_reach_group_terms():
    term = grpo_lambda(MathVerifier(timeout=5.0), LengthLinear(max_length=40), threshold=0.5)
    solutions = [r"\boxed{4}", r"\boxed{4}!!!!!!!!", r"\boxed{5}", r"\boxed{5}!!!!!!!!"]
    uids = np.array(["a", "a", "b", "b"], dtype=object)
    grouped = VerlReward(term).batch(["math"] * 4, solutions, ["4"] * 4, groups=uids)
    # group a is all correct, so its length penalty is on; group b is all wrong
    assert grouped[0]["score"] > grouped[1]["score"] and grouped[2]["score"] == grouped[3]["score"]


# ---- verl 0.9.1 itself (make conformance) ---------------------------------------------------


@pytest.fixture(scope="module")
def verl():
    return pytest.importorskip("verl")


def tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "<unk>", "<eos>", "2+2?", r"\boxed{4}", r"\boxed{5}", "no", "idea",
             "<think>2+2</think><answer>4</answer>", "####", "4", "!!!!!!!!"]  # fmt: skip
    model = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    model.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=model, pad_token="<pad>", unk_token="<unk>", eos_token="<eos>"
    )


def data_proto(tok, responses, golds, uids, source="math"):
    import torch
    from verl import DataProto

    n, p, r = len(responses), 2, 4
    prompts = torch.full((n, p), tok.pad_token_id)
    resps = torch.full((n, r), tok.pad_token_id)
    mask = torch.zeros((n, p + r), dtype=torch.long)
    prompt_ids = tok("2+2?", add_special_tokens=False)["input_ids"]
    for i, text in enumerate(responses):
        ids = tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        prompts[i, p - len(prompt_ids) :] = torch.tensor(prompt_ids)
        resps[i, : len(ids)] = torch.tensor(ids)
        mask[i, p - len(prompt_ids) : p] = 1
        mask[i, p : p + len(ids)] = 1
    return DataProto.from_dict(
        tensors={"prompts": prompts, "responses": resps, "attention_mask": mask,
                 "input_ids": torch.cat([prompts, resps], 1)},
        non_tensors={
            "data_source": np.array([source] * n, dtype=object),
            "reward_model": np.array([{"ground_truth": g} for g in golds], dtype=object),
            "extra_info": np.array([{"index": i, "note": None} for i in range(n)], dtype=object),
            "uid": np.array(uids, dtype=object),
        },
    )  # fmt: skip


def config(manager, path=EXAMPLE, source="register", module=None, **reward_options):
    from omegaconf import OmegaConf

    return OmegaConf.create({
        "reward": {
            "num_workers": 1,
            "custom_reward_function": {"path": str(path), "name": "compute_score",
                                       "reward_kwargs": {}},
            "reward_manager": {"source": source, "name": manager,
                               "module": {"path": module, "name": manager}},
            "reward_model": {"enable": False},
            "sandbox_fusion": {"url": None},
            **reward_options,
        },
        "trainer": {"experiment_name": "rewardkit-conformance"},
    })  # fmt: skip


def run_reward_loop(manager, data):
    """RewardLoopWorker.compute_score_batch: one run_single per sample, gathered on its loop."""

    async def gather():
        return await asyncio.gather(
            *(manager.run_single(data[i : i + 1]) for i in range(len(data)))
        )

    outputs = manager.loop.run_until_complete(gather())
    infos = [o["reward_extra_info"] for o in outputs]
    return [float(o["reward_score"]) for o in outputs], {
        k: np.array([info[k] for info in infos]) for k in infos[0]
    }


RESPONSES = [r"\boxed{4}", "no idea", "#### 4", "<think>2+2</think><answer>4</answer>"]
GOLDS = ["4", "4", np.array(["4", "four"], dtype=object), "4"]


@pytest.mark.parametrize("name", ["naive", "dapo", "gdpo", "rate_limited"])
def test_every_reward_loop_manager_scores_the_example(verl, name):
    from verl.trainer.ppo.reward import load_reward_manager

    tok = tokenizer()
    manager = load_reward_manager(config(name), tok)
    scores, extra = run_reward_loop(manager, data_proto(tok, RESPONSES, GOLDS, ["u"] * 4))
    assert scores == [1.0, 0.0, 1.0, 1.0]
    assert extra["status"].tolist() == ["OK"] * 4
    assert {"score", "acc", "applicable", "timeout", "error"} <= set(extra)


def test_the_batch_manager_is_gone_in_0_9(verl):
    from verl.trainer.ppo.reward import load_reward_manager

    with pytest.raises(ValueError, match="Unknown reward manager: batch"):
        load_reward_manager(config("batch"), tokenizer())


def test_rewardkits_manager_scores_groups_by_uid(verl, tmp_path):
    from verl.trainer.ppo.reward import load_reward_manager

    path = tmp_path / "group_reward.py"
    path.write_text(
        "from rewardkit.adapters.verl import VerlReward\n"
        "from rewardkit.verify import LengthLinear, MathVerifier, grpo_lambda\n"
        "compute_score = VerlReward(grpo_lambda(MathVerifier(timeout=5.0),"
        " LengthLinear(max_length=40), threshold=0.5))\n"
    )
    tok = tokenizer()
    manager = load_reward_manager(
        config(
            "RewardkitRewardManager",
            path=path,
            source="importlib",
            module="pkg://rewardkit.adapters.verl_manager",
        ),
        tok,
    )
    responses = [r"\boxed{4}", r"\boxed{4} !!!!!!!!", r"\boxed{5}", r"\boxed{5} !!!!!!!!"]
    data = data_proto(tok, responses, ["4"] * 4, ["a", "a", "b", "b"])
    scores, extra = run_reward_loop(manager, data)
    expected = VerlReward(
        grpo_lambda(MathVerifier(timeout=5.0), LengthLinear(max_length=40), threshold=0.5)
    ).batch(["math"] * 4, [tok.decode(tok(r)["input_ids"]) for r in responses], ["4"] * 4,
            groups=["a", "a", "b", "b"])  # fmt: skip
    assert scores == [r["score"] for r in expected]
    assert scores[0] > scores[1]  # the group's length penalty: it needs the whole group
    assert list(extra) == list(expected[0])
