"""Metric layout rewards after Video2Layout: object coordinates, and the answer's MRA.

Video2Layout (Huang et al. 2025, "Video2Layout: Recall and Reconstruct
Metric-Grounded Cognitive Map for Spatial Reasoning", arXiv:2511.16160) has a
model write a bird's-eye-view map of object boundary coordinates in metres
(``<map>``), reason over it (``<think>``) and answer (``<answer>``). The map is
learned by SFT on AI2THOR layouts; its reinforcement stage (GRPO), in the
authors' released reward (``examples/reward_function/qa.py``), scores only

    R = 0.9 · accuracy + 0.1 · format

with accuracy the Mean Relative Accuracy (MRA) of a numeric answer or a
case-insensitive exact match of any other, and format 1 when the completion is
``<map>…</map><think>…</think><answer>…</answer>``. :class:`SpatialAnswer` is
that reward (see its note on where it departs from the authors' code).

The RL reward does *not* score the map's coordinates. :class:`LayoutMetric`
does, and is ours (Video2Layout-style): predicted objects are matched one-to-
one to the ground-truth objects of the same category, greedily by closeness,
and

    R = Σ_matched exp(−‖c_pred − c_gt‖ / τ) / max(|G|, |P|)

with c the object centres (a box's centre, or a point), τ a length scale in
the map's units (metres) and |G|, |P| the numbers of target and predicted
objects: a missed object and a hallucinated one both cost a full share.
Object sizes are not scored.

Example:
    >>> mean_relative_accuracy([2.15, 3.5, 0.0], [2.0, 2.0, 0.0])
    array([0.9, 0. , 1. ])
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.batch import Batch, get_column, is_missing
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.core.output import FloatArray, RewardOutput
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm
from rewardkit.verify.text import completion_text

__all__ = [
    "LayoutMetric",
    "SpatialAnswer",
    "layout_format",
    "layout_match_reward",
    "mean_relative_accuracy",
    "parse_layout",
]

IntArray = npt.NDArray[np.int64]
Layout = list[tuple[str, float, float]]
#: Video2Layout's relative-error thresholds: 0.50, 0.45, ..., 0.05 (VSI-Bench's MRA)
MRA_THRESHOLDS = tuple(float(t) for t in np.linspace(0.50, 0.05, 10))
#: :func:`parse_layout` reads at most this many characters of a map (or of a text without one)
MAX_MAP_CHARS = 4_000
_NUM = r"-?\d+(?:\.\d+)?"
# A label starts after a delimiter (start, "{", ",", ";" or a newline; list bullets
# allowed) and cannot end in a space, so no two parts of the pattern compete for the
# same characters: the scan is linear in the map's length.
_OBJECT = re.compile(
    r"(?:^|[{,;\n])[ \t*\-]*[\"']?([A-Za-z][\w\-]*(?: +[\w\-]+)*)[\"']?\s*[:=]\s*"
    r"(\[\s*\[[^\[\]]*\]\s*,\s*\[[^\[\]]*\]\s*\]|\[[^\[\]]*\]|\([^()]*\))"
)
_TAG_SPACE = re.compile(r"\s*(<|>|/)\s*")
_MAP_THEN_THINK = re.compile(r"</map>\s*<think>")
_THINK_THEN_ANSWER = re.compile(r"</think>\s*<answer>")
_INSTANCE = re.compile(r"[\s_#\-]*\d+$")


def mean_relative_accuracy(
    pred: Any, gt: Any, thresholds: Sequence[float] = MRA_THRESHOLDS
) -> FloatArray:
    """MRA = (1/|T|) Σ_t 1[|ŷ − y| / |y| ≤ t], rowwise (the absolute error where y = 0).

    The numeric accuracy of Video2Layout's reward and of VSI-Bench (Yang et al.
    2024, "Thinking in Space"), with t ∈ {0.50, 0.45, ..., 0.05}. A target y
    that is NaN or infinite has no accuracy: NaN (not applicable). A NaN or
    infinite prediction passes no threshold: 0, as in the authors' code.

    Example:
        >>> mean_relative_accuracy([1.22], [1.0])  # 22% off: passes t = 0.50 ... 0.25
        array([0.6])
        >>> mean_relative_accuracy([1.0, 1.0], [float("nan"), 1.0])
        array([nan,  1.])
    """
    p, g = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if p.ndim != 1 or p.shape != g.shape:
        raise BatchError(f"pred and gt must both have shape (N,), got {p.shape} and {g.shape}")
    levels = np.asarray(thresholds, dtype=np.float64)
    if levels.ndim != 1 or not levels.size or np.any(~(levels >= 0)):
        raise ConfigurationError(
            f"thresholds must be a non-empty list of numbers >= 0, got {thresholds!r}"
        )
    known = np.isfinite(g)
    target = np.where(known, g, 0.0)
    error = np.abs(p - target) / np.where(target == 0, 1.0, np.abs(target))
    passed = np.mean(error[:, None] <= levels[None, :], axis=1)
    accuracy: FloatArray = np.where(known, passed, np.nan)
    return accuracy


def _clean_tags(text: str) -> str:
    # the authors' first step: no whitespace around "<", ">" and "/", anywhere
    return _TAG_SPACE.sub(r"\1", text.strip())


def _format_of_clean(cleaned: str) -> bool:
    # ``<map>.*?</map>\s*<think>.*?</think>\s*<answer>.*?</answer>`` (DOTALL) as a full
    # match, in linear time: the earliest "</map><think>" and then the earliest
    # "</think><answer>" leave the most room, so they match whenever any split does.
    if not (cleaned.startswith("<map>") and cleaned.endswith("</answer>")):
        return False
    first = _MAP_THEN_THINK.search(cleaned, len("<map>"))
    second = None if first is None else _THINK_THEN_ANSWER.search(cleaned, first.end())
    return second is not None and second.end() <= len(cleaned) - len("</answer>")


def layout_format(text: str) -> bool:
    """Video2Layout's format: the completion is ``<map>…</map><think>…</think><answer>…</answer>``.

    As in the authors' reward, whitespace around ``<``, ``>`` and ``/`` is
    removed first, and the whole completion must match (checked in linear time).

    Example:
        >>> layout_format("<map>{}</map> <think>t</think>\\n<answer>2</answer>")
        True
        >>> layout_format("<think>t</think><answer>2</answer>")
        False
    """
    return _format_of_clean(_clean_tags(text))


def _first_answer(cleaned: str) -> str | None:
    # the authors' extraction: the first <answer>…</answer> (case-sensitive), stripped
    start = cleaned.find("<answer>")
    end = -1 if start < 0 else cleaned.find("</answer>", start + len("<answer>"))
    return None if end < 0 else cleaned[start + len("<answer>") : end].strip()


def _category(label: str) -> str:
    name = " ".join(label.replace("_", " ").split()).casefold()
    return _INSTANCE.sub("", name) or name


def _centre(numbers: Sequence[float]) -> tuple[float, float] | None:
    if len(numbers) == 2:
        return float(numbers[0]), float(numbers[1])
    if len(numbers) == 4:
        return (numbers[0] + numbers[2]) / 2, (numbers[1] + numbers[3]) / 2
    return None


def _map_span(text: str) -> tuple[int, int] | None:
    # the last <map>…</map> block, found in linear time (case-insensitive)
    lowered = text.lower()
    last_close = lowered.rfind("</map>")
    start = lowered.rfind("<map>", 0, max(last_close, 0))
    if last_close < 0 or start < 0:
        return None
    return start + len("<map>"), lowered.find("</map>", start)


def parse_layout(text: str) -> Layout:
    """Objects of a map as (category, x, y) centres.

    Reads ``label: [x1, y1, x2, y2]``, ``label: [[x1, y1], [x2, y2]]`` (a box),
    ``label: [x, y]`` or ``(x, y)`` (a point), JSON quotes allowed, inside the
    last ``<map>`` (the whole text when there is none). A label starts the map or
    follows ``{``, ``,``, ``;`` or a line break. Labels are case-folded and lose
    an instance number (``chair_2`` → ``chair``). At most :data:`MAX_MAP_CHARS`
    characters are read: a map's first 4,000 (later objects are dropped), or a
    text's last 4,000 when it has no map, so the work is bounded.

    Example:
        >>> parse_layout('<map>{"Chair_1": [0, 0, 2, 2], "table": [[4, 0], [6, 2]]}</map>')
        [('chair', 1.0, 1.0), ('table', 5.0, 1.0)]
    """
    span = _map_span(text)
    if span is not None:
        start, end = span
        matches = _OBJECT.finditer(text[start : min(end, start + MAX_MAP_CHARS)])
    else:  # from a position, "^" matches only at a true start: no half label at the cut
        matches = _OBJECT.finditer(text, max(len(text) - MAX_MAP_CHARS, 0))
    objects = []
    for match in matches:
        label, value = match.groups()
        centre = _centre([float(v) for v in re.findall(_NUM, value)])
        if centre is not None:
            objects.append((_category(label), *centre))
    return objects


def _check_layout(xy: Any, labels: Any, what: str) -> tuple[FloatArray, IntArray]:
    points = np.asarray(xy, dtype=np.float64)
    ids = np.asarray(labels)
    if points.ndim != 3 or points.shape[2] != 2 or ids.shape != points.shape[:2]:
        raise BatchError(
            f"{what} must be coordinates (N, M, 2) and labels (N, M), "
            f"got {points.shape} and {ids.shape}"
        )
    if not np.issubdtype(ids.dtype, np.integer):
        raise BatchError(f"{what} labels must be integer category ids (-1 = padding)")
    return points, ids.astype(np.int64)


def layout_match_reward(
    pred_xy: Any, pred_labels: Any, gt_xy: Any, gt_labels: Any, scale: float = 1.0
) -> FloatArray:
    """Σ_matched exp(−d/τ) / max(|G|, |P|) with a greedy one-to-one matching by category.

    ``pred_xy`` (N, P, 2) and ``gt_xy`` (N, G, 2) are object centres;
    ``pred_labels`` (N, P) and ``gt_labels`` (N, G) integer category ids, −1 for
    padding. Pairs are matched in decreasing order of exp(−d/τ), each object at
    most once, only within a category. Every sample needs a target object; a
    sample with no predicted object scores 0.

    Example:
        >>> gt_xy, gt_labels = np.array([[[0.0, 0.0], [3.0, 4.0]]]), np.array([[0, 1]])
        >>> pred_xy, pred_labels = np.array([[[0.0, 1.0]]]), np.array([[0]])
        >>> layout_match_reward(pred_xy, pred_labels, gt_xy, gt_labels).round(4)
        array([0.1839])
    """
    if not (math.isfinite(scale) and scale > 0):
        raise ConfigurationError(f"scale must be a positive length, got {scale!r}")
    p, p_ids = _check_layout(pred_xy, pred_labels, "predictions")
    g, g_ids = _check_layout(gt_xy, gt_labels, "targets")
    if p.shape[0] != g.shape[0]:
        raise BatchError(f"{p.shape[0]} predicted layouts but {g.shape[0]} targets")
    n_gt, n_pred = (g_ids >= 0).sum(axis=1), (p_ids >= 0).sum(axis=1)
    if np.any(n_gt == 0):
        raise BatchError("every sample needs at least one target object")
    distance = np.linalg.norm(p[:, :, None, :] - g[:, None, :, :], axis=3)
    same = (p_ids[:, :, None] == g_ids[:, None, :]) & (p_ids[:, :, None] >= 0)
    score = np.where(same, np.exp(-np.nan_to_num(distance, nan=np.inf) / scale), -1.0)
    rows = np.arange(score.shape[0])
    matched = np.zeros(score.shape[0])
    for _ in range(min(score.shape[1], score.shape[2])):
        flat = score.reshape(score.shape[0], -1).argmax(axis=1)
        i, j = np.unravel_index(flat, score.shape[1:])
        best = score[rows, i, j]
        found = best >= 0
        matched += np.where(found, best, 0.0)
        score[rows[found], i[found], :] = -1.0
        score[rows[found], :, j[found]] = -1.0
    reward: FloatArray = matched / np.maximum(n_gt, n_pred)
    return reward


def _gold_object(pair: Any, index: int) -> tuple[str, float, float] | None:
    if isinstance(pair, str) or not isinstance(pair, Sequence | np.ndarray) or len(pair) != 2:
        raise BatchError(
            f"gt_layout of sample {index}: an entry is (label, coordinates), got {pair!r}"
        )
    label, coordinates = pair
    if coordinates is None:
        return None
    try:
        numbers = np.asarray(coordinates, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as error:
        raise BatchError(
            f"gt_layout of sample {index}, object {label!r}: coordinates must be numbers, "
            f"got {coordinates!r}"
        ) from error
    if np.isnan(numbers).any():
        return None
    centre = _centre(numbers.tolist())
    if centre is None:
        raise BatchError(
            f"gt_layout of sample {index}, object {label!r}: give [x, y] or [x1, y1, x2, y2], "
            f"got {coordinates!r}"
        )
    return _category(str(label)), *centre


def _gold_layout(value: Any, index: int) -> Layout | None:
    """A sample's target objects; None where it has none, or a coordinate is missing."""
    if is_missing(value):
        return None
    if isinstance(value, str):
        objects: Layout = parse_layout(value)
    elif isinstance(value, Mapping | Iterable):
        objects = []
        for pair in value.items() if isinstance(value, Mapping) else value:
            found = _gold_object(pair, index)
            if found is None:  # a missing coordinate: the target is unknown
                return None
            objects.append(found)
    else:
        raise BatchError(
            f"gt_layout of sample {index}: give a mapping label → coordinates, a list of "
            f"(label, coordinates) pairs or map text, got {value!r}"
        )
    if not all(math.isfinite(x) and math.isfinite(y) for _, x, y in objects):
        raise BatchError(f"gt_layout of sample {index}: coordinates must be finite")
    return objects or None


def _encode(layouts: Sequence[Layout], ids: dict[str, int]) -> tuple[FloatArray, IntArray]:
    width = max((len(layout) for layout in layouts), default=0)
    xy, labels = np.full((len(layouts), width, 2), np.nan), np.full((len(layouts), width), -1)
    for i, layout in enumerate(layouts):
        for k, (category, x, y) in enumerate(layout):
            xy[i, k], labels[i, k] = (x, y), ids.setdefault(category, len(ids))
    return xy, labels.astype(np.int64)


def _check_unparseable_score(score: float | None) -> float | None:
    if score is None:
        return None
    if not (isinstance(score, numbers.Real) and math.isfinite(score)):
        raise ConfigurationError(
            f"unparseable_score must be a finite number (or None: not applicable), got {score!r}"
        )
    return float(score)


@register("layout_metric")
class LayoutMetric(RewardTerm):
    """Video2Layout-style reward on the map's metric object coordinates.

    Parses the objects of the completion's ``<map>`` (see :func:`parse_layout`)
    and scores them against ``gt_layout`` with :func:`layout_match_reward`.
    ``gt_layout`` is, per sample, a mapping label → [x, y] or box, a list of
    (label, coordinates) pairs (for several objects of one category), or map
    text. A sample without a target (None, NaN, no object, or an object whose
    coordinates are None/NaN) is not applicable; a malformed target raises
    :class:`~rewardkit.core.errors.BatchError`. A completion with no parsed
    object is not applicable too, or scores ``unparseable_score`` when that is
    set (0.0: an unreadable map is penalized, not skipped). Logs
    ``name/objects``, the number of predicted objects.

    Example:
        >>> term = LayoutMetric(scale=1.0)
        >>> batch = {"completion": ["<map>chair: [0, 0, 2, 2]\\nsofa: [5, 5]</map>", "no map"],
        ...          "gt_layout": [{"chair": [1, 1], "sofa": [5, 6]}] * 2}
        >>> term(batch).total.round(4)
        array([0.6839,    nan])
        >>> LayoutMetric(unparseable_score=0.0)(batch).total.round(4)
        array([0.6839, 0.    ])
    """

    columns = ("completion", "gt_layout")

    def __init__(
        self,
        scale: float = 1.0,
        name: str = "layout_metric",
        unparseable_score: float | None = None,
    ) -> None:
        super().__init__(name)
        if not (math.isfinite(scale) and scale > 0):
            raise ConfigurationError(f"scale must be a positive length (map units), got {scale!r}")
        self.scale = float(scale)
        self.unparseable_score = _check_unparseable_score(unparseable_score)

    def _compute(self, batch: Batch) -> RewardOutput:
        texts = [completion_text(c) for c in get_column(batch, "completion")]
        golds = [_gold_layout(v, i) for i, v in enumerate(get_column(batch, "gt_layout"))]
        preds = [parse_layout(t) for t in texts]
        values, counts = np.full(len(texts), np.nan), np.array([float(len(p)) for p in preds])
        rows = [i for i, (p, g) in enumerate(zip(preds, golds, strict=True)) if p and g]
        if rows:
            ids: dict[str, int] = {}
            gt_xy, gt_labels = _encode([golds[i] or [] for i in rows], ids)
            pred_xy, pred_labels = _encode([preds[i] for i in rows], ids)
            values[rows] = layout_match_reward(pred_xy, pred_labels, gt_xy, gt_labels, self.scale)
        if self.unparseable_score is not None:
            unread = [i for i, (p, g) in enumerate(zip(preds, golds, strict=True)) if g and not p]
            values[unread] = self.unparseable_score
        return RewardOutput(values, {self.name: values, f"{self.name}/objects": counts})


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
    except OverflowError:  # an integer beyond float range
        return math.inf


def _answer_accuracy(answer: str, gold: Any) -> float:
    gold_number = _as_float(gold)
    number = None if gold_number is None else _as_float(answer)
    if gold_number is None or number is None:
        return float(answer.casefold() == str(gold).strip().casefold())
    return float(mean_relative_accuracy([number], [gold_number])[0])


def _gold_answer_missing(gold: Any) -> bool:
    if isinstance(gold, str):
        return gold.strip().casefold() in ("", "nan")
    return is_missing(gold)


@register("spatial_answer")
class SpatialAnswer(RewardTerm):
    """Video2Layout's RL reward: (1 − w)·accuracy + w·format, w = 0.1.

    As the authors' code: whitespace around ``<``, ``>`` and ``/`` is removed
    first; the answer is the first ``<answer>…</answer>`` (case-sensitive,
    stripped; a ``\\boxed{}`` inside is not unpacked); accuracy is the MRA of a
    numeric answer against a numeric ``answer``, or else a case-insensitive
    exact match; format is :func:`layout_format`. Logs ``name/accuracy`` and
    ``name/format``.

    Departures, the library's rules:

    * a completion without ``<answer>…</answer>`` scores 0 in the authors' code
      (no accuracy, and the format fails); here it is not applicable (NaN), or
      scores ``unparseable_score`` when that is set (``0.0`` is the authors');
    * a gold answer that is None, NaN, infinite, empty or the text ``"nan"``
      makes the sample not applicable, where the authors' code would score it 0;
    * the gold answer is stripped before the text comparison (the authors'
      is not), and text is compared case-folded rather than lower-cased.

    Example:
        >>> batch = {"completion": ["<map>m</map><think>t</think><answer>1.22</answer>",
        ...                         "< answer >Left</ answer >", "nothing"],
        ...          "answer": ["1.0", "left", "3"]}
        >>> SpatialAnswer()(batch).total
        array([0.64, 0.9 ,  nan])
    """

    columns = ("completion", "answer")

    def __init__(
        self,
        format_weight: float = 0.1,
        name: str = "spatial_answer",
        unparseable_score: float | None = None,
    ) -> None:
        super().__init__(name)
        if not (math.isfinite(format_weight) and 0.0 <= format_weight <= 1.0):
            raise ConfigurationError(f"format_weight must be in [0, 1], got {format_weight!r}")
        self.format_weight = float(format_weight)
        self.unparseable_score = _check_unparseable_score(unparseable_score)

    def _compute(self, batch: Batch) -> RewardOutput:
        cleaned = [_clean_tags(completion_text(c)) for c in get_column(batch, "completion")]
        golds = get_column(batch, "answer")
        accuracy = np.full(len(cleaned), np.nan)
        unread = np.zeros(len(cleaned), dtype=bool)
        for i, (text, gold) in enumerate(zip(cleaned, golds, strict=True)):
            if _gold_answer_missing(gold):
                continue
            answer = _first_answer(text)
            if answer is None:
                unread[i] = True
            else:
                accuracy[i] = _answer_accuracy(answer, gold)
        fmt = np.array([float(_format_of_clean(t)) for t in cleaned])
        total = (1.0 - self.format_weight) * accuracy + self.format_weight * fmt
        if self.unparseable_score is not None:
            total[unread] = self.unparseable_score
        terms = {self.name: total, f"{self.name}/accuracy": accuracy, f"{self.name}/format": fmt}
        return RewardOutput(total, terms)
