"""One base class for the learned reward models: a saved model comes back as its kind."""

from __future__ import annotations

import pytest

from rewardkit.models import (
    FrozenHeadProcessRewardModel,
    FrozenHeadRewardModel,
    GenerativeRewardModel,
    ModelError,
    PreferenceRewardModel,
    ProcessRewardModel,
    RewardModel,
    load_reward_model,
    load_saved_model,
)

SIZES = {"n_layer": 1, "n_embd": 16, "n_head": 2}


def test_every_kind_is_a_reward_model_registered_by_its_manifest_name():
    kinds = RewardModel.kinds()
    assert kinds == {
        "preference": PreferenceRewardModel,
        "generative": GenerativeRewardModel,
        "process": ProcessRewardModel,
        "frozen-head": FrozenHeadRewardModel,
        "frozen-head-process": FrozenHeadProcessRewardModel,
    }
    with pytest.raises(TypeError):
        RewardModel()  # type: ignore[abstract]


@pytest.mark.parametrize(
    "build",
    [
        lambda: PreferenceRewardModel.tiny("ab", **SIZES),
        lambda: GenerativeRewardModel.tiny("ab", **SIZES),
        lambda: ProcessRewardModel.tiny("ab", separator=",", **SIZES),
    ],
)
def test_a_saved_model_loads_back_as_its_own_class(build, tmp_path):
    model = build()
    model.save(tmp_path / "saved")
    loaded = load_saved_model(tmp_path / "saved")
    assert type(loaded) is type(model) and loaded.kind == model.kind


def test_the_term_loader_refuses_a_process_model_before_loading_it(tmp_path):
    ProcessRewardModel.tiny("ab", separator=",", **SIZES).save(tmp_path / "prm")
    with pytest.raises(ModelError, match="process reward model: use process_reward_model"):
        load_reward_model(tmp_path / "prm")
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "rewardkit.json").write_text('{"kind": "oracle"}')
    with pytest.raises(ModelError, match="'oracle' model"):
        load_saved_model(tmp_path / "odd")
