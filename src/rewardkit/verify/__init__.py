"""Verifiable rewards for language models.

Answer extraction and math equivalence (with a sympy fallback in killable
worker processes), strict format, length and efficiency rewards, graded
grounding rewards (clicks, boxes, salience, layouts, time spans, masks), partial
and difficulty-aware detail credit and calibration. Code execution lives in
:mod:`rewardkit.verify.code`.
"""

from rewardkit.verify.click_confidence import (
    TruncatedGaussianClick,
    click_in_box,
    confidence_alignment,
    screen_hit_probability,
    truncated_gaussian_confidence,
)
from rewardkit.verify.detail import (
    DifficultyAwareDetail,
    StageSchedule,
    curriculum_order,
    detail_reward,
    difficulty_aware_reward,
    difficulty_weight,
)
from rewardkit.verify.efficiency import (
    RepetitionPenalty,
    ToolCallCost,
    efficiency_on_correct,
    repetition_ratio,
)
from rewardkit.verify.extract import extract_answer_tag, extract_boxed, extract_gsm8k
from rewardkit.verify.format import ThinkAnswerFormat, strict_format_ok
from rewardkit.verify.grounding import (
    BoxIoU,
    BoxSize,
    GaussianCoverage,
    GaussianPoint,
    box_iou,
    box_size_reward,
    gaussian_coverage_reward,
    gaussian_point_reward,
)
from rewardkit.verify.layout import (
    LayoutMetric,
    SpatialAnswer,
    layout_match_reward,
    mean_relative_accuracy,
    parse_layout,
)
from rewardkit.verify.length import CosineLength, DapoOverlong, LengthLinear, grpo_lambda
from rewardkit.verify.masks import JAndF, contour_accuracy, j_and_f, region_similarity
from rewardkit.verify.math import MathVerifier, Verdict, verify_math, verify_math_batch
from rewardkit.verify.math_policy import MathPolicy
from rewardkit.verify.mathparse import Outcome
from rewardkit.verify.partial import BrierCalibration, PartialCredit, partial_credit
from rewardkit.verify.salience import SalienceIoU, salience_weighted_iou
from rewardkit.verify.text import ExactMatch, RegexMatch, completion_text, exact_match, regex_match
from rewardkit.verify.video import (
    STVGo1Reward,
    TemporalConsistency,
    TemporalIoU,
    stvg_spatial_reward,
    temporal_iou,
)

length_linear = LengthLinear

__all__ = [
    "BoxIoU",
    "BoxSize",
    "BrierCalibration",
    "CosineLength",
    "DapoOverlong",
    "DifficultyAwareDetail",
    "ExactMatch",
    "GaussianCoverage",
    "GaussianPoint",
    "JAndF",
    "LayoutMetric",
    "LengthLinear",
    "MathPolicy",
    "MathVerifier",
    "Outcome",
    "PartialCredit",
    "RegexMatch",
    "RepetitionPenalty",
    "STVGo1Reward",
    "SalienceIoU",
    "SpatialAnswer",
    "StageSchedule",
    "TemporalConsistency",
    "TemporalIoU",
    "ThinkAnswerFormat",
    "ToolCallCost",
    "TruncatedGaussianClick",
    "Verdict",
    "box_iou",
    "box_size_reward",
    "click_in_box",
    "completion_text",
    "confidence_alignment",
    "contour_accuracy",
    "curriculum_order",
    "detail_reward",
    "difficulty_aware_reward",
    "difficulty_weight",
    "efficiency_on_correct",
    "exact_match",
    "extract_answer_tag",
    "extract_boxed",
    "extract_gsm8k",
    "gaussian_coverage_reward",
    "gaussian_point_reward",
    "grpo_lambda",
    "j_and_f",
    "layout_match_reward",
    "length_linear",
    "mean_relative_accuracy",
    "parse_layout",
    "partial_credit",
    "regex_match",
    "region_similarity",
    "repetition_ratio",
    "salience_weighted_iou",
    "screen_hit_probability",
    "strict_format_ok",
    "stvg_spatial_reward",
    "temporal_iou",
    "truncated_gaussian_confidence",
    "verify_math",
    "verify_math_batch",
]
