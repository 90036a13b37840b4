"""BRAIn-style loss: by hand, against a reference loop, its gradient, its fixed point,
a toy categorical policy that it moves to the posterior, and bad input refused."""

import math

import numpy as np
import pytest
import torch

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.train.brain import brain_style_loss, brain_style_targets, snis_weights


def reference_loop(policy, ref, rewards, proposal, scale):
    """Plain-Python α̂, β̂ and loss, one group and one sample at a time."""
    alphas, betas, total = [], [], 0.0
    for g in range(len(policy)):
        w = [
            math.exp(ref[g][i] + scale * rewards[g][i] - proposal[g][i]) for i in range(len(ref[g]))
        ]
        v = [math.exp(policy[g][i] - proposal[g][i]) for i in range(len(ref[g]))]
        alpha = [x / sum(w) for x in w]
        beta = [x / sum(v) for x in v]
        total += -sum((a - b) * lp for a, b, lp in zip(alpha, beta, policy[g], strict=True))
        alphas.append(alpha)
        betas.append(beta)
    return np.array(alphas), np.array(betas), total / len(policy)


def test_one_group_of_two_by_hand():
    half = np.log([[0.5, 0.5]])
    rewards = [[0.0, math.log(3.0)]]
    # w ∝ 0.5·1/0.5 : 0.5·3/0.5 = 1 : 3
    np.testing.assert_allclose(brain_style_targets(half, rewards, half), [[0.25, 0.75]])
    policy = torch.log(torch.tensor([[0.8, 0.2]], dtype=torch.float64)).requires_grad_()
    loss = brain_style_loss(policy, half, rewards, half)
    # β̂ = [0.8, 0.2]; α̂ − β̂ = [−0.55, 0.55]; loss = 0.55·log 0.8 − 0.55·log 0.2 = 0.55·log 4
    assert loss.item() == pytest.approx(0.55 * math.log(4.0))
    loss.backward()
    np.testing.assert_allclose(policy.grad.numpy(), [[0.55, -0.55]])


def test_scale_multiplies_the_reward():
    zeros = [[0.0, 0.0]]
    # s = 2: w ∝ exp(0) : exp(2·log 2) = 1 : 4
    np.testing.assert_allclose(
        brain_style_targets(zeros, [[0.0, math.log(2.0)]], zeros, scale=2.0), [[0.2, 0.8]]
    )
    # s = 0: the target is the reference on the sample
    np.testing.assert_allclose(
        brain_style_targets(zeros, [[5.0, -3.0]], zeros, scale=0.0), [[0.5, 0.5]]
    )


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (3, 5), (6, 2)])
def test_matches_the_reference_loop(seed, shape):
    rng = np.random.default_rng(seed)
    policy = rng.normal(-5.0, 2.0, shape)
    ref = rng.normal(-5.0, 2.0, shape)
    rewards = rng.normal(0.0, 1.0, shape)
    proposal = rng.normal(-5.0, 2.0, shape)
    scale = float(rng.uniform(0.0, 3.0))
    alpha, beta, expected = reference_loop(
        policy.tolist(), ref.tolist(), rewards.tolist(), proposal.tolist(), scale
    )
    np.testing.assert_allclose(
        brain_style_targets(ref, rewards, proposal, scale), alpha, rtol=1e-12
    )
    np.testing.assert_allclose(snis_weights(policy - proposal), beta, rtol=1e-12)
    logp = torch.tensor(policy, requires_grad=True)
    loss = brain_style_loss(logp, ref, rewards, proposal, scale)
    assert loss.item() == pytest.approx(expected, rel=1e-12, abs=1e-12)
    loss.backward()
    # the gradient with respect to each sample's log-prob is (β̂ − α̂)/G
    np.testing.assert_allclose(logp.grad.numpy(), (beta - alpha) / shape[0], atol=1e-14)


def test_autograd_gradient_is_beta_minus_alpha_over_groups():
    # α̂ and β̂ are held fixed, so autograd returns (β̂ − α̂)/G whatever the inputs
    rng = np.random.default_rng(7)
    ref, rewards, proposal = (rng.normal(size=(2, 3)) for _ in range(3))
    logp = torch.tensor(rng.normal(size=(2, 3)), requires_grad=True)
    grad = torch.autograd.grad(brain_style_loss(logp, ref, rewards, proposal), logp)[0]
    alpha = brain_style_targets(ref, rewards, proposal)
    beta = snis_weights(logp.detach().numpy() - proposal)
    np.testing.assert_allclose(grad.numpy(), (beta - alpha) / 2, atol=1e-14)


def test_gradient_is_zero_when_the_policy_is_the_posterior_on_the_sample():
    rng = np.random.default_rng(3)
    ref, rewards, proposal = (rng.normal(-4.0, 1.5, size=(4, 6)) for _ in range(3))
    scale = 0.7
    # log q_θ = log p_ref + s·r + a per-group constant gives β̂ = α̂
    policy = ref + scale * rewards + rng.normal(size=(4, 1)) * 10
    logp = torch.tensor(policy, requires_grad=True)
    brain_style_loss(logp, ref, rewards, proposal, scale).backward()
    np.testing.assert_allclose(logp.grad.numpy(), 0.0, atol=1e-15)


def test_gradient_descent_moves_a_categorical_policy_to_the_posterior():
    p_ref = np.array([0.4, 0.3, 0.2, 0.1])
    rewards = np.array([[0.0, 1.0, 2.0, -1.0]])
    target = p_ref * np.exp(rewards[0])
    target /= target.sum()
    logits = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([logits], lr=1.0)
    outcomes = np.log(np.full((1, 4), 0.25))  # every outcome, drawn from a uniform proposal
    for _ in range(300):
        optimizer.zero_grad()
        policy_logp = torch.log_softmax(logits, dim=0)[None, :]
        brain_style_loss(policy_logp, np.log(p_ref)[None, :], rewards, outcomes).backward()
        optimizer.step()
    final = torch.softmax(logits, dim=0).detach().numpy()
    np.testing.assert_allclose(final, target, atol=1e-2)
    assert not np.allclose(target, 0.25, atol=0.05)  # the target is far from the start


def test_on_policy_samples_move_the_policy_to_the_posterior():
    # the proposal is the current policy, refreshed each step: the fixed point is the posterior
    rng = np.random.default_rng(0)
    p_ref = np.array([0.4, 0.3, 0.2, 0.1])
    r = np.array([0.0, 1.0, 2.0, -1.0])
    target = p_ref * np.exp(r) / (p_ref * np.exp(r)).sum()
    logits = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([logits], lr=0.5)
    for _ in range(400):
        q = torch.softmax(logits, dim=0).detach().numpy()
        y = rng.choice(4, size=(8, 32), p=q)  # 8 prompts, 32 samples each
        optimizer.zero_grad()
        policy_logp = torch.log_softmax(logits, dim=0)[torch.as_tensor(y)]
        brain_style_loss(policy_logp, np.log(p_ref)[y], r[y], np.log(q)[y]).backward()
        optimizer.step()
    final = torch.softmax(logits, dim=0).detach().numpy()
    np.testing.assert_allclose(final, target, atol=1e-2)


def test_snis_weights_handle_minus_inf_and_large_magnitudes():
    w = snis_weights([[-np.inf, 0.0, 0.0], [1000.0, 1000.0, -np.inf]])
    np.testing.assert_allclose(w, [[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]])
    shifted = snis_weights(np.array([[-1200.0, -1201.0, -1199.0]]))
    np.testing.assert_allclose(shifted, snis_weights([[-1.0, -2.0, 0.0]]))
    assert snis_weights([3.0]).tolist() == [1.0]
    assert snis_weights(np.zeros((2, 3, 4))).shape == (2, 3, 4)


def test_inputs_may_be_tensors_and_policy_may_be_float32():
    rng = np.random.default_rng(1)
    ref, rewards, proposal = (torch.tensor(rng.normal(size=(2, 3))) for _ in range(3))
    logp = torch.tensor(rng.normal(size=(2, 3)), dtype=torch.float32, requires_grad=True)
    loss = brain_style_loss(logp, ref, rewards, proposal)
    assert loss.dtype == torch.float32 and loss.shape == ()
    loss.backward()
    assert logp.grad is not None and logp.grad.dtype == torch.float32


@pytest.mark.parametrize(
    "log_weights, match",
    [
        ([[0.0, np.nan]], "finite or -inf"),
        ([[np.inf, 0.0]], "finite or -inf"),
        ([[0.0, 1.0], [-np.inf, -np.inf]], r"every log weight is -inf in group\(s\) \[1\]"),
        (np.zeros((2, 0)), "non-empty last axis"),
        (1.0, "non-empty last axis"),
        ([["a", "b"]], "numeric"),
    ],
)
def test_snis_weights_refuse_bad_input(log_weights, match):
    with pytest.raises(ShapeError, match=match):
        snis_weights(log_weights)


def good(shape=(2, 3)):
    return np.zeros(shape)


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"rewards": good((2, 4))}, ShapeError, r"rewards has shape \(2, 4\)"),
        ({"ref_logp": np.zeros(3)}, ShapeError, r"ref_logp must have shape \(G, n\)"),
        ({"proposal_logp": np.zeros((2, 0))}, ShapeError, "n >= 1"),
        (
            {"rewards": [[0.0, np.nan, 0.0], [0.0] * 3]},
            ShapeError,
            r"rewards must be finite.*\[0, 1\]",
        ),
        (
            {"proposal_logp": [[0.0] * 3, [0.0, 0.0, -np.inf]]},
            ShapeError,
            "proposal_logp must be finite",
        ),
        ({"policy_logp": torch.zeros(2, 4)}, ShapeError, r"policy_logp has shape \(2, 4\)"),
        ({"policy_logp": torch.full((2, 3), np.nan)}, ShapeError, "policy_logp must be finite"),
        ({"policy_logp": np.zeros((2, 3))}, ShapeError, "must be a torch tensor"),
        ({"scale": -1.0}, ConfigurationError, "finite number >= 0"),
        ({"scale": float("nan")}, ConfigurationError, "finite number >= 0"),
        ({"scale": "1"}, ConfigurationError, "finite number >= 0"),
    ],
)
def test_brain_loss_refuses_bad_input(change, error, match):
    args = {
        "policy_logp": torch.zeros(2, 3, requires_grad=True),
        "ref_logp": good(),
        "rewards": good(),
        "proposal_logp": good(),
        "scale": 1.0,
    }
    args.update(change)
    with pytest.raises(error, match=match):
        brain_style_loss(**args)


# ------------------------------------------------------------------ the estimator
def test_brain_estimator_advantages_match_a_reference_loop() -> None:
    from rewardkit.train.brain import BRAInStyleEstimator

    rng = np.random.default_rng(0)
    group = np.repeat(np.arange(3), 4)
    sequences = [[1] * int(n) for n in rng.integers(1, 5, size=12)]
    rewards = rng.normal(size=12)
    old = [rng.normal(-1.0, 0.3, size=len(s)) for s in sequences]
    ref = [rng.normal(-1.0, 0.3, size=len(s)) for s in sequences]
    out = BRAInStyleEstimator(scale=2.0)(
        rewards, group, sequences, 0, 1, token_logprobs=old, reference_logprobs=ref
    )
    for g in range(3):
        rows = np.flatnonzero(group == g)
        log_w = [float(ref[i].sum()) + 2.0 * rewards[i] - float(old[i].sum()) for i in rows]
        w = np.exp(np.array(log_w) - max(log_w))
        alpha = w / w.sum()
        for k, i in enumerate(rows):
            expected = 4 * (alpha[k] - 0.25)
            assert np.allclose(out.values[i], expected) and len(out.values[i]) == len(sequences[i])


def test_brain_estimator_under_token_mean_is_the_brain_gradient() -> None:
    """Samples of different lengths, the trainer's own clipped loss and aggregation, one
    pass: the token-mean loss with these advantages has brain_style_loss's gradient times
    n·G/M (M tokens in all); a sequence mean does not."""
    from types import SimpleNamespace

    from rewardkit.train.brain import BRAInStyleEstimator
    from rewardkit.train.grpo import GRPOTrainer, aggregate

    torch.manual_seed(0)
    groups, n, width, vocabulary = 2, 3, 4, 5
    lengths = [1, 3, 4, 2, 4, 1]
    tokens = torch.randint(0, vocabulary, (groups * n, width))
    mask = torch.zeros(groups * n, width)
    for i, length in enumerate(lengths):
        mask[i, :length] = 1.0
    logits = torch.randn(groups * n, width, vocabulary, dtype=torch.float64, requires_grad=True)

    def token_logprobs() -> torch.Tensor:
        table = torch.log_softmax(logits, dim=-1)
        return table.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)

    old = token_logprobs().detach()
    prior = old + 0.3 * torch.randn_like(old)
    rewards = np.random.default_rng(0).normal(size=groups * n)
    out = BRAInStyleEstimator()(
        rewards, np.repeat(np.arange(groups), n), [[0] * k for k in lengths], 0, 1,
        token_logprobs=[old[i, :k].numpy() for i, k in enumerate(lengths)],
        reference_logprobs=[prior[i, :k].numpy() for i, k in enumerate(lengths)],
    )  # fmt: skip
    trainer = SimpleNamespace(config=SimpleNamespace(clip_epsilon=0.2))

    def loss_gradient(mode: str) -> torch.Tensor:
        per_token = GRPOTrainer._policy_loss(trainer, token_logprobs().float(), old.float(),  # type: ignore[arg-type]
                                             out.values, mask)  # fmt: skip
        (grad,) = torch.autograd.grad(aggregate(per_token, mask, mode, width), logits)
        return grad

    sequence = (token_logprobs() * mask).sum(-1).reshape(groups, n)
    old_sequence = (old * mask).sum(-1).reshape(groups, n).numpy()
    prior_sequence = (prior * mask).sum(-1).reshape(groups, n).numpy()
    loss = brain_style_loss(sequence, prior_sequence, rewards.reshape(groups, n), old_sequence)
    (brain,) = torch.autograd.grad(loss, logits)
    scale = n * groups / mask.sum()
    assert brain.abs().max() > 1e-3
    assert torch.allclose(loss_gradient("token_mean").double(), brain * scale, atol=1e-5)
    mean = loss_gradient("sequence_mean").double().flatten()
    cosine = float(mean @ brain.flatten() / (mean.norm() * brain.norm()))
    assert cosine < 0.99  # not BRAIn's direction at any scale: lengths reweight the samples


def test_brain_estimator_refuses_nan_rewards_and_a_bad_scale() -> None:
    from rewardkit.train.brain import BRAInStyleEstimator

    with pytest.raises(ConfigurationError, match="scale"):
        BRAInStyleEstimator(scale=-1.0)
    with pytest.raises(ShapeError, match="finite reward"):
        BRAInStyleEstimator()([np.nan, 0.0], [0, 0], [[1], [1]], 0, 1,
                              token_logprobs=[[-1.0], [-1.0]],
                              reference_logprobs=[[-1.0], [-1.0]])  # fmt: skip


def test_the_trainer_keeps_a_reference_for_brain_and_passes_its_logprobs() -> None:
    from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
    from rewardkit.train.brain import BRAInStyleEstimator
    from rewardkit.train.grpo import GRPOConfig, GRPOTrainer
    from rewardkit_bench.tasks.arithmetic import ALPHABET

    torch.set_num_threads(1)
    tokenizer = build_char_tokenizer(ALPHABET)
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, n_positions=32, seed=0)
    inner, seen = BRAInStyleEstimator(), {}

    def spy(rewards, group, sequences, step, total, **extras):
        seen[step] = extras
        return inner(rewards, group, sequences, step, total, **extras)

    spy.requires = inner.requires  # type: ignore[attr-defined]
    rows = [{"prompt": "1+1=", "answer": "2"}, {"prompt": "2+2=", "answer": "4"}]
    config = GRPOConfig(steps=2, prompts_per_step=2, group_size=4, max_new_tokens=4)
    from rewardkit.core import RewardTerm

    class Length(RewardTerm):  # rewards that differ within a group, so the policy moves
        def _compute(self, batch):
            return [float(len(c)) for c in batch["completion"]]

    trainer = GRPOTrainer(model, tokenizer, Length("length"), rows, config, estimator=spy)
    assert trainer.reference is not None  # kept although kl_coef is 0
    trainer.train()
    first = seen[0]
    # before any update the policy is the reference: the same log-probs
    for a, b in zip(first["token_logprobs"], first["reference_logprobs"], strict=True):
        assert np.allclose(a, b, atol=1e-5)
    later = zip(seen[1]["token_logprobs"], seen[1]["reference_logprobs"], strict=True)
    moved = any(not np.allclose(a, b, atol=1e-5) for a, b in later)
    assert moved  # after a step the policy has left its reference
