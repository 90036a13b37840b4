import pickle

from rewardkit.adapters.trl import TRLReward
from rewardkit.verify import exact_match


def test_trl_reward_signature_none_and_pickle():
    reward = TRLReward(exact_match(name="correct"))
    assert reward.__name__ == "correct"
    scores = reward(
        prompts=["p1", "p2", "p3"],
        completions=[[{"role": "assistant", "content": "4"}], "5", "6"],
        completion_ids=[[1], [2], [3]],
        answer=["4", "4", None],
        trainer_state=object(),  # TRL passes non-column keywords too
    )
    assert scores == [1.0, 0.0, None]
    clone = pickle.loads(pickle.dumps(reward))
    assert clone(prompts=["p"], completions=["4"], answer=["4"]) == [1.0]
