"""``rewardkit steer``: best-of-N and SMC from a spec, a model folder and a prompts file."""

import json

import pytest
import torch

from rewardkit.cli import main
from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("steer")
    tokenizer = build_char_tokenizer("ab")
    torch.manual_seed(0)
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, seed=3)
    model.save_pretrained(folder / "model")
    tokenizer.save_pretrained(folder / "model")
    (folder / "reward.toml").write_text('term = "regex_match"\npattern = "b"\n')
    (folder / "prompts.jsonl").write_text(
        "".join(json.dumps({"prompt": p, "id": i}) + "\n" for i, p in enumerate(["a", "ab", "ba"]))
    )
    return folder


@pytest.mark.parametrize("method", ["bon", "smc", "vgd"])
def test_steer_writes_one_line_per_prompt_with_every_sample(setup, method, capsys):
    out = setup / f"{method}.jsonl"
    code = main([
        "steer", str(setup / "reward.toml"), "--model", str(setup / "model"),
        "--prompts", str(setup / "prompts.jsonl"), "--method", method, "--n", "4",
        "--particles", "4", "--max-new-tokens", "4", "--out", str(out),
        *(["--partial"] if method == "vgd" else []),
    ])  # fmt: skip
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [0, 1, 2]
    if method == "bon":
        for row in rows:
            assert row["score"] == max(row["scores"])
            assert row["completion"] == row["samples"][row["scores"].index(row["score"])]
    else:
        assert all(len(r["particles"]) == 4 and abs(sum(r["weights"]) - 1) < 1e-6 for r in rows)
    if method == "vgd":  # the kept candidate is the best of the last block
        for row in rows:
            assert row["score"] == max(r for r in row["rewards"] if r is not None)
    assert "tokens generated" in capsys.readouterr().out


def test_steer_reports_a_missing_model_and_bad_prompts(setup, tmp_path, capsys):
    args = ["steer", str(setup / "reward.toml"), "--prompts", str(setup / "prompts.jsonl")]
    assert main([*args, "--model", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "not a folder" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "a"}\n')
    code = main([
        "steer", str(setup / "reward.toml"), "--model", str(setup / "model"), "--prompts",
        str(bad), "--out", str(tmp_path / "o"),
    ])  # fmt: skip
    assert code == 2 and "needs a string 'prompt'" in capsys.readouterr().err


def test_vgd_needs_a_reward_that_judges_prefixes(setup, tmp_path, capsys):
    code = main([
        "steer", str(setup / "reward.toml"), "--model", str(setup / "model"),
        "--prompts", str(setup / "prompts.jsonl"), "--method", "vgd",
        "--out", str(tmp_path / "o.jsonl"),
    ])  # fmt: skip
    assert code == 2 and "judges prefixes" in capsys.readouterr().err
