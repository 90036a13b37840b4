"""Ray: score any term on a pool of actors, and run benchmark suites as Ray tasks.

- :class:`RayScorer`: a term scored in chunks by Ray actors (restarted, and their chunk
  retried, when they die); equal to the term called in this process;
- :func:`run_on_ray`: a suite's independent runs as Ray tasks
  (``rewardkit bench SUITE --ray [ADDRESS]``).

Importing this package needs no Ray; using it needs the ``distributed`` extra.
"""

from rewardkit.distributed.pool import RayScorer, ensure_ray
from rewardkit.distributed.suites import run_on_ray

__all__ = ["RayScorer", "ensure_ray", "run_on_ray"]
