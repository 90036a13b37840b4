"""Dormant neurons, and DrM's dormant-ratio-guided exploration (torch).

A neuron is **τ-dormant** (Sokar et al. 2023, "The Dormant Neuron Phenomenon in
Deep Reinforcement Learning") when its mean absolute activation on a batch is a
small share of its layer's average:

    s_i^ℓ = E_x|h_i^ℓ(x)| / ((1/H^ℓ) Σ_k E_x|h_k^ℓ(x)|)  ≤  τ

and the **dormant ratio** β_τ is the share of dormant neurons over all the layers
considered. DrM (Xu et al. 2024, "DrM: Mastering Visual Reinforcement Learning
through Dormant Ratio Minimization") finds that a visual RL agent that sits still
early in training has a high dormant ratio in its policy, and uses the ratio of
the actor (τ = 0.025) to drive three mechanisms, each a pure function here:

* **perturbation** (:func:`perturb_factor`, :func:`perturb_`): every fixed number
  of steps, shrink and perturb the weights, θ ← α θ + (1 − α) φ with φ a fresh
  initialization and α = clip(1 − k β, α_min, α_max): the more dormant the
  network, the larger the reset;
* **awaken exploration** (:func:`dormant_exploration_std`,
  :func:`awake_exploration_std`, :func:`awaken_step`): the action-noise std is
  σ(β) = 1 / (1 + exp(−k′(β − β̂))) until the ratio first falls below its target
  β̂ (the agent "awakens"); after that it is the larger of σ(β) and the usual
  linear decay, restarted at the awakening step;
* **exploitation** (:func:`exploitation_weight`): the weight
  λ(β) = λ̂ / (1 + exp(k″(β − β̂))) that DrM gives a value learned by expectile
  regression against the critic's Q.

The defaults are those of the authors' code (``agents/drm.py``, ``cfgs/``): τ =
0.025, k = 2, α_min = 0.2, β̂ = 0.2, k′ = 10, k″ = 50; α_max (0.6 to 1.0) and λ̂
(0.5 to 0.6) vary by task there. That code measures the outputs of the
``nn.Linear`` layers (before the activation), as :func:`collect_activations` does
by default; pass ``layer_types=(nn.ReLU,)`` to measure after it.

Example:
    >>> import torch
    >>> h = torch.tensor([[0.0, 1.0, 3.0], [0.0, -1.0, 1.0]])  # E|h| = (0, 1, 2), mean 1
    >>> dormant_ratio([h], tau=0.025)
    0.3333333333333333
    >>> round(perturb_factor(0.3), 2), round(dormant_exploration_std(0.2), 2)
    (0.4, 0.5)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rewardkit.core.errors import ConfigurationError, ShapeError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "awake_exploration_std",
    "awaken_step",
    "collect_activations",
    "dormant_exploration_std",
    "dormant_ratio",
    "exploitation_weight",
    "layer_dormant_ratios",
    "network_dormant_ratio",
    "perturb_",
    "perturb_factor",
    "shrink_and_perturb_",
]


def _tau(tau: float) -> float:
    value = float(tau)
    if not (math.isfinite(value) and 0.0 <= value < 1.0):
        raise ConfigurationError(
            f"tau must be in [0, 1), got {tau!r}: a neuron is dormant when its share of the "
            "layer's mean activation is at most tau (DrM uses 0.025; 0 counts only silent ones)"
        )
    return value


def _ratio(ratio: float, what: str = "ratio") -> float:
    value = float(ratio)
    if not (math.isnan(value) or 0.0 <= value <= 1.0):
        raise ConfigurationError(f"{what} is a share of neurons, in [0, 1]; got {ratio!r}")
    return value


def _dormant_count(h: torch.Tensor, tau: float) -> tuple[float, int]:
    """(dormant neurons, neurons) of one layer's (N, H) activations; NaN count if non-finite."""
    if h.ndim != 2 or h.shape[0] == 0 or h.shape[1] == 0:
        raise ShapeError(
            f"activations must have shape (N, H) (samples, neurons), got {tuple(h.shape)} "
            "(collect_activations gives this shape)"
        )
    a = h.detach().abs().double()
    if not bool(a.isfinite().all()):
        return math.nan, int(h.shape[1])
    mean = a.mean(dim=0)  # E_x |h_i(x)|, shape (H,)
    # s_i ≤ τ, written without the division so that a silent layer counts as dormant
    dormant = int((mean <= tau * mean.mean()).sum())
    return float(dormant), int(h.shape[1])


def layer_dormant_ratios(activations: Sequence[torch.Tensor], tau: float = 0.025) -> list[float]:
    """The τ-dormant share of each layer: |{i : s_i^ℓ ≤ τ}| / H^ℓ (Sokar et al. 2023).

    Args:
        activations: one (N, H) tensor per layer: N samples, H neurons.
        tau: the dormancy threshold τ ∈ [0, 1).

    A layer with a NaN or infinite activation has ratio NaN (not applicable).

    Example:
        >>> import torch
        >>> layer_dormant_ratios([torch.tensor([[0.0, 2.0]]), torch.ones(3, 4)])
        [0.5, 0.0]
    """
    threshold = _tau(tau)
    ratios = []
    for h in activations:
        dormant, neurons = _dormant_count(h, threshold)
        ratios.append(dormant / neurons)
    return ratios


def dormant_ratio(activations: Sequence[torch.Tensor], tau: float = 0.025) -> float:
    """β_τ = Σ_ℓ |{i : s_i^ℓ ≤ τ}| / Σ_ℓ H^ℓ: the share of τ-dormant neurons (DrM's metric).

    Args:
        activations: one (N, H) tensor per layer: N samples, H neurons.
        tau: the dormancy threshold τ ∈ [0, 1).

    NaN if a layer's activations are not finite.

    Example:
        >>> import torch
        >>> dormant_ratio([torch.tensor([[0.0, 2.0]]), torch.ones(3, 4)])
        0.16666666666666666
    """
    threshold = _tau(tau)
    if not activations:
        raise ShapeError("no activations: pass one (N, H) tensor per layer")
    counts = [_dormant_count(h, threshold) for h in activations]
    return sum(d for d, _ in counts) / sum(n for _, n in counts)


def _layer_types(layer_types: tuple[type[nn.Module], ...] | None) -> tuple[type[nn.Module], ...]:
    from torch import nn

    return (nn.Linear, nn.Conv2d) if layer_types is None else tuple(layer_types)


def _as_rows(output: Any, layer: nn.Module, name: str, neuron_dim: int | None) -> torch.Tensor:
    import torch
    from torch import nn

    if not isinstance(output, torch.Tensor):
        raise ConfigurationError(
            f"layer {name!r} ({type(layer).__name__}) returned {type(output).__name__}, not a "
            "tensor; leave it out of layer_types"
        )
    out = output.detach()
    if out.ndim < 2:
        raise ShapeError(f"layer {name!r} gave shape {tuple(out.shape)}; expected a batch axis")
    dim = neuron_dim if neuron_dim is not None else (-1 if isinstance(layer, nn.Linear) else 1)
    return out.movedim(dim, -1).reshape(-1, out.shape[dim])


def collect_activations(
    module: nn.Module,
    inputs: torch.Tensor | Sequence[torch.Tensor],
    layer_types: tuple[type[nn.Module], ...] | None = None,
    *,
    neuron_dim: int | None = None,
) -> list[torch.Tensor]:
    """The outputs of every layer of the given types on one forward pass, as (N, H) rows.

    Forward hooks record each matching submodule's output (in registration order; a
    layer called twice gives two entries); they are removed afterwards, also when
    the forward pass raises. The pass runs under ``torch.no_grad()`` and leaves the
    module's train/eval mode as it is.

    Args:
        module: the network (DrM: the actor).
        inputs: one tensor, or a sequence passed as ``module(*inputs)``.
        layer_types: the layers to record; default ``(nn.Linear, nn.Conv2d)``.
        neuron_dim: the output axis that indexes neurons; default the last axis for
            ``nn.Linear`` (features) and axis 1 for anything else (conv channels),
            the other axes being samples (batch, positions, pixels).

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
        >>> [tuple(h.shape) for h in collect_activations(net, torch.zeros(5, 3))]
        [(5, 4), (5, 2)]
    """
    import torch

    types = _layer_types(layer_types)
    recorded: list[torch.Tensor] = []
    handles = []
    try:
        for name, layer in module.named_modules():
            if isinstance(layer, types):

                def hook(mod: Any, args: Any, out: Any, _name: str = name) -> None:
                    recorded.append(_as_rows(out, mod, _name, neuron_dim))

                handles.append(layer.register_forward_hook(hook))
        if not handles:
            names = [t.__name__ for t in types]
            raise ConfigurationError(f"the module has no layer of the types {names}")
        with torch.no_grad():
            if isinstance(inputs, list | tuple):
                module(*inputs)
            else:
                module(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return recorded


def network_dormant_ratio(
    module: nn.Module,
    inputs: torch.Tensor | Sequence[torch.Tensor],
    tau: float = 0.025,
    layer_types: tuple[type[nn.Module], ...] | None = None,
) -> float:
    """β_τ of ``module`` on the batch ``inputs`` (:func:`collect_activations`, then
    :func:`dormant_ratio`).

    Example:
        >>> import torch
        >>> net = torch.nn.Linear(2, 2)
        >>> with torch.no_grad():
        ...     _ = net.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0]])), net.bias.zero_()
        >>> network_dormant_ratio(net, torch.ones(4, 2))
        0.5
    """
    _tau(tau)
    return dormant_ratio(collect_activations(module, inputs, layer_types), tau)


def perturb_factor(
    ratio: float, rate: float = 2.0, min_factor: float = 0.2, max_factor: float = 0.9
) -> float:
    """DrM's shrink factor α = clip(1 − k β, α_min, α_max) (Xu et al. 2024).

    Args:
        ratio: the dormant ratio β ∈ [0, 1].
        rate: k ≥ 0, the perturb rate (2 in DrM).
        min_factor: α_min (0.2 in DrM): the largest reset keeps this share of θ.
        max_factor: α_max (0.6 to 1.0 by task in DrM): even an awake network is
            perturbed by 1 − α_max.

    Example:
        >>> perturb_factor(0.0), perturb_factor(0.25), perturb_factor(0.9)
        (0.9, 0.5, 0.2)
    """
    beta = _ratio(ratio)
    if not (math.isfinite(rate) and rate >= 0):
        raise ConfigurationError(f"rate must be finite and ≥ 0, got {rate!r}")
    if not (0.0 <= min_factor <= max_factor <= 1.0):
        raise ConfigurationError(
            f"need 0 ≤ min_factor ≤ max_factor ≤ 1, got {min_factor!r} and {max_factor!r}"
        )
    if math.isnan(beta):
        raise ConfigurationError(
            "the dormant ratio is NaN (non-finite activations): not perturbing"
        )
    return min(max(1.0 - rate * beta, min_factor), max_factor)


def _fresh_copy(module: nn.Module, types: tuple[type[nn.Module], ...]) -> nn.Module:
    fresh = copy.deepcopy(module)
    for layer in fresh.modules():
        reset = getattr(layer, "reset_parameters", None)
        if isinstance(layer, types) and callable(reset):
            reset()
    return fresh


def shrink_and_perturb_(
    module: nn.Module,
    alpha: float,
    *,
    fresh: nn.Module | None = None,
    layer_types: tuple[type[nn.Module], ...] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> None:
    """θ ← α θ + (1 − α) φ, in place, for the parameters of the chosen layers.

    Shrink and perturb (Ash & Adams 2020) toward a fresh initialization φ, as DrM
    applies it. Other parameters are left alone.

    Args:
        module: the network to perturb.
        alpha: α ∈ [0, 1]; 1 keeps θ, 0 replaces it by φ.
        fresh: a network of the same architecture holding φ; default a copy of
            ``module`` whose chosen layers are re-initialized by their own
            ``reset_parameters()`` (DrM re-initializes with orthogonal weights:
            pass such a network to match it).
        layer_types: the layers perturbed; default ``(nn.Linear,)``, as DrM.
        optimizer: if given, its state (moments) is cleared, as DrM does.

    Example:
        >>> import torch
        >>> net, zero = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
        >>> with torch.no_grad():
        ...     _ = net.weight.fill_(4.0), zero.weight.zero_(), zero.bias.zero_()
        >>> shrink_and_perturb_(net, 0.25, fresh=zero)
        >>> net.weight.item()
        1.0
    """
    import torch
    from torch import nn

    a = float(alpha)
    if not (0.0 <= a <= 1.0):
        raise ConfigurationError(f"alpha must be in [0, 1], got {alpha!r}")
    types = (nn.Linear,) if layer_types is None else tuple(layer_types)
    phi = _fresh_copy(module, types) if fresh is None else fresh
    fresh_layers = dict(phi.named_modules())
    with torch.no_grad():
        for name, layer in module.named_modules():
            if not isinstance(layer, types):
                continue
            other = fresh_layers.get(name)
            if other is None or type(other) is not type(layer):
                raise ConfigurationError(f"fresh has no {type(layer).__name__} at {name!r}")
            fresh_params = dict(other.named_parameters(recurse=False))
            for key, theta in layer.named_parameters(recurse=False):
                new = fresh_params.get(key)
                if new is None or new.shape != theta.shape:
                    raise ConfigurationError(f"fresh's {name}.{key} does not match the module's")
                theta.mul_(a).add_(new.to(theta.device, theta.dtype), alpha=1.0 - a)
    if optimizer is not None:
        optimizer.state.clear()


def perturb_(
    module: nn.Module,
    ratio: float,
    *,
    rate: float = 2.0,
    min_factor: float = 0.2,
    max_factor: float = 0.9,
    fresh: nn.Module | None = None,
    layer_types: tuple[type[nn.Module], ...] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> float:
    """DrM's dormant-ratio-guided perturbation: α = :func:`perturb_factor` (β), then
    :func:`shrink_and_perturb_` with it. Returns α, for logging.

    DrM calls it every fixed number of updates (10⁵ or 2·10⁵ steps), on the actor,
    the critics, the encoder and the value network, with the actor's ratio.

    Example:
        >>> import torch
        >>> net = torch.nn.Linear(2, 2)
        >>> before = net.weight.clone()
        >>> perturb_(net, 0.0, max_factor=1.0)  # an awake network with α_max = 1: kept
        1.0
        >>> bool(torch.equal(net.weight, before))
        True
    """
    alpha = perturb_factor(ratio, rate, min_factor, max_factor)
    shrink_and_perturb_(module, alpha, fresh=fresh, layer_types=layer_types, optimizer=optimizer)
    return alpha


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def dormant_exploration_std(
    ratio: float, *, target_ratio: float = 0.2, temperature: float = 10.0
) -> float:
    """σ(β) = 1 / (1 + exp(−k′(β − β̂))): DrM's action-noise std before awakening.

    A dormant network (β above its target β̂) explores with std above 1/2. NaN if
    the ratio is NaN.

    Example:
        >>> round(dormant_exploration_std(0.0), 3), round(dormant_exploration_std(0.6), 3)
        (0.119, 0.982)
    """
    beta = _ratio(ratio)
    _ratio(target_ratio, "target_ratio")
    return math.nan if math.isnan(beta) else _sigmoid(temperature * (beta - target_ratio))


def awaken_step(
    ratio: float,
    step: int,
    awakened_at: int | None,
    *,
    target_ratio: float = 0.2,
    warmup_steps: int = 2000,
) -> int | None:
    """The step the agent awakened at: the first step past the warm-up whose dormant
    ratio is below its target (DrM), or None while it sleeps.

    Example:
        >>> awaken_step(0.1, 1000, None), awaken_step(0.1, 5000, None), awaken_step(0.9, 7000, 5000)
        (None, 5000, 5000)
    """
    if awakened_at is not None:
        return awakened_at
    beta = _ratio(ratio)
    return step if step > warmup_steps and beta < target_ratio else None


def awake_exploration_std(
    ratio: float,
    step: int,
    awakened_at: int | None,
    *,
    init_std: float = 1.0,
    final_std: float = 0.1,
    duration: int = 500_000,
    target_ratio: float = 0.2,
    temperature: float = 10.0,
) -> float:
    """DrM's awaken exploration: σ(β) before awakening, then max(σ(β), σ_lin(t − t_awake)).

    σ_lin decays linearly from ``init_std`` to ``final_std`` over ``duration`` steps
    (DrQ-v2's schedule, restarted at the awakening step t_awake; see
    :func:`awaken_step`); σ(β) is :func:`dormant_exploration_std`. NaN if the
    ratio is NaN.

    Example:
        >>> awake_exploration_std(0.0, 100, None) == dormant_exploration_std(0.0)
        True
        >>> awake_exploration_std(0.0, 250_000, 0)  # halfway down from 1.0 to 0.1
        0.55
    """
    sigma = dormant_exploration_std(ratio, target_ratio=target_ratio, temperature=temperature)
    if awakened_at is None or math.isnan(sigma):
        return sigma
    if step < awakened_at or duration <= 0:
        raise ConfigurationError(
            f"need step ≥ awakened_at and duration > 0, got {step}, {awakened_at}, {duration}"
        )
    mix = min((step - awakened_at) / duration, 1.0)
    return max(sigma, (1.0 - mix) * init_std + mix * final_std)


def exploitation_weight(
    ratio: float, *, max_weight: float = 0.6, target_ratio: float = 0.2, temperature: float = 50.0
) -> float:
    """λ(β) = λ̂ / (1 + exp(k″(β − β̂))): DrM's weight on the expectile value target.

    Low while the network is dormant (explore), up to λ̂ once it is awake
    (exploit). NaN if the ratio is NaN.

    Example:
        >>> round(exploitation_weight(0.2), 2), round(exploitation_weight(0.0), 3)
        (0.3, 0.6)
    """
    beta = _ratio(ratio)
    if math.isnan(beta):
        return math.nan
    return max_weight * _sigmoid(-temperature * (beta - target_ratio))
