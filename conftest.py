"""Root pytest configuration: keep doctest collection off entry-point modules."""

collect_ignore = ["src/rewardkit/__main__.py"]
