"""LLM-written rewards: loops over the judge client and the code sandbox.

A language model writes reward code (Auto MC-Reward-style), sets a reward
template's parameters (L2R-style parameter filling, after Language to
Rewards), proposes subgoals and judges their achievement (CALM-style
shaping), labels states for a distilled intrinsic reward (ONI-style, a
classification reward model) or writes the latent-factor encoder of a
redistribution (LaRe); each loop checks what the model wrote before anything
trains on it. Each module's docstring says what of its paper is missing.
"""

from rewardkit.author.code_reward import (
    CodeAttempt,
    CodeRewardConfig,
    CodeRewardResult,
    Episode,
    GeneratedReward,
    RewardTask,
    design_reward_code,
    episode_summary,
    separation_auc,
)
from rewardkit.author.labels import (
    LABEL_PROMPT,
    AsyncLabeller,
    DistilledClassifier,
    LabellerStats,
    LabelReward,
    fit_logistic,
    hashed_features,
    logistic_probability,
    read_label,
)
from rewardkit.author.latent_factors import (
    EncoderAttempt,
    EncoderFailedError,
    EncoderResult,
    EncoderTask,
    LatentFactorConfig,
    PrefetchEncoder,
    SandboxedEncoder,
    write_encoder,
)
from rewardkit.author.parameters import (
    AuthoringFailure,
    FilledTemplate,
    Parameter,
    RewardTemplate,
    TemplateReward,
    fill_template,
)
from rewardkit.author.subgoals import (
    ACHIEVED_PROMPT,
    SUBGOALS_PROMPT,
    Judgment,
    SubgoalBonus,
    Subgoals,
    judge_achievements,
    parse_subgoals,
    propose_subgoals,
    transition_caption,
)

__all__ = [
    "ACHIEVED_PROMPT",
    "LABEL_PROMPT",
    "SUBGOALS_PROMPT",
    "AsyncLabeller",
    "AuthoringFailure",
    "CodeAttempt",
    "CodeRewardConfig",
    "CodeRewardResult",
    "DistilledClassifier",
    "EncoderAttempt",
    "EncoderFailedError",
    "EncoderResult",
    "EncoderTask",
    "Episode",
    "FilledTemplate",
    "GeneratedReward",
    "Judgment",
    "LabelReward",
    "LabellerStats",
    "LatentFactorConfig",
    "Parameter",
    "PrefetchEncoder",
    "RewardTask",
    "RewardTemplate",
    "SandboxedEncoder",
    "SubgoalBonus",
    "Subgoals",
    "TemplateReward",
    "design_reward_code",
    "episode_summary",
    "fill_template",
    "fit_logistic",
    "hashed_features",
    "judge_achievements",
    "logistic_probability",
    "parse_subgoals",
    "propose_subgoals",
    "read_label",
    "separation_auc",
    "transition_caption",
    "write_encoder",
]
