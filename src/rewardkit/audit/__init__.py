"""Audits: reward checks, reward distances, hacking monitors, probes and judge audits."""

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
from rewardkit.audit.judge import (
    AgreementReport,
    PositionBiasReport,
    SelfConsistencyReport,
    position_bias,
    self_consistency,
    verifier_agreement,
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
    "AgreementReport",
    "Alert",
    "CheckReport",
    "Collapse",
    "Drift",
    "EpicEstimate",
    "HackingMonitor",
    "Monitor",
    "PositionBiasReport",
    "ProbeReport",
    "ProxyGoldDivergence",
    "SelfConsistencyReport",
    "SustainedAbove",
    "TermDominance",
    "canonicalize_epic_tabular",
    "canonicalize_val",
    "check_reward",
    "default_monitors",
    "epic_distance",
    "epic_distance_tabular",
    "pearson_distance",
    "position_bias",
    "probe",
    "probe_battery",
    "self_consistency",
    "starc_distance",
    "verifier_agreement",
]
