"""Log-probabilities of sampled completions, read at the sampling temperature.

For a batch laid out as :func:`~rewardkit.lm.generation.generate` returns it
(prompts left-padded to ``width`` columns, then the completions),
:func:`completion_log_probs` runs one forward pass and returns, for every
completion position t,

    log π_T(y_t | x, y_<t) = log softmax(logits_t / T)[y_t],

with the position ids counted from each row's first real token
(:func:`~rewardkit.lm.padding.position_ids`), as ``generate`` counted them: a
left-padded row then gets the log-probabilities it would get alone. The caller
masks the positions after each completion's EOS (and decides about
``torch.no_grad``: the trainer needs the gradient).

Example:
    >>> import torch
    >>> from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2
    >>> tokenizer = build_char_tokenizer("0123456789+=")
    >>> model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2).eval()
    >>> ids = torch.tensor([[0, 5, 14, 6, 2], [5, 5, 14, 7, 2]])  # "1+" and "11+" then 2 tokens
    >>> attention = torch.tensor([[0, 1, 1, 1, 1], [1, 1, 1, 1, 1]])
    >>> with torch.no_grad():
    ...     chosen, log_probs = completion_log_probs(model, ids, attention, width=3)
    ...     alone, _ = completion_log_probs(model, ids[:1, 1:], attention[:1, 1:], width=2)
    >>> tuple(chosen.shape), tuple(log_probs.shape)
    ((2, 2), (2, 2, 16))
    >>> bool(torch.allclose(chosen[0], alone[0], atol=1e-6))  # padding changes nothing
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rewardkit.lm.padding import position_ids

if TYPE_CHECKING:
    import torch

__all__ = ["completion_log_probs"]


def completion_log_probs(
    model: Any,
    ids: torch.Tensor,
    attention: torch.Tensor,
    width: int,
    temperature: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities of each completion token and of the whole vocabulary.

    Args:
        model: a Hugging Face causal LM.
        ids: (N, W + T) token ids: prompts left-padded to ``width`` columns, then the
            completions.
        attention: (N, W + T) 0/1 attention mask (0 on the prompts' padding; a
            completion's padding may be 0 or 1).
        width: W, where the completions start.
        temperature: the logits are divided by it before the softmax (the sampling
            temperature, so the probabilities are those the tokens were drawn from).

    Returns:
        ``(chosen, log_probs)``: (N, T) log π_T of each completion token, and the
        (N, T, V) log π_T over the vocabulary at each completion position.

    Example:
        >>> import torch
        >>> from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2
        >>> model = build_tiny_gpt2(build_char_tokenizer("ab"), n_layer=1, n_embd=8, n_head=2)
        >>> ids = torch.tensor([[4, 5, 4]])
        >>> with torch.no_grad():
        ...     chosen, _ = completion_log_probs(model.eval(), ids, torch.ones_like(ids), 1)
        >>> tuple(chosen.shape), bool((chosen < 0).all())
        ((1, 2), True)
    """
    positions = position_ids(attention)
    logits = model(input_ids=ids, attention_mask=attention, position_ids=positions).logits
    log_probs: torch.Tensor = (logits[:, width - 1 : -1] / temperature).log_softmax(-1)
    chosen: torch.Tensor = log_probs.gather(-1, ids[:, width:].unsqueeze(-1)).squeeze(-1)
    return chosen, log_probs
