"""Learned rewards: the BT loss, a tiny RM trained on pairs, ensembles, PAR, and their errors."""

import math
import pickle
import random

import numpy as np
import pytest
import torch

from rewardkit.core import ConfigurationError, column, load_spec, weighted_sum
from rewardkit.models import (
    ModelError,
    PreferenceRewardModel,
    RewardEnsemble,
    RewardModelTerm,
    RewardModelTraining,
    aggregate_ensemble,
    bradley_terry_loss,
)
from rewardkit.shaping import par_transform, preference_as_reward

ALPHABET = "0123456789+="


def sum_pairs(count, seed):
    """Preference pairs on a+b (digits 0-4): the right sum is chosen over a wrong one."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        a, b = rng.randrange(5), rng.randrange(5)
        wrong = a + b + rng.choice([-2, -1, 1, 2])
        pairs.append({"prompt": f"{a}+{b}=", "chosen": str(a + b), "rejected": str(abs(wrong))})
    return pairs


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    model = PreferenceRewardModel.tiny(ALPHABET, n_layer=2, n_embd=64, seed=0)
    model.fit(sum_pairs(600, seed=0), RewardModelTraining(epochs=10, learning_rate=3e-3))
    return model


def test_bradley_terry_loss_by_hand():
    chosen, rejected = torch.tensor([2.0, 0.5]), torch.tensor([0.0, 1.0])
    expected = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(0.5))) / 2
    assert float(bradley_terry_loss(chosen, rejected)) == pytest.approx(expected, rel=1e-6)
    margin = torch.tensor([1.0, 0.0])
    with_margin = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(0.5))) / 2
    assert float(bradley_terry_loss(chosen, rejected, margin)) == pytest.approx(with_margin)
    centred = expected + 0.1 * ((2.0 + 0.0) ** 2 + (0.5 + 1.0) ** 2) / 2
    assert float(bradley_terry_loss(chosen, rejected, center_coefficient=0.1)) == pytest.approx(
        centred
    )


def test_a_tiny_model_learns_which_sum_is_right(trained):
    held_out = sum_pairs(200, seed=1)
    accuracy = trained.pair_accuracy(held_out)
    assert accuracy > 0.8, accuracy  # 0.9 when measured; chance is 0.5
    assert trained.metrics["pairs"] == 600 and trained.metrics["pairs_too_long"] == 0


def test_save_and_load_give_the_same_scores(trained, tmp_path):
    folder = trained.save(tmp_path / "rm")
    assert (folder / "model.safetensors").is_file() and (folder / "rewardkit.json").is_file()
    loaded = PreferenceRewardModel.load(folder)
    prompts, completions = ["1+2=", "3+4="], ["3", "8"]
    before, after = trained.score(prompts, completions)[0], loaded.score(prompts, completions)[0]
    np.testing.assert_allclose(after, before, rtol=1e-5)
    trained.save(folder)  # over an existing save: replaced whole
    assert loaded.trained and loaded.metrics["pairs"] == 600


def test_the_term_marks_truncation_and_pickles_as_its_path(trained, tmp_path):
    folder = trained.save(tmp_path / "rm")
    term = RewardModelTerm(path=folder)
    out = term({"prompt": ["1+2=", "1+2="], "completion": ["3", "3" * 200]})
    assert np.isfinite(out.total[0]) and np.isnan(out.total[1])
    assert out.messages[1].startswith("truncated")
    scored = RewardModelTerm(path=folder, on_truncation="score")(
        {"prompt": ["1+2="], "completion": ["3" * 200]}
    )
    assert np.isfinite(scored.total[0]) and scored.messages[0].startswith("truncated")
    clone = pickle.loads(pickle.dumps(term))
    assert clone._model is None and clone({"completion": ["3"]}).total.shape == (1,)


def test_a_spec_and_the_trl_adapter_take_the_model(trained, tmp_path):
    from rewardkit.adapters.trl import TRLReward

    folder = trained.save(tmp_path / "rm")
    spec = tmp_path / "reward.toml"
    spec.write_text(
        f'[[sum]]\nterm = "reward_model"\npath = "{folder}"\n\n'
        '[[sum]]\nterm = "constant"\nvalue = 0.5\n'
    )
    reward = load_spec(spec)
    scores = TRLReward(reward)(prompts=["1+2=", "1+2="], completions=["3", "5"])
    assert scores[0] > scores[1]  # the right sum scores higher


def test_errors_say_what_is_wrong(tmp_path):
    untrained = PreferenceRewardModel.tiny(ALPHABET)
    with pytest.raises(ModelError, match="untrained"):
        RewardModelTerm(model=untrained)
    with pytest.raises(ModelError, match="no reward model at"):
        RewardModelTerm(path=tmp_path / "missing")
    with pytest.raises(ModelError, match="no reward model at"):
        PreferenceRewardModel.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="not a reward model directory"):
        PreferenceRewardModel.load(tmp_path / "empty")
    from rewardkit.models.tiny import build_char_tokenizer

    bigger = build_char_tokenizer(ALPHABET + "abcdefghijklmnopqrstuvwxyz")
    with pytest.raises(ModelError, match="do not belong together"):
        PreferenceRewardModel(untrained.model, bigger)
    with pytest.raises(ConfigurationError, match="path or the model"):
        RewardModelTerm()


def test_ensemble_aggregations_by_hand():
    scores = np.array([[1.0, 2.0, np.nan], [3.0, 2.0, np.nan], [2.0, np.nan, np.nan]])
    np.testing.assert_allclose(aggregate_ensemble(scores, "mean"), [2.0, 2.0, np.nan])
    np.testing.assert_allclose(aggregate_ensemble(scores, "min"), [1.0, 2.0, np.nan])
    std = math.sqrt(2 / 3)  # population std of 1, 3, 2
    np.testing.assert_allclose(
        aggregate_ensemble(scores, "mean_minus_std", lam=0.5), [2.0 - 0.5 * std, 2.0, np.nan]
    )
    ensemble = RewardEnsemble([column("a"), column("b")], "min", name="worst")
    out = ensemble({"a": [1.0, 5.0], "b": [3.0, 2.0]})
    np.testing.assert_allclose(out.total, [1.0, 2.0])
    np.testing.assert_allclose(out.terms["worst/std"], [1.0, 1.5])
    with pytest.raises(ConfigurationError, match="distinct names"):
        RewardEnsemble([column("a"), column("a")])


def test_par_ignores_a_per_prompt_constant():
    rng = np.random.default_rng(0)
    r, r_ref = rng.normal(size=6), rng.normal(size=(6, 2))
    shift = np.repeat(rng.normal(size=3) * 10, 2)  # one constant per prompt (2 samples each)
    np.testing.assert_allclose(
        par_transform(r + shift, r_ref + shift[:, None]), par_transform(r, r_ref)
    )
    expected = np.mean(1 / (1 + np.exp(-(r[:, None] - r_ref))), axis=1)
    np.testing.assert_allclose(par_transform(r, r_ref), expected)


def test_par_scores_reference_completions_with_the_same_term():
    from rewardkit.core import term

    @term
    def length(completion):
        return [float(len(c)) for c in completion]

    reward = preference_as_reward(length, reference="reference")
    out = reward({"completion": ["aaa", "a"], "reference": [["aa", "aaaa"], "a"]})
    expected = [(1 / (1 + math.exp(-1)) + 1 / (1 + math.exp(1))) / 2, 0.5]
    np.testing.assert_allclose(out.total, expected)
    np.testing.assert_allclose(out.terms["length/reference"], [3.0, 1.0])
    with pytest.raises(ConfigurationError, match="exactly one"):
        preference_as_reward(length, reference="reference", reference_reward="r")
    plain = weighted_sum([reward])({"completion": ["aaa"], "reference": [None]})
    assert np.isnan(plain.total[0])  # no reference: not applicable, never a guess


@pytest.fixture(scope="module")
def generative():
    from rewardkit.models import GenerativeRewardModel, GenerativeTraining, yes_no_examples

    torch.set_num_threads(1)
    model = GenerativeRewardModel.tiny(ALPHABET, seed=0)
    model.fit(
        yes_no_examples(sum_pairs(600, seed=0)), GenerativeTraining(epochs=20, learning_rate=1e-3)
    )
    return model


def test_the_generative_model_learns_yes_for_right_sums(generative, tmp_path):
    from rewardkit.models import load_reward_model

    accuracy = generative.pair_accuracy(sum_pairs(200, seed=1))
    assert accuracy > 0.6, accuracy  # 0.875 measured (0.79-0.96 over seeds); chance is 0.5
    held_out = sum_pairs(100, seed=2)
    prompts = [p["prompt"] for p in held_out]
    chosen, _ = generative.score(prompts, [p["chosen"] for p in held_out])
    rejected, _ = generative.score(prompts, [p["rejected"] for p in held_out])
    assert ((chosen > 0) & (chosen < 1)).all() and chosen.mean() > rejected.mean()
    scores, _ = generative.score(["1+2="], ["3"])
    folder = generative.save(tmp_path / "grm")
    loaded = load_reward_model(folder)
    np.testing.assert_allclose(loaded.score(["1+2="], ["3"])[0], scores[:1], rtol=1e-5)
    term = RewardModelTerm(path=folder, name="judge")
    out = term({"prompt": ["1+2=", "1+2="], "completion": ["3", "3" * 100]})
    assert 0 < out.total[0] < 1 and np.isnan(out.total[1])  # the long one is marked
    assert pickle.loads(pickle.dumps(term))({"completion": ["3"]}).total.shape == (1,)


def test_the_generative_model_needs_its_answer_tokens():
    from rewardkit.models import GenerativeRewardModel
    from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2

    tokenizer = build_char_tokenizer("0123456789")  # no Y or N
    with pytest.raises(ModelError, match="one token each"):
        GenerativeRewardModel(build_tiny_gpt2(tokenizer, 1, 16, 2), tokenizer)


def _toy_rollout(p, length, seed=0):
    """Finishes a prefix of 'c,'/'w,' steps: each missing step is right ('c') with chance p."""
    rng = random.Random(seed)

    def rollout(prefix, n):
        done = prefix.count(",")
        steps = length - done
        return ["".join("c," if rng.random() < p else "w," for _ in range(steps)) for _ in range(n)]

    return rollout


def test_step_labels_estimate_known_step_values():
    from rewardkit.models import step_labels

    p, length = 0.7, 4
    verifier = lambda text: text == "c," * length  # noqa: E731 - every step right
    soft = step_labels("", ["c,", "c,", "w,", "c,"], _toy_rollout(p, length), verifier, n=4000)
    expected = [p**3, p**2, 0.0, 0.0]  # a right prefix of k steps is worth p^(4-k); a wrong one 0
    np.testing.assert_allclose(soft, expected, atol=0.03)
    hard = step_labels("", ["c,", "w,"], _toy_rollout(p, length), verifier, n=50, hard=True)
    assert hard == [1.0, 0.0]


def test_a_trained_prm_scores_a_wrong_step_low_and_aggregates(tmp_path):
    from rewardkit.models import ProcessRewardModel, ProcessRewardTerm, ProcessTraining, step_labels

    torch.set_num_threads(1)
    rng = random.Random(0)
    length, p = 4, 0.8
    verifier = lambda text: text == "c," * length  # noqa: E731
    examples = []
    for index in range(200):
        steps = ["c," if rng.random() < 0.7 else "w," for _ in range(length)]
        labels = step_labels("", steps, _toy_rollout(p, length, seed=index), verifier, n=16)
        examples.append({"prompt": "", "steps": steps, "labels": labels})
    prm = ProcessRewardModel.tiny("cw", separator=",", seed=0, n_layer=1, n_embd=32)
    prm.fit(examples, ProcessTraining(epochs=8))
    (right, wrong), _ = prm.step_scores(None, ["c,c,c,c,", "c,w,c,c,"])
    assert right.shape == (4,) and wrong[1] < right[1] - 0.3  # the wrong step is seen
    term = ProcessRewardTerm(model=prm, aggregate="min")
    out = term({"completion": ["c,c,c,c,", "c,w,c,c,", ""]})
    assert out.total[0] > out.total[1] and np.isnan(out.total[2]) and out.messages[2] == "no steps"
    last = ProcessRewardTerm(model=prm, aggregate="last")({"completion": ["c,c,"]})
    assert last.total[0] == pytest.approx(right[1], rel=1e-5)
    # a prefix is judged on its completed steps: "c,w,c" as "c,w,"; "c" has none yet
    prefixes = term({"completion": ["c,w,c", "c,w,", "c"], "partial": [True, False, True]})
    assert prefixes.total[0] == pytest.approx(min(wrong[:2]), rel=1e-5)
    assert prefixes.total[1] == pytest.approx(prefixes.total[0], rel=1e-5)
    assert np.isnan(prefixes.total[2]) and term.scores_partial
    folder = prm.save(tmp_path / "prm")
    clone = pickle.loads(pickle.dumps(ProcessRewardTerm(path=folder)))
    np.testing.assert_allclose(clone({"completion": ["c,c,c,c,"]}).total, out.total[:1], rtol=1e-5)
    with pytest.raises(ModelError, match="process reward model"):
        RewardModelTerm(path=folder)({"completion": ["c,"]})


def test_an_ensemble_of_bootstrapped_models_logs_its_disagreement():
    from rewardkit.models import fit_ensemble

    torch.set_num_threads(1)
    ensemble = fit_ensemble(
        lambda seed: PreferenceRewardModel.tiny(ALPHABET, seed=seed),
        sum_pairs(200, seed=0),
        k=3,
        training=RewardModelTraining(epochs=2),
        aggregation="mean_minus_std",
        lam=1.0,
    )
    out = ensemble({"prompt": ["1+2=", "1+2="], "completion": ["3", "4"]})
    members = np.stack([out.terms[f"ensemble_member_{k}"] for k in range(3)])
    np.testing.assert_allclose(out.terms["ensemble/std"], members.std(axis=0), rtol=1e-6)
    np.testing.assert_allclose(out.total, members.mean(axis=0) - members.std(axis=0), rtol=1e-6)
    assert (out.terms["ensemble/std"] > 0).all()  # bootstrap members disagree


def test_saving_replaces_whole_and_a_failed_save_keeps_the_old_model(
    trained, tmp_path, monkeypatch
):
    folder = trained.save(tmp_path / "rm")
    trained.save(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rm"]  # nothing left aside
    before = PreferenceRewardModel.load(folder).score(["1+2="], ["3"])[0]

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(trained.model, "save_pretrained", broken)
    with pytest.raises(OSError, match="disk full"):
        trained.save(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rm"]
    np.testing.assert_allclose(PreferenceRewardModel.load(folder).score(["1+2="], ["3"])[0], before)


def test_a_language_model_without_a_reward_head_is_refused(tmp_path):
    from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2

    tokenizer = build_char_tokenizer(ALPHABET)
    build_tiny_gpt2(tokenizer, 1, 16, 2).save_pretrained(tmp_path / "lm")
    tokenizer.save_pretrained(tmp_path / "lm")
    with pytest.raises(ModelError, match="no trained reward head"):
        PreferenceRewardModel.load(tmp_path / "lm")


def test_an_ensemble_needs_every_member():
    from rewardkit.core import Status

    ensemble = RewardEnsemble([column("a"), column("b")], "min")
    out = ensemble({"a": [1.0, None], "b": [3.0, 2.0]})
    assert out.total[0] == 1.0 and np.isnan(out.total[1])
    assert out.status[1] == Status.NOT_APPLICABLE


def test_par_takes_a_chat_reference_as_one_reference():
    from rewardkit.core import term

    @term
    def length(completion):
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completion]
        return [float(len(t)) for t in texts]

    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "aa"}]
    out = preference_as_reward(length)({"completion": ["aaa"], "reference": [chat]})
    np.testing.assert_allclose(out.total, [1 / (1 + math.exp(-1))])
