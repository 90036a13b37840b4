"""The grounding lab's policy: a small CNN over the image (each frame of a clip) and a
token head that emits binned coordinates, boxes, spans or confidences one token at a time.

Each frame goes through three convolutions (with two coordinate channels); the
instruction tokens set a per-channel scale and shift of the feature map (FiLM). Tokens
are of four kinds:

- *x* / *y*: a bin along an image axis, read off the slot's own score map m_k over the
  feature grid: logits = log Σ over the other axis of exp(m_k), interpolated to the bins.
  Each earlier x or y token j adds a learned bump a_kj · (−½ d²) along its own axis
  around where it pointed; a_kj starts at 1 for the x just before a y (so y looks in the
  column x chose) and at 0 otherwise. In a clip the map is the one of the frame the last
  *t* token chose.
- *t*: a frame of a clip: a per-frame presence score (a 1×1 convolution of the frame's
  features, log-sum-exp pooled) through the slot's own 3-tap temporal filter, so a start
  can be an onset and an end an offset, plus learned bumps around earlier frames; a later
  *t* token cannot come before an earlier one (constrained decoding: every span is one).
- *free*: softmax(W_k (h + Σ_{j<k} E_j[token_j] + L(f))) with h the flattened feature
  map (frame-averaged) through a linear layer and L(f) the feature vector under the last
  (x, y) chosen, when there is one: what the policy sees where it pointed (a box's size,
  a confidence).

This is the inductive bias of spatial soft-argmax policies (Levine et al. 2016):
localisation is a detector, not a memorised mapping. Trained from scratch by
:mod:`rewardkit_bench.grounding_train`.

Example:
    >>> import torch
    >>> policy = GroundingPolicy(3, 64, instruction_sizes=(3, 6), slot_sizes=(32, 32),
    ...                          slot_kinds=("x", "y"))
    >>> images, instructions = torch.zeros(2, 3, 64, 64), torch.zeros(2, 2, dtype=torch.long)
    >>> tokens, logp = policy.sample(images, instructions, 4)
    >>> tokens.shape, logp.shape
    (torch.Size([8, 2]), torch.Size([8]))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["GroundingPolicy"]

KINDS = ("x", "y", "t", "free")


@dataclass
class _State:
    """Per-sample features (rows repeated per sample of a group)."""

    hidden: torch.Tensor  # (M, hidden)
    maps: torch.Tensor  # (M, T, K, g, g)
    frame_scores: torch.Tensor  # (M, T)
    features: torch.Tensor  # (M, T, width, g, g)

    def repeat(self, group: int) -> _State:
        return _State(*(t.repeat_interleave(group, dim=0) for t in
                        (self.hidden, self.maps, self.frame_scores, self.features)))  # fmt: skip


class GroundingPolicy(nn.Module):
    """CNN + FiLM on the instruction + an autoregressive head over ``slot_sizes`` tokens.

    ``channels`` is the channels of one frame times ``frames``.
    """

    def __init__(
        self,
        channels: int,
        size: int,
        instruction_sizes: Sequence[int],
        slot_sizes: Sequence[int],
        slot_kinds: Sequence[str] | None = None,
        frames: int = 1,
        width: int = 32,
        hidden: int = 256,
    ) -> None:
        super().__init__()
        if size % 4:
            raise ValueError(f"the image size must be a multiple of 4, got {size}")
        if frames < 1 or channels % frames:
            raise ValueError(f"channels ({channels}) must be a multiple of frames ({frames})")
        self.slot_sizes = tuple(int(s) for s in slot_sizes)
        self.slot_kinds = tuple(slot_kinds or ("free",) * len(self.slot_sizes))
        if len(self.slot_kinds) != len(self.slot_sizes) or set(self.slot_kinds) - set(KINDS):
            raise ValueError(f"slot_kinds must give one of {KINDS} per slot, got {slot_kinds}")
        spatial = [k for k, kind in enumerate(self.slot_kinds) if kind in ("x", "y")]
        self.map_index = {slot: i for i, slot in enumerate(spatial)}
        self.frames, self.grid = frames, size // 4
        self.conv = nn.Sequential(
            nn.Conv2d(channels // frames + 2, width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
        )  # fmt: skip
        self.instructions = nn.ModuleList(nn.Embedding(n, 2 * width) for n in instruction_sizes)
        self.maps = nn.Conv2d(width, max(1, len(spatial)), 1)
        self.frame_score = nn.Conv2d(width, 1, 1)
        temporal = [k for k, kind in enumerate(self.slot_kinds) if kind == "t"]
        self.time_index = {slot: i for i, slot in enumerate(temporal)}
        self.onsets = nn.Conv1d(1, max(1, len(temporal)), 3, padding=1)
        # a y starts out looking where the x just before it pointed; every other pull is learned
        bumps = torch.zeros(len(self.slot_sizes), len(self.slot_sizes))
        for k in range(1, len(self.slot_kinds)):
            if self.slot_kinds[k - 1 : k + 1] == ("x", "y"):
                bumps[k, k - 1] = 1.0
        self.bumps = nn.Parameter(bumps)
        self.squeeze = nn.Conv2d(width, 8, 1)
        self.trunk = nn.Sequential(nn.Linear(8 * self.grid**2, hidden), nn.ReLU())
        self.local = nn.Linear(width, hidden)
        self.heads = nn.ModuleList(nn.Linear(hidden, n) for n in self.slot_sizes)
        self.token_embeddings = nn.ModuleList(nn.Embedding(n, hidden) for n in self.slot_sizes)
        ramp = torch.linspace(-1, 1, size)
        self.register_buffer("coords", torch.stack(torch.meshgrid(ramp, ramp, indexing="xy")))

    def _features(self, images: torch.Tensor, instructions: torch.Tensor) -> _State:
        batch, frames = images.shape[0], self.frames
        per_frame = images.reshape(batch * frames, -1, *images.shape[2:])
        coords = self.coords.expand(per_frame.shape[0], -1, -1, -1)  # type: ignore[operator]
        x = self.conv(torch.cat([per_frame, coords], dim=1))
        film = sum(e(instructions[:, i]) for i, e in enumerate(self.instructions))
        gamma, beta = torch.as_tensor(film).repeat_interleave(frames, dim=0).chunk(2, dim=1)
        x = torch.relu(x * (1 + gamma[:, :, None, None]) + beta[:, :, None, None])
        grid = x.shape[-1]
        squeezed = self.squeeze(x).reshape(batch, frames, -1).mean(dim=1)
        scores = torch.logsumexp(self.frame_score(x).flatten(1), dim=1).reshape(batch, frames)
        return _State(self.trunk(squeezed), self.maps(x).reshape(batch, frames, -1, grid, grid),
                      scores, x.reshape(batch, frames, -1, grid, grid))  # fmt: skip

    def _position(self, slot: int, token: torch.Tensor) -> torch.Tensor:
        """Where a token lies on the feature grid (x, y) or on the frame axis (t)."""
        cells = self.frames if self.slot_kinds[slot] == "t" else self.grid
        return (token.float() + 0.5) * (cells / self.slot_sizes[slot]) - 0.5

    def _last(self, slot: int, kind: str) -> int | None:
        return next((j for j in range(slot - 1, -1, -1) if self.slot_kinds[j] == kind), None)

    def _frame(self, slot: int, previous: Sequence[torch.Tensor], rows: int) -> torch.Tensor:
        t = self._last(slot, "t")
        if t is None:
            return torch.zeros(rows, dtype=torch.long)
        return self._position(t, previous[t]).round().long().clamp(0, self.frames - 1)

    def _bumped(
        self, score: torch.Tensor, slot: int, previous: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        """Add a_kj · (−½ d²) around each earlier token j along j's axis: a frame for a
        frame score (M, T); an x or a y for a spatial score map (M, g_y, g_x)."""
        temporal = self.slot_kinds[slot] == "t"
        for j in range(slot):
            kind = self.slot_kinds[j]
            if kind == "free" or (kind == "t") != temporal:
                continue
            cells = score.shape[1] if kind in ("y", "t") else score.shape[2]
            axis = torch.arange(cells, dtype=torch.float32)
            distance = axis[None, :] - self._position(j, previous[j])[:, None]
            bump = self.bumps[slot, j] * -0.5 * distance**2
            score = score + (
                bump if temporal else bump[:, None, :] if kind == "x" else bump[:, :, None]
            )
        return score

    def _logits(self, state: _State, slot: int, previous: Sequence[torch.Tensor]) -> torch.Tensor:
        kind, rows = self.slot_kinds[slot], state.hidden.shape[0]
        if kind == "t":
            score = self.onsets(state.frame_scores[:, None, :])[:, self.time_index[slot]]
            score = self._bumped(score, slot, previous)
            earlier = self._last(slot, "t")
            if earlier is not None:  # a span ends no earlier than it starts
                start = self._position(earlier, previous[earlier]).round()
                score = score.masked_fill(torch.arange(self.frames)[None, :] < start[:, None], -1e9)
            return self._to_bins(score, slot)
        frame = self._frame(slot, previous, rows)
        if kind in ("x", "y"):
            score = state.maps[torch.arange(rows), frame, self.map_index[slot]]  # (M, g_y, g_x)
            score = self._bumped(score, slot, previous)
            return self._to_bins(torch.logsumexp(score, dim=1 if kind == "x" else 2), slot)
        h = state.hidden
        for j in range(slot):
            h = h + self.token_embeddings[j](previous[j])
        x_slot, y_slot = self._last(slot, "x"), self._last(slot, "y")
        if x_slot is not None and y_slot is not None:
            x = self._position(x_slot, previous[x_slot]).round().long().clamp(0, self.grid - 1)
            y = self._position(y_slot, previous[y_slot]).round().long().clamp(0, self.grid - 1)
            h = h + self.local(state.features[torch.arange(rows), frame, :, y, x])
        logits: torch.Tensor = self.heads[slot](h)
        return logits

    def _to_bins(self, line: torch.Tensor, slot: int) -> torch.Tensor:
        if line.shape[1] == self.slot_sizes[slot]:
            return line
        return nn.functional.interpolate(line[:, None, :], size=self.slot_sizes[slot],
                                         mode="linear", align_corners=False)[:, 0]  # fmt: skip

    def sample(
        self, images: torch.Tensor, instructions: torch.Tensor, group: int, greedy: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``group`` token sequences per image, (B·group, slots), and their log-probs (B·group,).

        Row i·group + g is sample g of image i.
        """
        state = self._features(images, instructions).repeat(group)
        chosen: list[torch.Tensor] = []
        logp = torch.zeros(state.hidden.shape[0])
        for slot in range(len(self.slot_sizes)):
            dist = torch.distributions.Categorical(logits=self._logits(state, slot, chosen))
            choice = dist.probs.argmax(dim=1) if greedy else dist.sample()
            chosen.append(choice)
            logp = logp + dist.log_prob(choice)
        return torch.stack(chosen, dim=1), logp
