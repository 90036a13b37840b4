"""The reward algebra: batches, outputs, terms, composition, registry, specs."""

from rewardkit.core.batch import Batch, batch_size, from_records, get_column, take, to_records
from rewardkit.core.builtin import action_l2, column, constant, env_reward
from rewardkit.core.compose import Composite, affine, clip, product, weighted_sum
from rewardkit.core.errors import (
    BatchError,
    CompositionError,
    ConfigurationError,
    EmptyGroupWarning,
    MissingColumnError,
    RegistryError,
    RewardCheckError,
    RewardCheckWarning,
    RewardKitError,
    RewardKitWarning,
    ShapeError,
    SpecError,
)
from rewardkit.core.fallback import fallback
from rewardkit.core.gating import conditional, gate, group_switch, tiered
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.registry import REGISTRY, Registry, create, register, registered_names
from rewardkit.core.spec import build_reward, load_spec
from rewardkit.core.term import FunctionTerm, RewardTerm, Term, as_term, term

__all__ = [
    "REGISTRY",
    "Batch",
    "BatchError",
    "Composite",
    "CompositionError",
    "ConfigurationError",
    "EmptyGroupWarning",
    "FunctionTerm",
    "MissingColumnError",
    "Registry",
    "RegistryError",
    "RewardCheckError",
    "RewardCheckWarning",
    "RewardKitError",
    "RewardKitWarning",
    "RewardOutput",
    "RewardTerm",
    "ShapeError",
    "SpecError",
    "Status",
    "Term",
    "action_l2",
    "affine",
    "as_term",
    "batch_size",
    "build_reward",
    "clip",
    "column",
    "conditional",
    "constant",
    "create",
    "env_reward",
    "fallback",
    "from_records",
    "gate",
    "get_column",
    "group_switch",
    "load_spec",
    "product",
    "register",
    "registered_names",
    "take",
    "term",
    "tiered",
    "to_records",
    "weighted_sum",
]
