"""Multi-turn episodes: transcripts, masks, IGPO's probabilities, progress and the trainer."""

import numpy as np
import pytest
import torch

from rewardkit.core.errors import ConfigurationError
from rewardkit.credit.redistribution import information_gain_rewards
from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
from rewardkit.train.grpo import GRPOConfig, GRPOTrainer
from rewardkit.train.multiturn import (
    Episodes,
    InformationGainTurns,
    ProgressTurns,
    answer_probabilities,
    evaluate_episodes,
    sample_episodes,
    transcript,
)
from rewardkit_bench.tasks.guessing import GUESSING_ALPHABET, GuessingGame, GuessOutcome

TOKENIZER = build_char_tokenizer(GUESSING_ALPHABET)
GAME = GuessingGame(low=1, high=15, guesses=3)


def model(seed=0):
    return build_tiny_gpt2(TOKENIZER, n_layer=1, n_embd=32, n_head=2, n_positions=48, seed=seed)


def ids(text):
    return TOKENIZER(text, add_special_tokens=False)["input_ids"]


def test_episodes_interleave_the_models_turns_and_the_environments_replies():
    torch.manual_seed(0)
    rows = GAME.problems([3, 8, 12]) * 4
    episodes = sample_episodes(model(), TOKENIZER, GAME, rows)
    eos, end = TOKENIZER.eos_token_id, ids(";")[0]
    for i, row in enumerate(rows):
        sequence, trainable = episodes.sequences[i], episodes.trainable[i]
        spans, ends = episodes.turn_spans[i], episodes.reply_ends[i]
        assert len(spans) == GAME.turns and len(ends) == GAME.turns - 1
        assert len(trainable) == len(sequence)
        marked = np.zeros(len(sequence), dtype=bool)
        for turn, (start, stop) in enumerate(spans):
            marked[start:stop] = True
            written = sequence[start:stop]
            assert 1 <= len(written) <= GAME.turn_tokens
            stops = (eos,) if turn == GAME.turns - 1 else (eos, end)  # the answer ends at EOS
            assert all(t not in stops for t in written[:-1])  # a turn ends at its first stop
            if turn < GAME.turns - 1:  # then the environment's reply to what it read
                reply = GAME.reply(row, turn, episodes.turn_texts[i][turn])
                assert sequence[stop : ends[turn]] == ids(reply)
        np.testing.assert_array_equal(trainable, marked)
        assert transcript(TOKENIZER, sequence).count("!") >= 1


def test_answer_probabilities_match_a_reference_loop():
    policy = model(seed=1)
    contexts = [ids("?!"), ids("?8;<4;>!"), ids("?1;x")]
    answers = [[*ids("5"), TOKENIZER.eos_token_id], ids("12"), ids("3")]
    batched = answer_probabilities(policy, TOKENIZER, contexts, answers, batch_size=2)
    for got, context, answer in zip(batched, contexts, answers, strict=True):
        log_p = 0.0
        for j, token in enumerate(answer):  # one forward pass per answer token
            prefix = torch.tensor([context + answer[:j]])
            with torch.no_grad():
                log_p += float(policy(input_ids=prefix).logits[0, -1].log_softmax(-1)[token])
        assert got == pytest.approx(np.exp(log_p / len(answer)), rel=1e-4)
    with pytest.raises(ConfigurationError):
        answer_probabilities(policy, TOKENIZER, [[]], [ids("1")])


def test_information_gain_turns_read_the_answer_after_each_reply():
    # one guess, then the answer: "?" then "8;" (model) "<!" (environment) "5<eos>" (model)
    game = GuessingGame(low=1, high=15, guesses=1)
    sequence = [*ids("8;<!5"), TOKENIZER.eos_token_id]
    episodes = Episodes([ids("?")], [sequence], [np.array([1, 1, 0, 0, 1, 1], dtype=bool)],
                        [[(0, 2), (4, 6)]], [[4]], [["8", "5"]])  # fmt: skip
    policy = model(seed=2)
    answer = [*ids("5"), TOKENIZER.eos_token_id]
    p = answer_probabilities(policy, TOKENIZER, [ids("?!"), ids("?8;<!")], [answer, answer])
    got = InformationGainTurns()(policy, TOKENIZER, game, episodes, [{"answer": "5"}],
                                 np.array([1.0]))  # fmt: skip
    np.testing.assert_allclose(got, information_gain_rewards(p[:, None], np.array([1.0])).T)
    np.testing.assert_allclose(got[0], [p[1] - p[0], 1.0])
    logs = InformationGainTurns(log_space=True)(policy, TOKENIZER, game, episodes,
                                                [{"answer": "5"}], np.array([0.0]))  # fmt: skip
    np.testing.assert_allclose(logs[0], [np.log(p[1] / p[0]), 0.0])
    with pytest.raises(ConfigurationError, match="answer"):
        InformationGainTurns()(policy, TOKENIZER, game, episodes, [{"prompt": "?"}],
                               np.array([0.0]))  # fmt: skip


def test_progress_turns_fit_increments_that_sum_to_the_outcome():
    torch.manual_seed(0)
    policy = model(seed=3)
    rows = GAME.problems([2, 9]) * 8
    episodes = sample_episodes(policy, TOKENIZER, GAME, rows)
    outcome = np.array([1.0, 0.0] * 8)
    progress = ProgressTurns(feature_dim=32, epochs=200, learning_rate=3e-2)
    first = progress(policy, TOKENIZER, GAME, episodes, rows, outcome)
    assert first.shape == (16, GAME.turns)
    np.testing.assert_array_equal(first[:, -1], outcome)  # the last turn: the outcome
    features = progress.features(policy, TOKENIZER, episodes)
    assert features.shape == (16, GAME.turns, 32)
    for _ in range(5):
        progress(policy, TOKENIZER, GAME, episodes, rows, outcome)
    sums = np.array([progress.estimator.step_rewards(f).sum() for f in features])
    assert progress.last_loss < 0.05
    np.testing.assert_allclose(sums, outcome, atol=0.3)


def test_the_trainer_trains_only_the_models_tokens():
    torch.manual_seed(0)
    config = GRPOConfig(steps=1, prompts_per_step=2, group_size=4, estimator="turn")
    trainer = GRPOTrainer(model(), TOKENIZER, GuessOutcome(), GAME.problems(), config,
                          environment=GAME, turn_rewards=InformationGainTurns())  # fmt: skip
    record = trainer.step(0)
    assert np.isfinite(record["loss"]) and record["completion_length"] > GAME.turns
    episodes = trainer._episodes
    assert episodes is not None and len(episodes.sequences) == 8
    advantages = trainer.estimator(np.zeros(8), np.repeat([0, 1], 4), episodes.sequences, 0, 1,
                                   turn_rewards=np.zeros((8, GAME.turns)),
                                   turn_spans=episodes.turn_spans)  # fmt: skip
    length = max(len(s) for s in episodes.sequences)
    mask = trainer._masks(advantages, episodes.sequences, length).numpy()
    for i, trainable in enumerate(episodes.trainable):
        np.testing.assert_array_equal(mask[i, : len(trainable)], trainable.astype(float))
        assert not mask[i, len(trainable) :].any()


def test_a_turn_estimator_needs_episodes_and_turn_rewards():
    config = GRPOConfig(steps=1, prompts_per_step=1, group_size=2, estimator="turn")
    with pytest.raises(ConfigurationError, match="environment"):
        GRPOTrainer(model(), TOKENIZER, GuessOutcome(), GAME.problems(), config)
    with pytest.raises(ConfigurationError, match="one token"):
        sample_episodes(model(), TOKENIZER, GuessingGame(turn_end=";;"), GAME.problems([1]))


def test_greedy_evaluation_is_deterministic():
    policy, rows = model(seed=4), GAME.problems()
    first = evaluate_episodes(policy, TOKENIZER, GAME, rows, GuessOutcome(), batch_size=4)
    assert first == evaluate_episodes(policy, TOKENIZER, GAME, rows, GuessOutcome())


def test_an_episode_without_an_outcome_gets_no_turn_rewards_and_trains_nothing():
    torch.manual_seed(0)
    policy, rows = model(seed=5), GAME.problems([4, 11]) * 2
    episodes = sample_episodes(policy, TOKENIZER, GAME, rows)
    outcome = np.array([1.0, np.nan, 0.0, 1.0])
    gains = InformationGainTurns()(policy, TOKENIZER, GAME, episodes, rows, outcome)
    assert np.isnan(gains[1]).all() and np.isfinite(gains[[0, 2, 3]]).all()
    progress = ProgressTurns(feature_dim=32, warmup_epochs=0, epochs=1)
    before = [p.detach().clone() for p in progress.estimator.net.parameters()]
    rewards = progress(policy, TOKENIZER, GAME, episodes, rows, np.full(4, np.nan))
    assert np.isnan(rewards).all()  # nothing to fit, nothing fitted
    after = list(progress.estimator.net.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_pppo_does_not_take_an_environment():
    config = GRPOConfig(steps=1, prompts_per_step=1, group_size=2, estimator="pppo")
    with pytest.raises(ConfigurationError, match="PPPO"):
        GRPOTrainer(model(), TOKENIZER, GuessOutcome(), GAME.problems(), config, environment=GAME)
