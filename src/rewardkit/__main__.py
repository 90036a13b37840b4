"""``python -m rewardkit`` runs the command line."""

import sys

from rewardkit.cli import main

sys.exit(main())
