"""Audits: reward checks, reward distances, hacking monitors, probes and judge audits."""

from rewardkit.audit.boundary import BoundaryShrink, SustainedBelow, exploration_monitors
from rewardkit.audit.bstar import (
    BStarCallback,
    BStarController,
    SampledGroups,
    balance_score,
    policy_sampler,
    trl_bstar_callback,
)
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
from rewardkit.audit.exploration import (
    distinct_ratio,
    exploration_record,
    pass_at_k,
    pass_at_k_curve,
    reward_discriminability,
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
from rewardkit.audit.training_log import read_training_log, rolling_mean, rolling_share

__all__ = [
    "MASTER_KEYS",
    "AgreementReport",
    "Alert",
    "BStarCallback",
    "BStarController",
    "BoundaryShrink",
    "CheckReport",
    "Collapse",
    "Drift",
    "EpicEstimate",
    "HackingMonitor",
    "Monitor",
    "PositionBiasReport",
    "ProbeReport",
    "ProxyGoldDivergence",
    "SampledGroups",
    "SelfConsistencyReport",
    "SustainedAbove",
    "SustainedBelow",
    "TermDominance",
    "balance_score",
    "canonicalize_epic_tabular",
    "canonicalize_val",
    "check_reward",
    "default_monitors",
    "distinct_ratio",
    "epic_distance",
    "epic_distance_tabular",
    "exploration_monitors",
    "exploration_record",
    "pass_at_k",
    "pass_at_k_curve",
    "pearson_distance",
    "policy_sampler",
    "position_bias",
    "probe",
    "probe_battery",
    "read_training_log",
    "reward_discriminability",
    "rolling_mean",
    "rolling_share",
    "self_consistency",
    "starc_distance",
    "trl_bstar_callback",
    "verifier_agreement",
]
