"""Audits: reward checks, reward distances, hacking monitors and probes."""

from rewardkit.audit.check import CheckReport, check_reward
from rewardkit.audit.distance import (
    EpicEstimate,
    canonicalize_epic_tabular,
    canonicalize_val,
    epic_distance,
    epic_distance_tabular,
    pearson_distance,
    starc_distance,
)
from rewardkit.audit.monitors import (
    Alert,
    Collapse,
    Drift,
    HackingMonitor,
    Monitor,
    ProxyGoldDivergence,
    SustainedAbove,
    TermDominance,
    default_monitors,
)
from rewardkit.audit.probe import MASTER_KEYS, ProbeReport, probe, probe_battery

__all__ = [
    "MASTER_KEYS",
    "Alert",
    "CheckReport",
    "Collapse",
    "Drift",
    "EpicEstimate",
    "HackingMonitor",
    "Monitor",
    "ProbeReport",
    "ProxyGoldDivergence",
    "SustainedAbove",
    "TermDominance",
    "canonicalize_epic_tabular",
    "canonicalize_val",
    "check_reward",
    "default_monitors",
    "epic_distance",
    "epic_distance_tabular",
    "pearson_distance",
    "probe",
    "probe_battery",
    "starc_distance",
]
