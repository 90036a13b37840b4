"""Lab tasks of the benchmarks: arithmetic (lab task v2 and reasoning-gym's chain_sum),
a multi-turn guessing game and a deceptive maze. They belong to the benchmarks, not
to the library: a user's own task plugs into the same trainers and terms."""
