"""Lab tasks of the benchmarks: arithmetic (lab task v2 and reasoning-gym's chain_sum),
a multi-turn guessing game, a deceptive maze, and MiniGrid DoorKey told in text (captions
and the environment's own truth per transition, for the LLM-written rewards of
``rewardkit bench judge``). They belong to the benchmarks, not to the library: a user's
own task plugs into the same trainers and terms."""
