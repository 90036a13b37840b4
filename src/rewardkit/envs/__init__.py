"""Benchmark environments and task generators."""
