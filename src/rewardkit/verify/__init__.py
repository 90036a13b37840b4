"""Verifiable rewards for language models.

Answer extraction and math equivalence (with a sympy fallback in killable
worker processes), strict format, length and efficiency rewards, graded
grounding rewards, partial credit and calibration. Code execution lives in
:mod:`rewardkit.verify.code`.
"""

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
from rewardkit.verify.length import CosineLength, DapoOverlong, LengthLinear, grpo_lambda
from rewardkit.verify.math import MathVerifier, Verdict, verify_math, verify_math_batch
from rewardkit.verify.math_policy import MathPolicy
from rewardkit.verify.mathparse import Outcome
from rewardkit.verify.partial import BrierCalibration, PartialCredit, partial_credit
from rewardkit.verify.text import ExactMatch, RegexMatch, completion_text, exact_match, regex_match

length_linear = LengthLinear

__all__ = [
    "BoxIoU",
    "BoxSize",
    "BrierCalibration",
    "CosineLength",
    "DapoOverlong",
    "ExactMatch",
    "GaussianCoverage",
    "GaussianPoint",
    "LengthLinear",
    "MathPolicy",
    "MathVerifier",
    "Outcome",
    "PartialCredit",
    "RegexMatch",
    "RepetitionPenalty",
    "ThinkAnswerFormat",
    "ToolCallCost",
    "Verdict",
    "box_iou",
    "box_size_reward",
    "completion_text",
    "efficiency_on_correct",
    "exact_match",
    "extract_answer_tag",
    "extract_boxed",
    "extract_gsm8k",
    "gaussian_coverage_reward",
    "gaussian_point_reward",
    "grpo_lambda",
    "length_linear",
    "partial_credit",
    "regex_match",
    "repetition_ratio",
    "strict_format_ok",
    "verify_math",
    "verify_math_batch",
]
