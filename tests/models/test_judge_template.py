"""The generative reward model's judge template: the default reads as before, a chat template
puts question, answer and question-to-the-judge in one user turn, and on SmolLM2 the score is
P(Yes) / (P(Yes) + P(No)) of a direct forward pass over the rendered chat."""

import numpy as np
import pytest
import torch

from rewardkit.core import ConfigurationError
from rewardkit.models import GenerativeRewardModel, JudgeTemplate
from rewardkit.models._common import ModelError
from rewardkit.models.base import load_saved_model


def test_the_default_template_reads_prompt_completion_and_question_as_one_text():
    model = GenerativeRewardModel.tiny("0123456789+=", seed=0)
    rows, truncated = model._encode(["1+1="], ["2"])
    ids = model.tokenizer("1+1=2?", add_special_tokens=False)["input_ids"]
    assert rows == [ids] and truncated.tolist() == [False]


def test_a_chat_template_needs_a_tokenizer_with_one():
    tiny = GenerativeRewardModel.tiny("0123456789+=YesNo", seed=0)
    with pytest.raises(ModelError, match="chat template"):
        GenerativeRewardModel(tiny.model, tiny.tokenizer, template=JudgeTemplate(chat=True))


def test_answer_words_must_be_one_token_each():
    tiny = GenerativeRewardModel.tiny("0123456789+=", seed=0)
    with pytest.raises(ModelError, match="one token each"):
        GenerativeRewardModel(tiny.model, tiny.tokenizer, template=JudgeTemplate(yes="YY"))


def test_the_template_is_saved_and_read_back(tmp_path):
    tiny = GenerativeRewardModel.tiny("0123456789+=?ab", seed=0)
    template = JudgeTemplate(question="?", yes="a", no="b")
    model = GenerativeRewardModel(tiny.model, tiny.tokenizer, template=template)
    model.save(tmp_path / "judge")
    loaded = load_saved_model(tmp_path / "judge")
    assert isinstance(loaded, GenerativeRewardModel) and loaded.template == template
    np.testing.assert_allclose(
        loaded.score(["1+1="], ["2"])[0], model.score(["1+1="], ["2"])[0], rtol=1e-6
    )


@pytest.mark.real_model
def test_smollm2_as_a_zero_shot_judge_is_p_yes_of_its_chat(smollm2):
    backbone, tokenizer = smollm2
    judge = GenerativeRewardModel(backbone, tokenizer, template=JudgeTemplate.instruct())
    questions, answers = ["What is 2 + 2?", "What is 7 - 3?"], ["2 + 2 = 4", "It is 9."]
    scores, truncated = judge.score(questions, answers)
    assert truncated.tolist() == [False, False]
    yes, no = (tokenizer(w, add_special_tokens=False)["input_ids"][0] for w in ("Yes", "No"))
    for question, answer, score in zip(questions, answers, scores, strict=True):
        content = f"{question}\n\nAnswer: {answer}\n\nIs this answer correct? Reply Yes or No."
        chat = [{"role": "user", "content": content}]
        text = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
        with torch.no_grad():
            last = backbone(input_ids=ids).logits[0, -1]
        expected = torch.softmax(last[[yes, no]], dim=-1)[0].item()
        assert score == pytest.approx(expected, abs=1e-4)


@pytest.mark.real_model
def test_a_prompt_that_fills_the_context_scores_nan_and_is_marked(smollm2):
    backbone, tokenizer = smollm2
    judge = GenerativeRewardModel(
        backbone, tokenizer, max_length=60, template=JudgeTemplate.instruct()
    )
    long_question = "What is " + " + ".join(["1"] * 30) + "?"
    scores, truncated = judge.score(["What is 2 + 2?", long_question], ["4", "30"])
    assert 0.0 < scores[0] < 1.0 and np.isnan(scores[1])
    assert truncated.tolist() == [False, True]
    with pytest.raises(ConfigurationError, match="1 examples have a prompt that fills"):
        judge.fit([{"prompt": long_question, "completion": "30", "label": True}])


def test_the_judge_state_gives_the_yes_token_reward_through_the_yes_and_no_rows():
    model = GenerativeRewardModel.tiny("0123456789+=", n_positions=16, seed=0)
    prompts, completions = ["1+1=", "2+2=", "3+3="], ["2", "4" * 20, "5"]  # one cut to fit
    scores, states, truncated = model.judge_states(prompts, completions, batch_size=2)
    expected, expected_truncated = model.score(prompts, completions)
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    assert truncated.tolist() == expected_truncated.tolist() == [False, True, False]
    rows = model.model.get_output_embeddings().weight.detach().double().numpy()
    direction = rows[model.yes_id] - rows[model.no_id]  # the tiny GPT-2's head has no bias
    np.testing.assert_allclose(1 / (1 + np.exp(-(states @ direction))), scores, rtol=1e-5)
