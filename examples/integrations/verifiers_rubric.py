"""verifiers (prime-rl): a rewardkit reward as a Rubric, and a verifiers reward as a term.

With ``verifiers<0.4`` installed, ``to_rubric(reward)`` is a ``vf.Rubric`` for
``vf.SingleTurnEnv(..., rubric=...)``. Without it, ``rubric_functions`` gives
the same functions and weights; this example scores one rollout with them as
the Rubric would.

Run: python examples/integrations/verifiers_rubric.py
"""

from rewardkit.adapters.verifiers import from_verifiers, rubric_functions
from rewardkit.core import weighted_sum
from rewardkit.verify import MathVerifier, ThinkAnswerFormat

reward = weighted_sum([MathVerifier(timeout=5.0, name="correct"), ThinkAnswerFormat()], [1.0, 0.2])
funcs, weights = rubric_functions(reward)
state = {"prompt": "2+2?", "completion": "<think>2+2</think><answer>4</answer>", "answer": "4"}
metrics = {f.__name__: f(prompt=state["prompt"], completion=state["completion"],
                         answer=state["answer"], state=state, info={}) for f in funcs}  # fmt: skip
print("reward:", sum(metrics[f.__name__] * w for f, w in zip(funcs, weights, strict=True)))
print("metrics:", metrics)


def contains_answer(completion, answer) -> float:  # a verifiers reward function
    return float(answer in completion)


term = from_verifiers(contains_answer)
print("as a term:", term({"completion": ["it is 4", "it is 5"], "answer": ["4", "4"]}).total)
