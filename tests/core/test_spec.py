import math
from pathlib import Path

import numpy as np
import pytest

from rewardkit.core import SpecError, build_reward, load_spec
from rewardkit.core.errors import RegistryError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_toml_example_builds_the_documented_reward():
    reward = load_spec(EXAMPLES / "math_reward.toml")
    assert reward.name == "math_reward"
    batch = {
        "completion": ["<think>x</think><answer>42</answer>", "<answer>41</answer>"],
        "answer": ["42", "42"],
    }
    out = reward(batch)
    length_term = -len(batch["completion"][0]) / 200
    np.testing.assert_allclose(out.total, [1.0 + 0.2 + 0.1 * length_term, 0.0])
    assert {"correct", "format", "brevity", "brevity/is_correct"} <= set(out.terms)


def test_yaml_example_builds():
    reward = load_spec(EXAMPLES / "pendulum_reward.yaml")
    out = reward({"reward": [-1.0, -20.0], "action": [[2.0], [0.0]]})
    np.testing.assert_allclose(out.total, [-1.0 - 0.2 + 0.1, -10.0])


def test_every_operator_in_a_spec():
    spec = {
        "name": "all",
        "sum": [
            {
                "gate": {"term": "column", "column": "outcome"},
                "then": {"term": "column", "column": "dense"},
                "threshold": 1.0,
                "name": "g",
            },
            {
                "product": [{"term": "column", "column": "a"}, {"term": "column", "column": "b"}],
                "name": "p",
            },
            {"affine": {"term": "column", "column": "a"}, "scale": 2.0, "name": "aff"},
            {
                "tiered": {"term": "column", "column": "b"},
                "thresholds": [0.5],
                "rewards": [0.0, 1.0],
                "name": "t",
            },
            {
                "group_switch": {"term": "column", "column": "outcome"},
                "penalty": {"term": "constant", "value": -0.5},
                "threshold": 1.0,
                "name": "gs",
            },
            {
                "conditional": {"term": "column", "column": "outcome"},
                "then": {"term": "constant", "value": 1.0, "name": "one"},
                "otherwise": 0.0,
                "name": "c",
            },
        ],
    }
    batch = {
        "outcome": [1.0, 0.0],
        "dense": [0.5, 0.5],
        "a": [1.0, 2.0],
        "b": [0.5, 0.25],
        "group": [0, 1],
    }
    out = build_reward(spec)(batch)
    # g: 1.5, 0 | p: 0.5, 0.5 | aff: 2, 4 | t: 1, 0 | gs: 0.5, 0 | c: 1, 0
    np.testing.assert_allclose(out.total, [6.5, 4.5])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"sum": [{"term": "exact_match", "weight": "heavy"}]},
            r"spec.sum\[0\].weight: expected a number, got 'heavy'",
        ),
        (
            {"sum": [{"term": "exact_mach"}]},
            r"no term named 'exact_mach'. Did you mean 'exact_match'",
        ),
        ({"sum": []}, r"spec.sum: expected a non-empty list"),
        ({"name": "x"}, r"a node needs exactly one of"),
        ({"term": "env_reward", "sum": []}, r"found \['term', 'sum'\]"),
        ({"clip": {"term": "env_reward"}, "lo": 0}, r"unknown keys \['lo'\]"),
        ({"term": "length_linear", "max_len": 3}, r"does not accept these parameters"),
        ({"term": "regex_match", "pattern": "(unclosed"}, r"invalid regular expression"),
        (
            {"gate": {"term": "env_reward"}, "then": {"term": "env_reward", "name": "b"}},
            r"missing key 'threshold'",
        ),
        (
            {"tiered": {"term": "env_reward"}, "thresholds": 0.5, "rewards": [0, 1]},
            r"thresholds: expected a list",
        ),
        ({"sum": [{"term": "env_reward"}, {"term": "env_reward"}]}, r"distinct name"),
    ],
)
def test_bad_specs_give_clear_errors(spec, message):
    with pytest.raises((SpecError, RegistryError), match=message):
        build_reward(spec)


def test_bad_files(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(SpecError, match=r"bad\.toml: not valid TOML"):
        load_spec(bad)
    other = tmp_path / "reward.ini"
    other.write_text("x")
    with pytest.raises(SpecError, match="unknown spec type"):
        load_spec(other)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(SpecError, match="top level must be"):
        load_spec(listed)
    typo = tmp_path / "typo.yaml"
    typo.write_text("sum:\n  - {term: env_reward, weight: [1]}\n")
    with pytest.raises(SpecError, match=r"typo.yaml: spec.sum\[0\].weight"):
        load_spec(typo)


def test_conditional_otherwise_defaults_to_not_applicable():
    reward = build_reward(
        {
            "conditional": {"term": "column", "column": "ok"},
            "then": {"term": "constant", "value": 2.0},
        }
    )
    out = reward({"ok": [1.0, 0.0]})
    assert out.total[0] == 2.0 and math.isnan(out.total[1])
