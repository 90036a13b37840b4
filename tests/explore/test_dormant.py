"""Dormant ratio on planted dormant layers, hook hygiene, DrM's perturbation and schedules."""

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from rewardkit.core import ConfigurationError, ShapeError
from rewardkit.explore.dormant import (
    awake_exploration_std,
    awaken_step,
    collect_activations,
    dormant_exploration_std,
    dormant_ratio,
    exploitation_weight,
    layer_dormant_ratios,
    network_dormant_ratio,
    perturb_,
    perturb_factor,
    shrink_and_perturb_,
)

# four inputs with E|x_1| = E|x_2| = 2 and E relu(x_1) = E relu(x_2) = 1
X = torch.tensor([[1.0, 2.0], [-1.0, 2.0], [3.0, -2.0], [-3.0, -2.0]])


def planted_net():
    """Linear(2→4) whose units 0 and 1 have zero weights and bias (h = (0, 0, x1, x2)),
    then ReLU, then Linear(4→2) reading units 2 and 3 (outputs relu(x1), relu(x2))."""
    net = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
        net[0].bias.zero_()
        net[2].weight.copy_(torch.tensor([[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]))
        net[2].bias.zero_()
    return net


def _no_hooks(net):
    return all(not m._forward_hooks for m in net.modules())


def test_planted_dormant_units_are_found():
    net = planted_net()
    activations = collect_activations(net, X)
    assert [tuple(a.shape) for a in activations] == [(4, 4), (4, 2)]
    # layer 1: E|h| = (0, 0, 2, 2), mean 1, so s = (0, 0, 2, 2): two of four are dormant
    # layer 2: E|h| = (1, 1), s = (1, 1): none
    assert layer_dormant_ratios(activations, tau=0.025) == [0.5, 0.0]
    assert dormant_ratio(activations, tau=0.025) == pytest.approx(2 / 6)
    assert network_dormant_ratio(net, X, tau=0.025) == pytest.approx(2 / 6)
    assert _no_hooks(net)


def test_after_the_activation():
    # post-ReLU: E relu(h) = (0, 0, 1, 1), mean 0.5: the same two units dormant
    assert network_dormant_ratio(planted_net(), X, layer_types=(nn.ReLU,)) == 0.5


def test_threshold_is_inclusive_and_relative():
    h = torch.tensor([[0.0, 0.5, 1.5, 2.0]])  # s = (0, 0.5, 1.5, 2.0)
    assert layer_dormant_ratios([h], tau=0.0) == [0.25]  # s ≤ 0: only the silent unit
    assert layer_dormant_ratios([h], tau=0.5) == [0.5]  # s = 0.5 counts (≤)
    assert layer_dormant_ratios([100 * h], tau=0.5) == [0.5]  # scale-free
    assert layer_dormant_ratios([torch.zeros(3, 5)], tau=0.0) == [1.0]  # a silent layer


def test_conv_channels_are_neurons():
    conv = nn.Conv2d(1, 4, kernel_size=1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([0.0, 0.0, 1.0, -1.0]).view(4, 1, 1, 1))
        conv.bias.zero_()
    images = torch.randn(3, 1, 5, 5)
    (rows,) = collect_activations(conv, images)
    assert tuple(rows.shape) == (3 * 5 * 5, 4)
    assert network_dormant_ratio(conv, images) == 0.5


def test_matches_the_definition_on_random_layers():
    gen = torch.Generator().manual_seed(0)
    layers = [torch.randn(16, width, generator=gen) for width in (3, 8, 5)]
    layers[1][:, :3] *= 1e-3  # plant three nearly silent units
    tau = 0.1
    dormant = total = 0
    expected_layers = []
    for h in layers:
        mean_abs = [float(h[:, i].abs().mean()) for i in range(h.shape[1])]
        layer_mean = sum(mean_abs) / len(mean_abs)
        flags = [m / layer_mean <= tau for m in mean_abs]
        expected_layers.append(sum(flags) / len(flags))
        dormant += sum(flags)
        total += len(flags)
    assert layer_dormant_ratios(layers, tau) == pytest.approx(expected_layers)
    assert dormant_ratio(layers, tau) == pytest.approx(dormant / total)
    assert expected_layers[1] >= 3 / 8


@pytest.mark.parametrize("tau", [-0.1, 1.0, 2.0, float("nan"), float("inf")])
def test_bad_tau_raises(tau):
    h = [torch.ones(2, 2)]
    for call in (
        lambda: dormant_ratio(h, tau),
        lambda: layer_dormant_ratios(h, tau),
        lambda: network_dormant_ratio(planted_net(), X, tau),
    ):
        with pytest.raises(ConfigurationError, match="tau must be in"):
            call()


def test_bad_shapes_and_layer_types_raise():
    with pytest.raises(ShapeError, match=r"\(N, H\)"):
        dormant_ratio([torch.ones(4)])
    with pytest.raises(ShapeError, match="no activations"):
        dormant_ratio([])
    with pytest.raises(ConfigurationError, match="no layer of the types"):
        collect_activations(nn.ReLU(), X)


def test_non_finite_activations_give_nan():
    h = torch.tensor([[1.0, float("nan")], [1.0, 2.0]])
    assert math.isnan(dormant_ratio([h, torch.ones(2, 2)]))
    ratios = layer_dormant_ratios([h, torch.ones(2, 2)])
    assert math.isnan(ratios[0]) and ratios[1] == 0.0


class Exploding(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(2, 2)
        self.second = nn.Linear(2, 2)

    def forward(self, x):
        self.first(x)
        raise RuntimeError("boom")


def test_hooks_are_removed_even_on_error():
    net = planted_net()
    collect_activations(net, X)
    assert _no_hooks(net)
    with pytest.raises(RuntimeError):
        collect_activations(net, torch.ones(4, 3))  # wrong input width
    assert _no_hooks(net)
    exploding = Exploding()
    with pytest.raises(RuntimeError, match="boom"):
        collect_activations(exploding, X)
    assert _no_hooks(exploding)


def test_inputs_as_a_tuple_and_mode_and_grad_untouched():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(2, 3)

        def forward(self, a, b):
            return self.layer(a + b)

    pair = Pair().eval()
    (rows,) = collect_activations(pair, (X, X))
    assert tuple(rows.shape) == (4, 3) and not rows.requires_grad
    assert not pair.training


def _params(net):
    return [p.detach().clone() for p in net.parameters()]


def test_perturbation_with_alpha_one_keeps_parameters():
    net = planted_net()
    before = _params(net)
    assert perturb_(net, 0.0, max_factor=1.0) == 1.0
    for old, new in zip(before, net.parameters(), strict=True):
        assert torch.equal(old, new)


def test_perturbation_with_alpha_zero_is_the_fresh_init():
    net, fresh = planted_net(), nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    assert perturb_(net, 1.0, min_factor=0.0, fresh=fresh) == 0.0
    for got, want in zip(net.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(got, want)


def test_default_fresh_init_is_the_layers_own_reset():
    net = planted_net()
    reference = copy.deepcopy(net)
    torch.manual_seed(123)
    for layer in reference.modules():
        if isinstance(layer, nn.Linear):
            layer.reset_parameters()
    torch.manual_seed(123)
    shrink_and_perturb_(net, 0.0)
    for got, want in zip(net.parameters(), reference.parameters(), strict=True):
        assert torch.equal(got, want)


def test_perturbation_mixes_by_alpha_and_only_the_chosen_layers():
    net = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3))
    fresh = copy.deepcopy(net)
    for p in fresh.parameters():
        nn.init.normal_(p)
    optimizer = torch.optim.Adam(net.parameters())
    net(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    theta = _params(net)
    assert optimizer.state
    alpha = perturb_(net, 0.3, fresh=fresh, optimizer=optimizer)  # 1 − 2·0.3 = 0.4
    assert alpha == pytest.approx(0.4)
    phi = _params(fresh)
    for k in (0, 1):  # the Linear's weight and bias
        torch.testing.assert_close(list(net.parameters())[k], 0.4 * theta[k] + 0.6 * phi[k])
    for k in (2, 3):  # LayerNorm: untouched
        assert torch.equal(list(net.parameters())[k], theta[k])
    assert not optimizer.state


def test_perturbation_refuses_bad_settings():
    net = planted_net()
    with pytest.raises(ConfigurationError, match="alpha must be in"):
        shrink_and_perturb_(net, 1.5)
    with pytest.raises(ConfigurationError, match="fresh has no Linear"):
        shrink_and_perturb_(net, 0.5, fresh=nn.Sequential(nn.Linear(2, 4)))
    with pytest.raises(ConfigurationError, match="does not match"):
        shrink_and_perturb_(
            net, 0.5, fresh=nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 2))
        )
    with pytest.raises(ConfigurationError, match="NaN"):
        perturb_(net, float("nan"))
    with pytest.raises(ConfigurationError, match="in \\[0, 1\\]"):
        perturb_(net, 1.5)


def test_perturb_factor_schedule():
    assert perturb_factor(0.0) == 0.9  # α_max
    assert perturb_factor(0.1) == pytest.approx(0.8)
    assert perturb_factor(0.25) == pytest.approx(0.5)
    assert perturb_factor(0.5) == 0.2  # α_min
    values = [perturb_factor(b, max_factor=1.0, min_factor=0.0) for b in np.linspace(0, 1, 11)]
    assert values == sorted(values, reverse=True)
    with pytest.raises(ConfigurationError, match="min_factor"):
        perturb_factor(0.1, min_factor=0.9, max_factor=0.5)
    with pytest.raises(ConfigurationError, match="rate"):
        perturb_factor(0.1, rate=-1.0)


def test_awaken_exploration_schedule():
    assert dormant_exploration_std(0.2) == pytest.approx(0.5)  # at the target: one half
    stds = [dormant_exploration_std(b) for b in np.linspace(0, 1, 11)]
    assert stds == sorted(stds)  # more dormant, more noise
    assert math.isnan(dormant_exploration_std(float("nan")))
    assert math.isnan(awake_exploration_std(float("nan"), 10, 0))
    # asleep: σ(β) only, however late
    assert awake_exploration_std(0.0, 10**7, None) == dormant_exploration_std(0.0)
    # awake at 1000: the linear schedule restarts there, floored by σ(β)
    assert awake_exploration_std(0.0, 1000, 1000, duration=100) == 1.0
    assert awake_exploration_std(0.0, 1050, 1000, duration=100) == pytest.approx(0.55)
    assert awake_exploration_std(0.0, 5000, 1000, duration=100) == pytest.approx(
        dormant_exploration_std(0.0)  # 0.119 > final 0.1
    )
    assert awake_exploration_std(0.9, 5000, 1000, duration=100) == dormant_exploration_std(0.9)
    with pytest.raises(ConfigurationError, match="step ≥ awakened_at"):
        awake_exploration_std(0.0, 10, 1000)
    with pytest.raises(ConfigurationError, match="in \\[0, 1\\]"):
        dormant_exploration_std(-0.1)


def test_awaken_step_rule():
    assert awaken_step(0.1, 2000, None) is None  # still warming up
    assert awaken_step(0.3, 5000, None) is None  # still dormant
    assert awaken_step(0.1, 5000, None) == 5000
    assert awaken_step(0.9, 9000, 5000) == 5000  # awake for good


def test_exploitation_weight():
    assert exploitation_weight(0.2, max_weight=0.6) == pytest.approx(0.3)
    weights = [exploitation_weight(b) for b in np.linspace(0, 1, 11)]
    assert weights == sorted(weights, reverse=True)
    assert exploitation_weight(0.0) == pytest.approx(0.6, abs=1e-3)
    assert math.isnan(exploitation_weight(float("nan")))
