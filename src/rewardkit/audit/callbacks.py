"""The hacking monitor as a callback in TRL (``TrainerCallback``) and SB3 (``BaseCallback``).

The libraries are imported when a callback is made, never when rewardkit is.

Example (TRL):

.. code-block:: python

    from rewardkit.audit import HackingMonitor, default_monitors
    from rewardkit.audit.callbacks import trl_callback
    monitor = HackingMonitor(default_monitors(gold_key="rewards/heldout/mean"), echo=True)
    trainer = GRPOTrainer(..., callbacks=[trl_callback(monitor)])
    trainer.train()
    print(monitor.alerts)
"""

from __future__ import annotations

from typing import Any

from rewardkit.audit.monitors import HackingMonitor

__all__ = ["sb3_callback", "trl_callback"]


def trl_callback(monitor: HackingMonitor) -> Any:
    """A ``transformers.TrainerCallback`` feeding every log record to ``monitor``."""
    from transformers import TrainerCallback

    class RewardkitMonitorCallback(TrainerCallback):
        def __init__(self) -> None:
            self.monitor = monitor

        def on_log(
            self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any
        ) -> None:
            if logs:
                self.monitor.update({"step": state.global_step, **logs})

    return RewardkitMonitorCallback()


def sb3_callback(monitor: HackingMonitor) -> Any:
    """A ``stable_baselines3`` ``BaseCallback`` feeding the logger's values after each rollout."""
    from stable_baselines3.common.callbacks import BaseCallback

    class RewardkitMonitorCallback(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.monitor = monitor

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            record = dict(self.logger.name_to_value)
            record["step"] = self.num_timesteps
            self.monitor.update(record)

    return RewardkitMonitorCallback()
