"""Root pytest configuration: keep doctest collection off modules it cannot import."""

import importlib.util

collect_ignore = ["src/rewardkit/__main__.py"]
if importlib.util.find_spec("verl") is None:  # verl's reward manager needs verl itself
    collect_ignore.append("src/rewardkit/adapters/verl_manager.py")
