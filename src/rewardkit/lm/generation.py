"""Sampling (or greedy decoding) from a causal LM over a batch of token-id prompts.

:func:`generate` left-pads the prompts (:func:`~rewardkit.lm.padding.left_pad`),
repeats each ``repeat`` times (the k samples of a prompt are adjacent rows) and
calls ``model.generate`` once, under ``torch.no_grad`` and in eval mode (the
model's mode is restored after). Sampling is plain ancestral sampling at
``temperature``: no top-k, top-p or repetition penalty, whatever the model's
generation config says, so that the log-probabilities of
:func:`~rewardkit.lm.logprobs.completion_log_probs` at the same temperature are
those of the distribution the tokens came from. ``temperature=None`` decodes
greedily. Randomness comes from torch's global generator; ``seed`` seeds it
first (``torch.manual_seed``).

Example:
    >>> from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2
    >>> tokenizer = build_char_tokenizer("0123456789+=")
    >>> model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2)
    >>> out = generate(model, [[5, 14], [6]], pad=0, eos=2, max_new_tokens=3, repeat=2, seed=0)
    >>> out.ids.shape[0], out.width, out.ids[:, :2].tolist()
    (4, 2, [[5, 14], [5, 14], [0, 6], [0, 6]])
    >>> [len(row) <= 3 for row in out.completions()]
    [True, True, True, True]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rewardkit.core.errors import ConfigurationError
from rewardkit.lm.padding import left_pad

if TYPE_CHECKING:
    import torch

__all__ = ["Generation", "generate"]


@dataclass(frozen=True)
class Generation:
    """What :func:`generate` returns: the prompts (left-padded) and what followed them.

    Attributes:
        ids: (N, W + T) int64, each row its prompt left-padded to W columns, then T
            generated tokens (padded after the row's EOS, while other rows went on).
        prompt_attention: (N, W) int64, 1 on each row's own prompt tokens.
        width: W, the prompts' padded width; the completions start at this column.
    """

    ids: torch.Tensor
    prompt_attention: torch.Tensor
    width: int

    def completions(self) -> list[list[int]]:
        """Each row's generated tokens, as sampled (cut them with
        :func:`~rewardkit.lm.tokens.cut_at_eos`).

        Returns:
            one list of T token ids per row.

        Example:
            >>> import torch
            >>> ids = torch.tensor([[0, 5, 7, 2], [6, 5, 2, 0]])
            >>> Generation(ids, torch.tensor([[0, 1], [1, 1]]), 2).completions()
            [[7, 2], [2, 0]]
        """
        rows: list[list[int]] = self.ids[:, self.width :].tolist()
        return rows

    def attention(self, completion_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The (N, W + T) attention of a forward pass over ``ids``.

        Args:
            completion_mask: (N, T) 0/1 over the completion columns; by default all
                ones (the tokens after a row's EOS are then attended, but only ever
                by later positions, whose log-probabilities a caller masks out).

        Returns:
            the prompt's attention, then ``completion_mask``, as int64.

        Example:
            >>> import torch
            >>> out = Generation(torch.tensor([[0, 5, 7, 2]]), torch.tensor([[0, 1]]), 2)
            >>> out.attention().tolist(), out.attention(torch.tensor([[1, 0]])).tolist()
            ([[0, 1, 1, 1]], [[0, 1, 1, 0]])
        """
        import torch

        if completion_mask is None:
            shape = (self.ids.shape[0], self.ids.shape[1] - self.width)
            completion_mask = torch.ones(shape, dtype=torch.long)
        return torch.cat([self.prompt_attention, completion_mask.long()], dim=1)


def generate(
    model: Any,
    prompts: Sequence[Sequence[int]],
    *,
    pad: int,
    eos: int | Sequence[int],
    max_new_tokens: int,
    temperature: float | None = 1.0,
    repeat: int = 1,
    seed: int | None = None,
) -> Generation:
    """Continue every prompt ``repeat`` times (see the module docs).

    Args:
        model: a Hugging Face causal LM.
        prompts: the prompts' token ids (at least one; lengths may differ).
        pad: the pad id (padding before short prompts, and after a finished row).
        eos: the id that ends a completion, or several (a turn end and the EOS).
        max_new_tokens: tokens generated per row at most.
        temperature: the sampling temperature; ``None`` decodes greedily.
        repeat: rows per prompt; prompt i's rows are i·repeat … i·repeat + repeat − 1.
        seed: seeds torch's global generator first; ``None`` leaves it as it is.

    Returns:
        a :class:`Generation`.

    Raises:
        ConfigurationError: ``max_new_tokens`` or ``repeat`` below 1, a temperature
            that is not positive, or no prompts.

    Example:
        >>> from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2
        >>> tokenizer = build_char_tokenizer("ab")
        >>> model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2)
        >>> first = generate(model, [[4]], pad=0, eos=2, max_new_tokens=4, temperature=None)
        >>> again = generate(model, [[4]], pad=0, eos=2, max_new_tokens=4, temperature=None)
        >>> first.completions() == again.completions()  # greedy: the same every time
        True
    """
    import torch

    if max_new_tokens < 1 or repeat < 1:
        raise ConfigurationError("max_new_tokens and repeat must be at least 1")
    if temperature is not None and not temperature > 0:
        raise ConfigurationError(
            f"temperature must be positive (or None: greedy), got {temperature}"
        )
    ids, attention = left_pad(prompts, pad)
    ids, attention = (
        ids.repeat_interleave(repeat, dim=0),
        attention.repeat_interleave(repeat, dim=0),
    )
    sampling: dict[str, Any] = (
        {"do_sample": False}
        if temperature is None
        else {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0,
              "repetition_penalty": 1.0}
    )  # fmt: skip
    if seed is not None:
        torch.manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            output = model.generate(
                input_ids=ids, attention_mask=attention, max_new_tokens=max_new_tokens,
                pad_token_id=pad, eos_token_id=list(eos) if isinstance(eos, Sequence) else eos,
                **sampling,
            )  # fmt: skip
    finally:
        model.train(was_training)
    return Generation(output, attention, int(ids.shape[1]))
