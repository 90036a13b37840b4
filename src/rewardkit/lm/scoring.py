"""What a causal LM says about given continuations: per-token log-probs, entropies, hidden states.

The signals a policy emits about text it is shown (not text it samples) come
from one forward pass over ``context ⊕ continuation``. For each continuation
token y_t:

    log π(y_t | c, y_<t)                       (log_probs)
    H_t = −Σ_v π(v | c, y_<t) log π(v | c, y_<t)   (entropies: the model's
                                                  uncertainty before y_t)
    h_t = the hidden state that predicts y_t   (hidden: one layer's output
                                                  at the position before y_t)

at temperature T (logits / T). Contexts are left-padded and continuations
right-padded, with position ids counted from each row's first real token, so
a row scores as it would alone. Rows are scored ``batch_size`` at a time
under ``torch.no_grad``: this is for rewards and monitors, not for the loss.

Example:
    >>> from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2
    >>> tokenizer = build_char_tokenizer("0123456789+=")
    >>> model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2).eval()
    >>> scores = score_continuations(model, [[5, 14], [6]], [[7, 2], [8]], pad=0, hidden_layer=-1)
    >>> [s.log_probs.shape for s in scores], scores[0].hidden.shape
    ([(2,), (1,)], (2, 16))
    >>> alone = score_continuations(model, [[6]], [[8]], pad=0)[0]
    >>> bool(abs(alone.log_probs[0] - scores[1].log_probs[0]) < 1e-5)  # padding changes nothing
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.errors import ConfigurationError
from rewardkit.lm.padding import left_pad, position_ids, right_pad

__all__ = [
    "ContinuationScore",
    "continuation_log_likelihood",
    "picklable",
    "score_continuations",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ContinuationScore:
    """One continuation's per-token signals (length T = its token count).

    Attributes:
        log_probs: (T,) log π(y_t | context, y_<t).
        entropies: (T,) entropy of π(· | context, y_<t), in nats.
        hidden: (T, d) the chosen layer's hidden states that predict each token
            ((T, L, d) for L chosen layers), or None when no layer was asked for.
    """

    log_probs: FloatArray
    entropies: FloatArray
    hidden: FloatArray | None = None

    @property
    def total(self) -> float:
        """Σ_t log π(y_t | ·): the continuation's log-likelihood."""
        return float(self.log_probs.sum())


def score_continuations(
    model: Any,
    contexts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[int]],
    *,
    pad: int,
    temperature: float = 1.0,
    hidden_layer: int | Sequence[int] | None = None,
    batch_size: int = 32,
) -> list[ContinuationScore]:
    """Per-token log-probs, entropies and (optionally) hidden states of each continuation.

    Args:
        model: a Hugging Face causal LM (its mode is left as it is; call ``.eval()``).
        contexts: token ids each continuation follows; each needs at least one token
            (the first continuation token must be predicted from something).
        continuations: the token ids to score, one list per context (may be empty).
        pad: the padding id.
        temperature: the logits are divided by it before the softmax.
        hidden_layer: which of ``output_hidden_states`` to return (0 the embeddings,
            -1 the last layer): one index gives (T, d) per row, a sequence of indices
            (T, L, d); None returns no hidden states.
        batch_size: rows per forward pass.

    Returns:
        one :class:`ContinuationScore` per row, in order.

    Raises:
        ConfigurationError: lengths differ, a context is empty, or the settings are invalid.
    """
    import torch

    if len(contexts) != len(continuations):
        raise ConfigurationError(
            f"{len(contexts)} contexts but {len(continuations)} continuations: give one each"
        )
    if any(len(c) == 0 for c in contexts):
        raise ConfigurationError("every context needs at least one token (a BOS or the prompt)")
    if temperature <= 0 or batch_size < 1:
        raise ConfigurationError("temperature must be > 0 and batch_size >= 1")
    scores: list[ContinuationScore] = []
    with torch.no_grad():
        for start in range(0, len(contexts), batch_size):
            stop = start + batch_size
            scores += _score_batch(
                model, contexts[start:stop], continuations[start:stop], pad, temperature,
                hidden_layer,
            )  # fmt: skip
    return scores


def picklable(model: Any) -> Any:
    """``model``, or a copy without the output-capturing hooks transformers installs on the
    first call with ``output_hidden_states`` (local functions: they do not pickle).

    The copy is marked as having no hooks, so transformers installs them again when
    it next needs them.
    """
    import copy

    def capturing(hook: Any) -> bool:
        return "output_capuring_hook" in getattr(hook, "__qualname__", "")

    modules = list(model.modules()) if hasattr(model, "modules") else []
    if not any(capturing(h) for m in modules for h in m._forward_hooks.values()):
        return model
    clone = copy.deepcopy(model)
    for module in clone.modules():
        for key in [k for k, h in module._forward_hooks.items() if capturing(h)]:
            del module._forward_hooks[key]
        if getattr(module, "_output_capturing_hooks_installed", False):
            module._output_capturing_hooks_installed = False
    return clone


def continuation_log_likelihood(
    model: Any,
    contexts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[int]],
    *,
    pad: int,
) -> Any:
    """Σ_t log π(y_t | context, y_<t) of each row, as a (N,) tensor *with* its gradient
    (the supervised term of a likelihood objective); one forward pass.

    Example:
        >>> import torch
        >>> from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2
        >>> model = build_tiny_gpt2(build_char_tokenizer("ab"), n_layer=1, n_embd=8, n_head=2)
        >>> total = continuation_log_likelihood(model, [[4], [4, 5]], [[5, 4], [4]], pad=0)
        >>> total.shape, total.requires_grad
        (torch.Size([2]), True)
    """
    import torch

    if len(contexts) != len(continuations) or any(len(c) == 0 for c in contexts):
        raise ConfigurationError("one non-empty context per continuation")
    ids, attention, width = _layout(contexts, continuations, pad)
    logits = model(input_ids=ids, attention_mask=attention, position_ids=position_ids(attention))
    log_probs = logits.logits[:, width - 1 : -1].float().log_softmax(-1)
    chosen = log_probs.gather(-1, ids[:, width:].unsqueeze(-1)).squeeze(-1)
    lengths = torch.tensor([len(c) for c in continuations])
    mask = torch.arange(chosen.shape[1])[None, :] < lengths[:, None]
    total: torch.Tensor = (chosen * mask).sum(-1)
    return total


def _layout(
    contexts: Sequence[Sequence[int]], continuations: Sequence[Sequence[int]], pad: int
) -> tuple[Any, Any, int]:
    """(ids, attention, width): contexts left-padded to ``width``, continuations right-padded."""
    import torch

    context_ids, context_mask = left_pad(contexts, pad)
    continuation_ids, continuation_mask = right_pad(continuations, pad)
    ids = torch.cat([context_ids, continuation_ids], dim=1)
    return ids, torch.cat([context_mask, continuation_mask], dim=1), context_ids.shape[1]


def _score_batch(
    model: Any,
    contexts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[int]],
    pad: int,
    temperature: float,
    hidden_layer: int | Sequence[int] | None,
) -> list[ContinuationScore]:
    import torch

    ids, attention, width = _layout(contexts, continuations, pad)
    out = model(
        input_ids=ids,
        attention_mask=attention,
        position_ids=position_ids(attention),
        output_hidden_states=hidden_layer is not None,
    )
    log_probs = (out.logits[:, width - 1 : -1].float() / temperature).log_softmax(-1)
    chosen = log_probs.gather(-1, ids[:, width:].unsqueeze(-1)).squeeze(-1)
    entropy = -(log_probs.exp() * log_probs).sum(-1)
    hidden = None
    if isinstance(hidden_layer, int | np.integer):
        hidden = out.hidden_states[hidden_layer][:, width - 1 : -1].float().numpy()
    elif hidden_layer is not None:
        layers = [out.hidden_states[int(k)][:, width - 1 : -1] for k in hidden_layer]
        hidden = torch.stack(layers, dim=2).float().numpy()
    result = []
    for i, continuation in enumerate(continuations):
        n = len(continuation)
        result.append(
            ContinuationScore(
                chosen[i, :n].double().numpy(),
                entropy[i, :n].double().numpy(),
                None if hidden is None else hidden[i, :n].astype(np.float64),
            )
        )
    return result
