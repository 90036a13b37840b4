"""Audits: reward checks (and, as they land, distances, monitors and probes)."""

from rewardkit.audit.check import CheckReport, check_reward

__all__ = ["CheckReport", "check_reward"]
