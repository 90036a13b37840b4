"""Reward-guided generation: the reward objects that train a policy also steer it.

- :func:`best_of_n`: sample N, keep the best under any term, return every score;
- :func:`smc`: sequential Monte Carlo decoding with Feynman–Kac potentials
  (``difference``, ``max``, ``sum``) built from any term, with the KV cache
  kept across resampling;
- :class:`TermPotential`: a term as the rewards of particles' texts, with the
  ``partial`` convention for terms that can judge prefixes;
- :func:`value_guided`: blockwise value-guided decoding (best of K blocks
  under a value that judges prefixes, e.g. a value head on the policy);
- :mod:`rewardkit.steer.resampling`: ESS and systematic/multinomial/greedy resampling.
"""

from rewardkit.steer.best_of_n import BestOfN, best_of_n, select_best
from rewardkit.steer.potentials import FKState, TermPotential, fk_log_potential
from rewardkit.steer.resampling import (
    effective_sample_size,
    greedy_resample,
    multinomial_resample,
    systematic_resample,
)
from rewardkit.steer.sampling import Samples, sample_completions
from rewardkit.steer.smc import SMCConfig, SMCResult, smc
from rewardkit.steer.value_guided import value_guided

__all__ = [
    "BestOfN",
    "FKState",
    "SMCConfig",
    "SMCResult",
    "Samples",
    "TermPotential",
    "best_of_n",
    "effective_sample_size",
    "fk_log_potential",
    "greedy_resample",
    "multinomial_resample",
    "sample_completions",
    "select_best",
    "smc",
    "systematic_resample",
    "value_guided",
]
