"""verifiers 0.4 (v1 tasks): a rewardkit reward and its metrics in a ``vf.Task``.

``v1_reward(term)`` gives an async reward (the term's total, weighted) and its
metrics (each part, and ``<name>_applicable``/``_timeout``/``_error``); put
both in the task class. verifiers calls them with the task's data and the
trace, and sums the rewards into ``trace.reward``.

Run: python examples/integrations/verifiers_task.py
(with ``pip install verifiers==0.4.0``; without it, the same two objects score
a stand-in task and trace, as ``Task.score`` would call them.)
"""

import asyncio
from types import SimpleNamespace

from rewardkit.adapters.verifiers_v1 import v1_reward
from rewardkit.core import weighted_sum
from rewardkit.verify import MathVerifier, ThinkAnswerFormat

reward = weighted_sum([MathVerifier(timeout=5.0, name="correct"), ThinkAnswerFormat()], [1.0, 0.2])
correct, correct_parts = v1_reward(reward)
ROLLOUT = [
    ("user", "What is 2+2?"),
    ("assistant", "<think>2+2</think><answer>4</answer>"),
]

try:
    import verifiers.v1 as vf
except ImportError:
    vf = None

if vf is not None:

    class MathData(vf.TaskData):
        answer: str

    class MathTask(vf.Task[MathData]):
        math_reward = correct
        math_reward_parts = correct_parts

    async def main() -> None:
        task = MathTask(MathData(prompt=ROLLOUT[0][1], answer="4"))
        trace = vf.Trace(
            task=vf.TraceTask(type="MathTask", data=task.data, key=task.key, hash=task.hash),
            agent=vf.AgentInfo(config=vf.AgentConfig(), name="example", trainable=False),
        )
        messages = [
            vf.UserMessage(content=ROLLOUT[0][1]),
            vf.AssistantMessage(content=ROLLOUT[1][1]),
        ]
        for i, message in enumerate(messages):
            node = vf.MessageNode(message=message, parent=i - 1 if i else None, sampled=i > 0)
            trace.nodes.append(node)
        await task.score(trace)
        print("scored by: verifiers", vf.__name__)
        print("reward:", round(trace.reward, 4))
        print("metrics:", trace.metrics)

else:

    async def main() -> None:
        task = SimpleNamespace(prompt=ROLLOUT[0][1], answer="4")
        trace = SimpleNamespace(messages=[{"role": r, "content": c} for r, c in ROLLOUT])
        value = await correct(task=task, trace=trace)
        print("scored by: stand-ins (verifiers 0.4 is not installed)")
        print("reward:", round(value * correct._vf_weight, 4))
        print("metrics:", await correct_parts(task=task, trace=trace))


if __name__ == "__main__":
    asyncio.run(main())
