"""BARFI-style blend learning: the math by hand, the hypergradient against finite differences
and a quadratic with a known implicit gradient, bad settings refused, and a chain whose
loitering bonus the outer loop learns to turn down."""

import math

import numpy as np
import pytest
import torch

from rewardkit.core import term
from rewardkit.core.errors import BatchError, ConfigurationError, ShapeError
from rewardkit.shaping.blend import blend_rewards
from rewardkit.train.barfi import (
    BARFIConfig,
    BARFITrainer,
    Trajectories,
    barfi_hypergradient,
    collect_episodes,
    differentiable_returns,
    mlp_policy,
    pg_surrogate,
    tabular_policy,
)

torch.set_num_threads(1)
F64 = torch.float64


class Chain:
    """States 0..L-1, start 0; actions 0 left, 1 right, 2 stay; reaching L-1 pays 1, ends."""

    def __init__(self, length=5, one_hot=False):
        self.length, self.one_hot = length, one_hot

    def _obs(self):
        return np.eye(self.length)[self.s] if self.one_hot else self.s

    def reset(self, seed=None):
        self.s = 0
        return self._obs(), {}

    def step(self, action):
        self.s = max(0, self.s - 1) if action == 0 else self.s + (action == 1)
        done = self.s == self.length - 1
        return self._obs(), float(done), done, False, {}


#: heuristic A agrees with the task (a step towards the goal); B pays for standing still
PROGRESS = term(lambda obs, next_obs: 0.1 * (next_obs > obs), name="progress")
LOITER = term(lambda action: 0.25 * (action == 2), name="loiter")


# ------------------------------------------------------------------------ pure math
def test_discounted_returns_by_hand_and_their_gamma_gradient():
    r = torch.tensor([[1.0, 2.0, 4.0], [3.0, 5.0, 0.0]], dtype=F64)
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    gamma = torch.tensor(0.5, dtype=F64, requires_grad=True)
    g = differentiable_returns(r, mask, gamma)
    torch.testing.assert_close(g, torch.tensor([[3.0, 4.0, 4.0], [3.0, 0.0, 0.0]], dtype=F64))
    (g[0, 0]).backward()  # d/dγ (1 + 2γ + 4γ²) = 2 + 8γ
    assert gamma.grad.item() == pytest.approx(6.0)


def test_pg_surrogate_matches_a_reference_loop_with_leave_one_out_baseline():
    rng = np.random.default_rng(0)
    logp, ret = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    mask = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 1, 1]])
    total = 0.0
    for e in range(4):
        for t in range(3):
            if mask[e, t]:
                others = [ret[j, t] for j in range(4) if j != e and mask[j, t]]
                baseline = sum(others) / len(others) if others else 0.0
                total += logp[e, t] * (ret[e, t] - baseline)
    got = pg_surrogate(*(torch.tensor(x, dtype=F64) for x in (logp, ret, mask)))
    assert got.item() == pytest.approx(total / 4)


def _bandit_case(phi_value):
    """A fixed batch of one-step episodes in a 3-armed bandit and the blend's surrogate."""
    theta = torch.tensor([[0.2, -0.1, 0.0]], dtype=F64, requires_grad=True)
    phi = torch.tensor(phi_value, dtype=F64, requires_grad=True)
    actions = torch.tensor([[0], [1], [2], [2], [0], [1]])
    r_p = torch.tensor([[1.0], [0.0], [0.0], [0.0], [1.0], [0.0]], dtype=F64)
    h = torch.tensor([[1, 0], [0, 0], [0, 1], [0, 1], [1, 0], [0, 0]], dtype=F64)[:, None, :]
    mask = torch.ones(6, 1)
    logp = theta.log_softmax(-1)[0][actions]
    rewards = r_p + (h * phi).sum(-1)
    inner = pg_surrogate(logp, differentiable_returns(rewards, mask, 0.9), mask)
    return theta, phi, inner


PRIMARY = torch.tensor([1.0, 0.0, 0.0], dtype=F64)  # the arms' primary rewards


def _primary_after_one_step(phi_value, alpha):
    """J_p(θ₁) exactly, θ₁ = θ₀ + α ĝ(θ₀, φ) on the fixed batch."""
    theta, _, inner = _bandit_case(phi_value)
    (g,) = torch.autograd.grad(inner, theta)
    theta1 = (theta + alpha * g).detach().requires_grad_()
    value = (theta1.softmax(-1)[0] * PRIMARY).sum()
    return value, theta1


@pytest.mark.parametrize("phi0", [[0.0, 0.0], [1.0, 1.0], [0.5, -2.0]])
def test_one_step_hypergradient_equals_finite_differences(phi0):
    alpha = 0.7
    value, theta1 = _primary_after_one_step(phi0, alpha)
    (g_p,) = torch.autograd.grad(value, theta1)
    theta, phi, inner = _bandit_case(phi0)
    (hyper,) = barfi_hypergradient(inner, [theta], [phi], [g_p], alpha, neumann_terms=1)
    eps = 1e-6
    numeric = []
    for i in range(2):
        up, down = list(phi0), list(phi0)
        up[i] += eps
        down[i] -= eps
        diff = _primary_after_one_step(up, alpha)[0] - _primary_after_one_step(down, alpha)[0]
        numeric.append(diff.item() / (2 * eps))
    np.testing.assert_allclose(hyper.numpy(), numeric, rtol=1e-5, atol=1e-9)
    # the arm the helpful heuristic pays for is the primary one: more weight, more J_p;
    # the loitering heuristic pays for arm 2, worth nothing
    assert hyper[0] > 0 > hyper[1]
    assert np.sign(hyper.numpy()).tolist() == np.sign(numeric).tolist()


def test_neumann_series_converges_to_the_implicit_gradient_of_a_quadratic():
    # L(θ, φ) = −½ θᵀAθ + φᵀBθ: θ*(φ) = A⁻¹Bᵀφ; J_p = cᵀθ, so dJ_p/dφ = B A⁻¹ c
    A = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=F64)
    B = torch.tensor([[1.0, -1.0], [0.5, 2.0], [0.0, 1.0]], dtype=F64)
    c = torch.tensor([1.0, 2.0], dtype=F64)
    theta = torch.tensor([0.3, -0.2], dtype=F64, requires_grad=True)
    phi = torch.tensor([0.1, 0.2, 0.3], dtype=F64, requires_grad=True)

    def inner():
        return -0.5 * theta @ A @ theta + phi @ B @ theta

    exact = B @ torch.linalg.solve(A, c)
    (implicit,) = barfi_hypergradient(inner(), [theta], [phi], [c], 0.3, neumann_terms=300)
    torch.testing.assert_close(implicit, exact)
    (one_step,) = barfi_hypergradient(inner(), [theta], [phi], [c], 0.3, neumann_terms=1)
    torch.testing.assert_close(one_step, 0.3 * B @ c)
    (few,) = barfi_hypergradient(inner(), [theta], [phi], [c], 0.3, neumann_terms=5)
    assert torch.linalg.norm(few - exact) < torch.linalg.norm(one_step - exact)


def test_trainer_hypergradient_for_weights_and_discount_matches_finite_differences():
    """Through one inner step of the trainer's own objective, on a fixed chain batch."""
    cfg = BARFIConfig(updates=1, episodes=4, horizon=6, inner_lr=0.5, inner_gamma=0.8)
    trainer = BARFITrainer(cfg, Chain, tabular_policy(5, 3), [PROGRESS, LOITER])
    traj = trainer.sample()
    theta0 = trainer.policy.params[0].detach().clone()

    def objective(theta):  # any smooth J(θ): the log-probability of "right" everywhere
        return theta.log_softmax(-1)[:, 1].sum()

    def after_step(phi, eta):
        with torch.no_grad():
            trainer.policy.params[0].copy_(theta0)
            trainer.phi.copy_(torch.tensor(phi, dtype=F64))
            trainer.eta.fill_(eta)
        (g,) = torch.autograd.grad(trainer.inner_objective(traj), trainer.policy.params)
        return (theta0 + cfg.inner_lr * g).detach().requires_grad_()

    phi0, eta0 = [1.0, 1.0], math.log(0.8 / 0.2)
    theta1 = after_step(phi0, eta0)
    (g_j,) = torch.autograd.grad(objective(theta1), theta1)
    after_step(phi0, eta0)
    hyper = barfi_hypergradient(
        trainer.inner_objective(traj), trainer.policy.params, [trainer.phi, trainer.eta], [g_j], 0.5
    )
    eps = 1e-6
    numeric = []
    for i in range(3):
        shift = np.eye(3)[i] * eps
        up = objective(after_step(phi0 + shift[:2], eta0 + shift[2])).item()
        down = objective(after_step(phi0 - shift[:2], eta0 - shift[2])).item()
        numeric.append((up - down) / (2 * eps))
    got = [*hyper[0].tolist(), hyper[1].item()]
    np.testing.assert_allclose(got, numeric, rtol=1e-4, atol=1e-8)
    assert np.sign(got).tolist() == np.sign(numeric).tolist()


# ------------------------------------------------------------------------ data
def test_episodes_are_scored_padded_and_blended_like_the_numpy_blend():
    trainer = BARFITrainer(
        BARFIConfig(updates=1, episodes=3, horizon=4), Chain, tabular_policy(5, 3),
        [PROGRESS, LOITER], weights=[2.0, -1.0],
    )  # fmt: skip
    episodes = collect_episodes(trainer.envs, trainer.policy, 4, trainer.generator)
    assert all(len(e["action"]) <= 4 for e in episodes)
    assert all(e["truncated"][-1] or e["terminated"][-1] for e in episodes)
    traj = Trajectories.from_episodes(episodes, trainer.blend, trainer.policy)
    lengths = traj.mask.sum(1).tolist()
    assert lengths == [len(e["action"]) for e in episodes]
    e = 0
    n = lengths[e]
    np.testing.assert_array_equal(traj.actions[e, :n].numpy(), episodes[e]["action"])
    expected = blend_rewards(
        episodes[e]["reward"],
        np.stack([PROGRESS(episodes[e]).total, LOITER(episodes[e]).total], 1),
        [2.0, -1.0],
    )
    torch_blend = traj.primary + (traj.heuristics * trainer.phi.detach()).sum(-1)
    np.testing.assert_allclose(torch_blend[e, :n].numpy(), expected)
    assert torch_blend[traj.mask.logical_not()].abs().sum() == 0


def test_a_nan_heuristic_is_an_error_not_a_silent_zero():
    spotty = term(lambda action: [None] * len(action), name="spotty")
    trainer = BARFITrainer(BARFIConfig(updates=1, episodes=2, horizon=3), Chain,
                           tabular_policy(5, 3), [spotty])  # fmt: skip
    with pytest.raises(BatchError, match="NaN or infinite on a real step"):
        trainer.sample()


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"updates": 0}, "updates must be >= 1"),
        ({"episodes": 1}, "episodes must be >= 2"),
        ({"inner_lr": 0.0}, "inner_lr must be > 0"),
        ({"gamma": 1.5}, "gamma must be <= 1"),
        ({"inner_gamma": 1.0}, "inner_gamma must be < 1"),
        ({"neumann_terms": 0}, "neumann_terms must be >= 1"),
    ],
)
def test_bad_settings_are_refused(settings, match):
    with pytest.raises(ConfigurationError, match=match):
        BARFIConfig(**settings)


def test_bad_arguments_are_refused():
    theta = torch.zeros(2, dtype=F64, requires_grad=True)
    phi = torch.ones(1, dtype=F64, requires_grad=True)
    inner = (theta.log_softmax(0) * phi).sum()
    with pytest.raises(ShapeError, match=r"primary_grad\[0\] must have shape"):
        barfi_hypergradient(inner, [theta], [phi], [torch.zeros(3)], 0.1)
    with pytest.raises(ConfigurationError, match="neumann_terms"):
        barfi_hypergradient(inner, [theta], [phi], [torch.zeros(2)], 0.1, neumann_terms=0)
    with pytest.raises(ConfigurationError, match="step_size"):
        barfi_hypergradient(inner, [theta], [phi], [torch.zeros(2)], -1.0)
    with pytest.raises(ShapeError, match="mask must have shape"):
        differentiable_returns(torch.zeros(2, 3), torch.ones(2, 2), 0.9)
    with pytest.raises(ShapeError, match="logp must have shape"):
        pg_surrogate(torch.zeros(3), torch.zeros(3), torch.ones(3))
    with pytest.raises(ConfigurationError, match="tabular policy"):
        tabular_policy(3, 1)
    with pytest.raises(ConfigurationError, match="MLP policy"):
        mlp_policy(0, 2)


# ------------------------------------------------------------------------ a known answer
def _chain_run(learn, seed, weights=(1.0, 1.0), updates=150):
    cfg = BARFIConfig(
        updates=updates, episodes=16, horizon=12, inner_lr=0.5, outer_lr=0.1,
        gamma=0.99, inner_gamma=0.95, learn_weights=learn, seed=seed,
    )  # fmt: skip
    trainer = BARFITrainer(cfg, Chain, tabular_policy(5, 3), [PROGRESS, LOITER], weights=weights)
    log = trainer.train()
    final = float(np.mean([r["primary_return"] for r in log[-10:]]))
    return final, trainer.blend.named_weights(), log


@pytest.mark.parametrize("seed", [0, 1])
def test_outer_loop_turns_the_loitering_bonus_down_and_beats_the_fixed_blend(seed):
    fixed_return, fixed_weights, _ = _chain_run(False, seed)
    barfi_return, weights, log = _chain_run(True, seed)
    assert fixed_weights == {"progress": 1.0, "loiter": 1.0}
    # with equal weights standing still pays 0.25 a step, more than the goal is worth
    assert fixed_return < 0.2
    assert weights["progress"] - weights["loiter"] > 1.0  # it was 0 at the start
    assert weights["loiter"] < 0.5 < weights["progress"]
    assert barfi_return > 0.9 > fixed_return + 0.5
    assert {"hypergrad/progress", "hypergrad/loiter", "gamma_phi"} <= set(log[-1])


def test_from_zero_weights_the_helpful_heuristic_gains_on_the_loitering_one():
    _, weights, _ = _chain_run(True, seed=2, weights=(0.0, 0.0), updates=60)
    assert weights["progress"] - weights["loiter"] > 0.5


def test_an_mlp_policy_learns_the_chain_with_the_learned_blend():
    cfg = BARFIConfig(updates=60, episodes=8, horizon=12, inner_lr=0.5, outer_lr=0.1, seed=0,
                      inner_steps=2, neumann_terms=3)  # fmt: skip
    progress = term(
        lambda obs, next_obs: 0.1 * (next_obs.argmax(1) > obs.argmax(1)), name="progress"
    )
    trainer = BARFITrainer(cfg, lambda: Chain(one_hot=True), mlp_policy(5, 3, hidden=16),
                           [progress, LOITER])  # fmt: skip
    log = trainer.train()
    assert len(log) == 60 and sum("hypergrad/loiter" in r for r in log) == 30
    weights = trainer.blend.named_weights()
    assert weights["progress"] > weights["loiter"]
