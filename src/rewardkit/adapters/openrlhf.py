"""OpenRLHF: any rewardkit term as a remote reward function.

OpenRLHF's ``--remote_rm_url`` accepts a Python file defining
``reward_func(queries, prompts, labels, **kwargs)``. ``queries`` are the full
prompt + response texts; the response is the part after the prompt. It
returns ``{"rewards": ..., "scores": ..., "extra_logs": {...}}`` with one
value per sample, as torch tensors.

.. code-block:: python

    # reward.py, passed as --remote_rm_url reward.py
    from rewardkit.adapters.openrlhf import OpenRLHFReward
    from rewardkit.core import load_spec
    reward_func = OpenRLHFReward(load_spec("math_reward.toml"))

Samples without a reward get ``not_applicable_score`` and
``extra_logs["applicable"] = 0``.

Example:
    >>> from rewardkit.verify import exact_match
    >>> reward_func = OpenRLHFReward(exact_match(name="correct"))
    >>> out = reward_func(queries=["Q: 2+2? A: 4", "Q: 3+3? A: 7"],
    ...                   prompts=["Q: 2+2? A: ", "Q: 3+3? A: "], labels=["4", "6"])
    >>> out["rewards"].tolist(), sorted(out["extra_logs"])
    ([1.0, 0.0], ['applicable', 'correct'])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardkit.core.term import Term, as_term

__all__ = ["OpenRLHFReward", "split_response"]


def split_response(query: str, prompt: str) -> str:
    """The response part of an OpenRLHF query (the text after the prompt).

    Example:
        >>> split_response("Q: hi A: hello", "Q: hi A: ")
        'hello'
    """
    return query[len(prompt) :] if query.startswith(prompt) else query


class OpenRLHFReward:
    """Wrap a term as OpenRLHF's ``reward_func``.

    The term reads ``completion`` (the response), ``prompt``, ``answer``
    (OpenRLHF's ``labels``) and ``query``.
    """

    def __init__(self, term: Term, not_applicable_score: float = 0.0) -> None:
        self.term = as_term(term)
        self.not_applicable_score = float(not_applicable_score)
        self.__name__ = self.term.name

    def __call__(
        self, queries: list[str], prompts: list[str], labels: list[Any] | None = None, **_: Any
    ) -> dict[str, Any]:
        n = len(queries)
        batch = {
            "query": list(queries),
            "prompt": list(prompts),
            "completion": [split_response(q, p) for q, p in zip(queries, prompts, strict=True)],
            "answer": list(labels) if labels is not None else [None] * n,
        }
        out = self.term(batch)
        applicable = out.ok
        rewards = np.where(applicable, out.total, self.not_applicable_score)
        extra = {name: values for name, values in out.terms.items()}
        extra["applicable"] = applicable.astype(np.float64)
        return {
            "rewards": _tensor(rewards),
            "scores": _tensor(rewards),
            "extra_logs": {k: _tensor(np.nan_to_num(v, nan=0.0)) for k, v in extra.items()},
        }


def _tensor(values: np.ndarray) -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is an OpenRLHF dependency
        return values.tolist()
    return torch.tensor(values, dtype=torch.float32)
