"""verl 0.9: a reward-loop manager that scores a worker's samples together, by group.

verl 0.9's reward loop (``RewardLoopWorker.compute_score_batch``) awaits one
``run_single`` per sample of its chunk, all at once, and its managers call
``compute_score`` per sample without the sample's ``uid``, so a group term
(``grpo_lambda``, a group switch) never sees a group. This manager collects
the samples awaited together (:class:`~rewardkit.core.coalesce.AsyncCoalescer`),
scores them in one call of the :class:`~rewardkit.adapters.verl.VerlReward`
named as the custom reward function, with verl's ``uid`` as the group, and
answers each ``run_single`` as the ``naive`` manager would
(``{"reward_score", "reward_extra_info"}``). Any other ``compute_score`` is
called per sample, as ``naive`` does.

.. code-block:: bash

    python -m verl.trainer.main_ppo ... \\
        reward.custom_reward_function.path=my_reward.py \\
        reward.custom_reward_function.name=compute_score \\
        reward.reward_manager.source=importlib \\
        reward.reward_manager.module.path=pkg://rewardkit.adapters.verl_manager \\
        reward.reward_manager.name=RewardkitRewardManager

verl splits a batch over ``reward.num_workers`` workers in equal chunks: a
group is whole only when the chunks hold whole groups (batch size over
workers a multiple of ``rollout.n``); a group cut in two is scored as two.
Importing this module needs verl.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from typing import Any

from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from rewardkit.adapters.verl import VerlReward
from rewardkit.core.coalesce import AsyncCoalescer

__all__ = ["RewardkitRewardManager"]

Sample = tuple[Any, str, Any, dict[str, Any], Any]


def _find_verl_reward(compute_score: Any) -> VerlReward | None:
    """The VerlReward inside what ``get_custom_reward_fn`` returns (a ``partial`` that
    merges ``reward_kwargs``), or None."""
    seen = compute_score
    while isinstance(seen, functools.partial):
        found = next((a for a in seen.args if isinstance(a, VerlReward)), None)
        if found is not None:
            return found
        seen = seen.func
    return seen if isinstance(seen, VerlReward) else None


async def _awaited(value: Any) -> Any:
    return await value


class RewardkitRewardManager(RewardManagerBase):  # type: ignore[misc]
    """verl 0.9's reward-loop manager for rewardkit rewards: batched, grouped by ``uid``."""

    def __init__(
        self,
        config: Any,
        tokenizer: Any,
        compute_score: Any,
        reward_router_address: Any = None,
        reward_model_tokenizer: Any = None,
    ) -> None:
        super().__init__(config, tokenizer, compute_score)
        del reward_router_address, reward_model_tokenizer  # no reward model here
        self.reward = _find_verl_reward(compute_score)
        self._coalescer: AsyncCoalescer[Sample, dict[str, Any]] = AsyncCoalescer(self._score)

    def _score(self, samples: list[Sample]) -> list[dict[str, Any]]:
        sources, solutions, golds, infos, uids = (list(c) for c in zip(*samples, strict=True))
        if self.reward is not None:
            groups = uids if all(uid is not None for uid in uids) else None
            return self.reward.batch(sources, solutions, golds, infos, groups=groups)
        results = []
        for source, solution, gold, info in zip(sources, solutions, golds, infos, strict=True):
            result = self.compute_score(
                data_source=source, solution_str=solution, ground_truth=gold, extra_info=info
            )
            if inspect.isawaitable(result):  # an async compute_score, awaited in this thread
                result = asyncio.run(_awaited(result))
            results.append(result if isinstance(result, dict) else {"score": result, "acc": result})
        return results

    async def run_single(self, data: Any) -> dict[str, Any]:
        item = data[-1:][0]  # the last sequence of a multi-turn sample, as verl's managers
        response_ids = item.batch["responses"]
        valid_length = item.batch["attention_mask"][-response_ids.shape[-1] :].sum()
        solution = self.tokenizer.decode(response_ids[:valid_length], skip_special_tokens=True)
        extra = item.non_tensor_batch
        info = dict(extra.get("extra_info", None) or {})
        info.update((extra.get("tool_extra_fields", None) or {}).items())
        info["num_turns"] = extra.get("__num_turns__", None)  # as naive.py sets them
        info["rollout_reward_scores"] = extra.get("reward_scores", None) or {}
        sample: Sample = (
            extra["data_source"],
            solution,
            extra["reward_model"]["ground_truth"],
            info,
            extra.get("uid", None),
        )
        result = await self._coalescer(sample)
        score = result["score"]
        return {"reward_score": score, "reward_extra_info": dict(result)}
