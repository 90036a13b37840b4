"""RLFR's flow reward: how far the policy's latents stray from a flow fitted on good answers.

"RLFR: Extending Reinforcement Learning for LLMs with Flow Environment"
(arXiv:2510.10201; the settings below are from its project page and code). A
velocity field v_φ(x, t, cond, layer) is fitted by flow matching on the hidden
states a of good completions, at layers at 25/50/75 % of the depth, each
token conditioned on the previous token's state:

    x_t = t·a + (1 − t)·ε,   ε ~ N(0, I),   t = sigmoid(u), u ~ N(0, 1)
    L(φ) = E ‖v_φ(x_t, t) − (a − ε)‖²                         (mean over dimensions)

A token's deviation is that error at a fixed t (0.8), debiased by t/(1 − t)
and averaged over the layers. Within each sequence the deviations are min-max
normalized to r̂; the tokens with r̂ > η (0.6), at most the top k (15), get the
process reward r_k = −β·r̂_k (β = 0.01); the others 0. The flow is refitted on
the correct rollouts as training goes (:meth:`FlowReward.update`). The
paper's advantage adds the reward-to-go Σ_{s≥k} r_s to the outcome's GRPO
advantage; :meth:`FlowReward.token_rewards` gives the r_k for it.

Here the field is an MLP of AdaLN residual blocks (width = the model's hidden
size, ``depth`` blocks), and the latents are standardized per layer with the
fit data's mean and std (a CPU-scale choice; the paper does not say).

Example:
    >>> flow_token_rewards(np.array([0.0, 1.0, 0.5, 0.9]), threshold=0.6, top_k=1, beta=0.01)
    array([ 0.  , -0.01,  0.  ,  0.  ])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.term import Term
from rewardkit.lm.tokens import encode
from rewardkit.signals._policy import PolicySignalTerm

__all__ = ["FlowReward", "flow_token_rewards", "layer_indices"]

FloatArray = npt.NDArray[np.float64]


def layer_indices(n_layers: int, fractions: Sequence[float]) -> tuple[int, ...]:
    """Indices into ``output_hidden_states`` (0 the embeddings) at fractions of the depth.

    Example:
        >>> layer_indices(30, (0.25, 0.5, 0.75))
        (8, 15, 22)
    """
    if any(not 0.0 < f <= 1.0 for f in fractions) or not fractions:
        raise ConfigurationError(f"layer fractions must lie in (0, 1], got {tuple(fractions)}")
    return tuple(max(1, min(n_layers, round(f * n_layers))) for f in fractions)


def flow_token_rewards(
    deviation: Any, threshold: float = 0.6, top_k: int = 15, beta: float = 0.01
) -> FloatArray:
    """Per-token rewards of one sequence from its deviations: −β·r̂ on the kept tokens.

    r̂ is min-max normalized within the sequence (all 0 when it is constant); kept
    are the tokens with r̂ > ``threshold``, at most the ``top_k`` largest.
    """
    d = np.asarray(deviation, dtype=np.float64)
    out = np.zeros_like(d)
    if d.size == 0:
        return out
    span = float(d.max() - d.min())
    normed = (d - d.min()) / span if span > 0 else np.zeros_like(d)
    order = np.argsort(-normed, kind="stable")[:top_k]
    kept = order[normed[order] > threshold]
    out[kept] = -beta * normed[kept]
    return out


def _velocity_field(dim: int, width: int, depth: int, n_layers: int) -> Any:
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(width, elementwise_affine=False)
            self.modulation = nn.Linear(width, 3 * width)
            self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
            nn.init.zeros_(self.modulation.weight)
            nn.init.zeros_(self.modulation.bias)

        def forward(self, x: Any, c: Any) -> Any:
            shift, scale, gate = self.modulation(c).chunk(3, dim=-1)
            return x + (1 + gate) * self.mlp(self.norm(x) * (1 + scale) + shift)

    class VelocityField(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inputs = nn.Linear(2 * dim, width)
            self.time = nn.Sequential(nn.Linear(16, width), nn.SiLU(), nn.Linear(width, width))
            self.layer = nn.Embedding(n_layers, width)
            self.blocks = nn.ModuleList([Block() for _ in range(depth)])
            self.out = nn.Linear(width, dim)

        def forward(self, x: Any, cond: Any, t: Any, layer: Any) -> Any:
            freqs = torch.exp(torch.arange(8, dtype=x.dtype) * -1.0)
            angles = t[:, None] * freqs[None, :] * 100.0
            embedding = torch.cat([angles.sin(), angles.cos()], dim=-1)
            c = self.time(embedding) + self.layer(layer)
            h = self.inputs(torch.cat([x, cond], dim=-1))
            for block in self.blocks:
                h = block(h, c)
            return self.out(h)

    return VelocityField()


class FlowReward(PolicySignalTerm):
    """RLFR's process reward from a flow field over the policy's hidden states.

    Args:
        model: the policy.
        tokenizer: its tokenizer.
        layers: depth fractions of the hidden states read (the paper: 0.25, 0.5, 0.75).
        t: the timestep of the reward (the paper: 0.8).
        threshold: η, the normalized deviation a token needs to be rewarded (0.6).
        top_k: at most this many tokens a sequence are rewarded (15).
        beta: β, the reward scale (0.01).
        depth: residual blocks of the velocity field.
        seed: seed of the field's initialization and of the reward's noise.
        correct: the term that picks the rollouts :meth:`update` refits on (else
            the batch's ``correct`` column).
        refit_steps: flow-matching steps of each refit (0: :meth:`update` does not refit).
        max_tokens: longer rows are not applicable (default: the model's limit).
        batch_size: rows per forward pass.
        name: the term's name; its parts are the total process reward and
            ``flow_deviation`` (the mean raw deviation, higher = stranger).

    Fit it first (:meth:`fit`) on good completions; an unfitted field raises.
    """

    columns = ("prompt", "completion")

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        layers: Sequence[float] = (0.25, 0.5, 0.75),
        t: float = 0.8,
        threshold: float = 0.6,
        top_k: int = 15,
        beta: float = 0.01,
        depth: int = 4,
        seed: int = 0,
        correct: Term | None = None,
        refit_steps: int = 50,
        max_tokens: int | None = None,
        batch_size: int = 16,
        name: str = "flow",
    ) -> None:
        super().__init__(model, tokenizer, name, max_tokens, batch_size)
        if not 0.0 < t < 1.0 or top_k < 1 or depth < 1:
            raise ConfigurationError("need 0 < t < 1, top_k >= 1 and depth >= 1")
        config = model.config
        n_layers = int(getattr(config, "num_hidden_layers", None) or config.n_layer)
        self.layers = layer_indices(n_layers, layers)
        self.t, self.threshold, self.top_k, self.beta = t, threshold, top_k, beta
        self.seed, self.correct, self.refit_steps = seed, correct, refit_steps
        dim = int(getattr(config, "hidden_size", None) or config.n_embd)
        import torch

        self._shape = (dim, dim, depth, len(self.layers))
        with torch.random.fork_rng():  # seeds the field, leaves the caller's generator alone
            torch.manual_seed(seed)
            self.field = _velocity_field(*self._shape)
        self.mean: FloatArray | None = None
        self.std: FloatArray | None = None
        self.fitted_steps = 0

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["field"] = self.field.state_dict()  # the field's class is built at run time
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        weights = state.pop("field")
        self.__dict__.update(state)
        self.field = _velocity_field(*self._shape)
        self.field.load_state_dict(weights)
        self.field.eval()

    # ------------------------------------------------------------ latents
    def latents(self, batch: Batch) -> list[FloatArray | None]:
        """Per row, (T + 1, L, d) hidden states: the prompt's last token's, then each
        completion token's (None where a row does not fit)."""
        prompts, completions = get_column(batch, "prompt"), self.texts(batch)
        contexts = [self.prompt_ids(p) for p in prompts]
        eos = self.tokenizer.eos_token_id
        continuations = [[*encode(self.tokenizer, c), eos] for c in completions]
        scored = self.score(contexts, continuations, hidden_layer=self.layers)
        return [None if s is None else s.hidden for s in scored]

    def _pairs(self, latents: Sequence[FloatArray]) -> tuple[Any, Any, Any]:
        """(x, cond, layer) tensors over every token and layer, standardized."""
        import torch

        assert self.mean is not None and self.std is not None
        xs, conds, ids = [], [], []
        for h in latents:
            z = (h - self.mean) / self.std
            for j in range(z.shape[1]):
                xs.append(z[1:, j])
                conds.append(z[:-1, j])
                ids.append(np.full(z.shape[0] - 1, j))
        x = torch.as_tensor(np.concatenate(xs), dtype=torch.float32)
        cond = torch.as_tensor(np.concatenate(conds), dtype=torch.float32)
        return x, cond, torch.as_tensor(np.concatenate(ids), dtype=torch.long)

    # ------------------------------------------------------------ fitting
    def fit(
        self, batch: Batch, steps: int = 500, learning_rate: float = 1e-4, batch_tokens: int = 256
    ) -> dict[str, float]:
        """Fit the field by flow matching on the completions of ``batch`` (good ones)."""
        import torch

        found = [h for h in self.latents(batch) if h is not None and h.shape[0] > 1]
        if not found:
            raise ConfigurationError("fit needs at least one completion that fits max_tokens")
        if self.mean is None:
            stacked = np.concatenate(found, axis=0)
            self.mean, self.std = stacked.mean(axis=0), stacked.std(axis=0) + 1e-6
        x, cond, layer = self._pairs(found)
        generator = torch.Generator().manual_seed(self.seed + self.fitted_steps)
        optimizer = torch.optim.AdamW(self.field.parameters(), lr=learning_rate)
        self.field.train()
        losses = []
        for _ in range(steps):
            pick = torch.randint(
                0, x.shape[0], (min(batch_tokens, x.shape[0]),), generator=generator
            )
            a, c, k = x[pick], cond[pick], layer[pick]
            t = torch.sigmoid(torch.randn(a.shape[0], generator=generator))
            noise = torch.randn(a.shape, generator=generator)
            x_t = t[:, None] * a + (1 - t[:, None]) * noise
            loss = ((self.field(x_t, c, t, k) - (a - noise)) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        self.field.eval()
        self.fitted_steps += steps
        return {"flow_loss": float(np.mean(losses[-max(1, steps // 10) :]))}

    def deviations(self, batch: Batch) -> list[FloatArray | None]:
        """Per row, each completion token's deviation (T,) (None where it does not fit)."""
        import torch

        if self.mean is None:
            raise ConfigurationError(f"{self.name}: fit() the flow on good completions first")
        out: list[FloatArray | None] = []
        generator = torch.Generator().manual_seed(self.seed)
        for h in self.latents(batch):
            if h is None:
                out.append(None)
                continue
            x, cond, layer = self._pairs([h])
            noise = torch.randn(x.shape, generator=generator)
            t = torch.full((x.shape[0],), self.t)
            with torch.no_grad():
                error = ((self.field(self.t * x + (1 - self.t) * noise, cond, t, layer)
                          - (x - noise)) ** 2).mean(-1)  # fmt: skip
            per_layer = error.numpy().astype(np.float64).reshape(len(self.layers), -1)
            out.append(per_layer.mean(0) * self.t / (1 - self.t))
        return out

    def token_rewards(self, batch: Batch) -> list[FloatArray | None]:
        """Per row, the process rewards r_k of the completion's tokens."""
        return [
            None if d is None else flow_token_rewards(d, self.threshold, self.top_k, self.beta)
            for d in self.deviations(batch)
        ]

    def _compute(self, batch: Batch) -> RewardOutput:
        deviations = self.deviations(batch)
        n = len(deviations)
        total, raw = np.full(n, np.nan), np.full(n, np.nan)
        status = np.full(n, Status.OK, dtype=np.int8)
        messages: list[str | None] = [None] * n
        for i, d in enumerate(deviations):
            if d is None:
                status[i], messages[i] = Status.NOT_APPLICABLE, self.too_long(i)
                continue
            if d.size == 0:
                status[i], messages[i] = Status.NOT_APPLICABLE, "empty completion"
                continue
            total[i] = flow_token_rewards(d, self.threshold, self.top_k, self.beta).sum()
            raw[i] = d.mean()
        terms = {self.name: total, "flow_deviation": raw}
        return RewardOutput(total, terms, status, tuple(messages))

    def update(self, batch: Batch) -> Mapping[str, float]:
        """Refit on the batch's correct rollouts, as RLFR does online (``refit_steps``).

        Correct: ``correct`` (the term) scores above 0.5, else the ``correct`` column does.

        Raises:
            ConfigurationError: neither says which rollouts are correct.
        """
        if self.refit_steps == 0:
            return {}
        if self.correct is not None:
            verdict = self.correct(batch).total
        elif "correct" in batch:
            verdict = np.asarray(get_column(batch, "correct"), dtype=np.float64)
        else:
            raise ConfigurationError(
                f"{self.name}.update refits on correct rollouts: give FlowReward(correct=...) "
                "or a 'correct' column, or refit_steps=0 to keep the flow fixed"
            )
        right = np.nan_to_num(verdict, nan=0.0) > 0.5
        if not right.any():
            return {"flow_refit_rows": 0.0}
        rows = {k: [v[i] for i in np.flatnonzero(right)] for k, v in batch.items()
                if k in ("prompt", "completion")}  # fmt: skip
        metrics = self.fit(rows, steps=self.refit_steps)
        return {**metrics, "flow_refit_rows": float(right.sum())}
