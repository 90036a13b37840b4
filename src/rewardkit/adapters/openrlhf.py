"""OpenRLHF: any rewardkit term as a remote reward function.

OpenRLHF loads a Python file given as ``--remote_rm_url reward.py`` (up to
v0.10.1) or ``--reward.remote_url reward.py`` (v0.10.2 and later) and calls its
module-level ``reward_func(queries, prompts, labels, **kwargs)``: through
``ray.remote(reward_module.reward_func)`` in v0.8-v0.9.0, which needs a real
function, and in a thread with one sample at a time from v0.9.1. ``queries``
are prompt + response, decoded with ``skip_special_tokens=False``, so they
end in the model's EOS token (``</s>``, ``<|im_end|>``, ...). It returns
``{"rewards": ..., "scores": ..., "extra_logs": {...}}``, one value per
sample, as torch tensors.

This module is such a file: point OpenRLHF at it and name the spec in
``REWARDKIT_SPEC``::

    RM_FILE=$(python -c "import rewardkit.adapters.openrlhf as m; print(m.__file__)")
    REWARDKIT_SPEC=math_reward.toml python -m openrlhf.cli.train_ppo_ray ... \\
        --reward.remote_url "$RM_FILE"

or write your own file with ``reward_func = OpenRLHFReward(term).as_function()``.

Before scoring, special tokens are removed from both ends of the response
(the tokenizer's, when given, else a list of the common ones), so a correct
answer followed by ``<eos>`` is not scored as wrong. A query that does not
start with its prompt is not applicable (with a message): scoring the whole
query would score the prompt's own example answers. Samples without a reward
get ``not_applicable_score`` and ``extra_logs["applicable"] = 0``.

Example:
    >>> from rewardkit.verify import exact_match
    >>> reward_func = OpenRLHFReward(exact_match(name="correct")).as_function()
    >>> out = reward_func(["Q: 2+2? A: 4<|im_end|>", "Q: 3+3? A: 7</s>"],
    ...                   ["Q: 2+2? A: ", "Q: 3+3? A: "], ["4", "6"])
    >>> out["rewards"].tolist(), sorted(out["extra_logs"])
    ([1.0, 0.0], ['applicable', 'correct'])
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rewardkit.core.errors import CompositionError
from rewardkit.core.queries import (
    COMMON_SPECIAL_TOKENS,
    mark_unsplit,
    query_batch,
    special_token_list,
    split_response,
)
from rewardkit.core.term import Term, as_term

__all__ = ["COMMON_SPECIAL_TOKENS", "OpenRLHFReward", "reward_func", "split_response"]

SPEC_VARIABLE = "REWARDKIT_SPEC"


class OpenRLHFReward:
    """Wrap a term as OpenRLHF's ``reward_func``.

    The term reads ``completion`` (the response), ``prompt``, ``answer``
    (OpenRLHF's ``labels``) and ``query``.

    Args:
        term: the reward term.
        not_applicable_score: the reward of a sample without one.
        special_tokens: strings removed from responses, or a Hugging Face
            tokenizer (its ``all_special_tokens``). Default:
            :data:`COMMON_SPECIAL_TOKENS`.
    """

    def __init__(
        self,
        term: Term,
        not_applicable_score: float = 0.0,
        special_tokens: Sequence[str] | Any = COMMON_SPECIAL_TOKENS,
    ) -> None:
        self.term = as_term(term)
        self.not_applicable_score = float(not_applicable_score)
        self.special_tokens = special_token_list(special_tokens)
        self.__name__ = self.term.name

    def __call__(
        self,
        queries: Sequence[str],
        prompts: Sequence[str],
        labels: Sequence[Any] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        batch, responses = query_batch(queries, prompts, labels, self.special_tokens)
        out = mark_unsplit(self.term(batch), responses)
        applicable = out.ok
        rewards = np.where(applicable, out.total, self.not_applicable_score)
        extra = dict(out.terms)
        extra["applicable"] = applicable.astype(np.float64)
        return {
            "rewards": _tensor(rewards),
            "scores": _tensor(rewards),
            "extra_logs": {k: _tensor(np.nan_to_num(v, nan=0.0)) for k, v in extra.items()},
        }

    def as_function(self) -> Callable[..., dict[str, Any]]:
        """A plain function doing the same, for ``ray.remote`` (OpenRLHF v0.8-v0.9.0)."""

        def reward_func(
            queries: Sequence[str],
            prompts: Sequence[str],
            labels: Sequence[Any] | None = None,
            **kwargs: Any,
        ) -> dict[str, Any]:
            return self(queries, prompts, labels, **kwargs)

        reward_func.__name__ = reward_func.__qualname__ = "reward_func"
        return reward_func


_loaded: OpenRLHFReward | None = None


def reward_func(
    queries: Sequence[str],
    prompts: Sequence[str],
    labels: Sequence[Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """OpenRLHF's entry point when this file is the remote reward: the reward spec
    named by the ``REWARDKIT_SPEC`` environment variable, loaded on first call."""
    global _loaded
    if _loaded is None:
        path = os.environ.get(SPEC_VARIABLE)
        if not path:
            raise CompositionError(
                f"set {SPEC_VARIABLE} to a reward spec file (TOML/YAML/JSON) to use "
                "rewardkit.adapters.openrlhf as OpenRLHF's remote reward"
            )
        from rewardkit.core.spec import load_spec

        _loaded = OpenRLHFReward(load_spec(path))
    return _loaded(queries, prompts, labels, **kwargs)


def _tensor(values: np.ndarray) -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is an OpenRLHF dependency
        return values.tolist()
    return torch.tensor(values, dtype=torch.float32)
