"""Where preference pairs come from: response trees with shared prefixes, and HERON's factor tree.

**Tree-structured pairs** (Qiu et al., "Reward Generalization in RLHF: A
Topological Perspective", arXiv:2402.10184). Instead of labelling pairs of
independently sampled responses (the *chain* baseline), the responses to a
prompt are grown as a tree: ``roots`` responses are sampled, each is cut after
a share ``cut`` of its steps, and ``branches`` continuations are sampled from
each cut prefix. Pairs are formed between leaves that share a prefix, so each
label compares two continuations of the same partial answer. At the same
labelling budget, the paper finds reward models trained on tree pairs
generalise better (a 65 % win rate of the resulting policies). The branching
shape (one cut per root, siblings only) is this module's choice; the paper's
exact shape is not stated in what we could read.

**HERON** (Bukharin et al., "Deep Reinforcement Learning from Hierarchical
Preference Design", arXiv:2309.02632). Reward factors z_1..z_F, ranked by
importance, decide a comparison as a decision tree: factor l decides when
|z_l(a) − z_l(b)| > δ_l (larger wins, or smaller where its sign is −1),
otherwise the next factor is asked; a pair no factor decides is dropped. The
margin δ_l = c·std(z_l) over the collected data (c = 1 in the paper's code).
A Bradley–Terry reward model trained on the decided pairs replaces a hand-tuned
weighted sum of the factors.

Example:
    >>> factors = np.array([[1.0, 5.0], [1.05, 1.0], [0.0, 9.0]])
    >>> heron_preferences(factors, [(0, 1), (0, 2)], margins=[0.1, 1.0]).tolist()
    [1, 1]
    >>> heron_preferences(factors, [(0, 1)], margins=[0.1, 1.0], signs=[1, -1]).tolist()
    [-1]
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.errors import ConfigurationError, ShapeError

__all__ = [
    "Leaf",
    "TreeShape",
    "chain_pairs",
    "cut_prefix",
    "heron_margins",
    "heron_preferences",
    "sample_tree",
    "tree_pairs",
]

#: ``sample(texts, n)``: n continuations of each text, text-major (len(texts)·n strings)
Sampler = Callable[[Sequence[str], int], Sequence[str]]


# ------------------------------------------------------------------ HERON
def heron_margins(factors: Any, scale: float = 1.0) -> npt.NDArray[np.float64]:
    """δ_l = scale · std(z_l) for each factor column of ``factors`` (N, F).

    Example:
        >>> heron_margins([[0.0, 1.0], [2.0, 1.0]]).tolist()
        [1.0, 0.0]
    """
    values = _factors(factors)
    if not (np.isfinite(scale) and scale >= 0):
        raise ConfigurationError(f"scale must be finite and ≥ 0, got {scale}")
    margins: npt.NDArray[np.float64] = scale * values.std(axis=0)
    return margins


def heron_preferences(
    factors: Any,
    pairs: Sequence[tuple[int, int]],
    margins: Sequence[float],
    signs: Sequence[int] | None = None,
) -> npt.NDArray[np.int64]:
    """HERON's decision tree over each pair (a, b): +1 if a wins, −1 if b wins, 0 if no
    factor decides (the pair is then dropped).

    Args:
        factors: (N, F) factor values, columns in order of importance (most important first).
        pairs: (a, b) row indices.
        margins: δ_l per factor (see :func:`heron_margins`).
        signs: +1 where larger is better, −1 where smaller is (default: all +1).
    """
    values = _factors(factors)
    width = values.shape[1]
    margin = np.asarray(margins, dtype=np.float64)
    sign = np.ones(width) if signs is None else np.asarray(signs, dtype=np.float64)
    if margin.shape != (width,) or sign.shape != (width,):
        raise ShapeError(f"{width} factors need {width} margins and signs")
    if not set(np.unique(sign)) <= {-1.0, 1.0} or (margin < 0).any():
        raise ConfigurationError("signs must be ±1 and margins ≥ 0")
    index = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if index.size and (index.min() < 0 or index.max() >= len(values)):
        raise ShapeError(f"pair indices must be in [0, {len(values)})")
    out = np.zeros(len(index), dtype=np.int64)
    open_ = np.ones(len(index), dtype=bool)
    for level in range(width):
        gap = sign[level] * (values[index[:, 0], level] - values[index[:, 1], level])
        decided = open_ & (np.abs(gap) > margin[level])
        out[decided] = np.sign(gap[decided]).astype(np.int64)
        open_ &= ~decided
    return out


def _factors(factors: Any) -> npt.NDArray[np.float64]:
    values = np.asarray(factors, dtype=np.float64)
    if values.ndim != 2:
        raise ShapeError(f"factors must be (N, F), got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("a factor value is NaN or infinite: HERON cannot rank it")
    return values


# ------------------------------------------------------------------ response trees
@dataclass(frozen=True)
class TreeShape:
    """How a prompt's response tree grows.

    Attributes:
        roots: responses sampled from the prompt.
        branches: continuations sampled from each root's cut prefix.
        cut: share of a root's steps kept as the shared prefix (at least one step is
            always rewritten).
        separator: what ends a step.
    """

    roots: int = 2
    branches: int = 4
    cut: float = 0.5
    separator: str = "\n"

    def __post_init__(self) -> None:
        if self.roots < 1 or self.branches < 2:
            raise ConfigurationError("a tree needs roots ≥ 1 and branches ≥ 2 (siblings to pair)")
        if not 0.0 <= self.cut < 1.0:
            raise ConfigurationError(f"cut must be in [0, 1), got {self.cut}")
        if not self.separator:
            raise ConfigurationError("the step separator must not be empty")


@dataclass(frozen=True)
class Leaf:
    """One complete response of a tree: its shared prefix and the rest."""

    prompt: str
    prefix: str
    continuation: str

    @property
    def completion(self) -> str:
        return self.prefix + self.continuation


def cut_prefix(text: str, share: float, separator: str) -> str:
    """The first ⌊share·K⌋ of a text's K steps (each with its separator), never all of them.

    Example:
        >>> cut_prefix("14,21,35>35", 0.5, ",")
        '14,'
        >>> cut_prefix("35", 0.5, ",")
        ''
    """
    pieces = text.split(separator)
    steps = [p + separator for p in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    keep = min(int(share * len(steps)), max(len(steps) - 1, 0))
    return "".join(steps[:keep])


def sample_tree(prompts: Sequence[str], sample: Sampler, shape: TreeShape) -> list[list[Leaf]]:
    """Each prompt's leaves: ``roots`` responses cut after a share of their steps, and
    ``branches`` continuations of each cut prefix (two sampling calls for all prompts).

    Example:
        >>> def sample(texts, n):  # continues with "1>1" or "2>2"
        ...     return [f"{i % 2 + 1}>{i % 2 + 1}" for _ in texts for i in range(n)]
        >>> leaves = sample_tree(["3="], sample, TreeShape(roots=1, branches=2, separator=","))
        >>> [leaf.completion for leaf in leaves[0]]
        ['1>1', '2>2']
    """
    roots = list(sample(list(prompts), shape.roots))
    if len(roots) != len(prompts) * shape.roots:
        raise ShapeError(f"the sampler gave {len(roots)} roots for {len(prompts)} prompts")
    prefixes = [cut_prefix(root, shape.cut, shape.separator) for root in roots]
    owners = [p for p in prompts for _ in range(shape.roots)]
    rest = list(sample([o + x for o, x in zip(owners, prefixes, strict=True)], shape.branches))
    if len(rest) != len(prefixes) * shape.branches:
        raise ShapeError(f"the sampler gave {len(rest)} continuations for {len(prefixes)} prefixes")
    trees: list[list[Leaf]] = [[] for _ in prompts]
    for r, prefix in enumerate(prefixes):
        for b in range(shape.branches):
            trees[r // shape.roots].append(Leaf(owners[r], prefix, rest[r * shape.branches + b]))
    return trees


def tree_pairs(
    trees: Sequence[Sequence[Leaf]],
    score: Callable[[Leaf], float],
    budget: int | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Preference pairs between leaves of the same prefix whose scores differ.

    Args:
        trees: per prompt, its leaves (:func:`sample_tree`).
        score: the labeller: a higher score is preferred; equal scores give no pair.
        budget: keep this many pairs at most (a random subset; None: all).
        seed: the subset's seed.

    Returns:
        ``{"prompt", "chosen", "rejected", "shared_prefix"}`` rows.
    """
    pairs = []
    for leaves in trees:
        by_prefix: dict[str, list[tuple[Leaf, float]]] = {}
        for leaf in leaves:
            by_prefix.setdefault(leaf.prefix, []).append((leaf, float(score(leaf))))
        for siblings in by_prefix.values():
            pairs += _ordered_pairs(siblings, {"shared_prefix": siblings[0][0].prefix})
    return _subset(pairs, budget, seed)


def chain_pairs(
    prompts: Sequence[str],
    completions: Sequence[Sequence[str]],
    score: Callable[[str, str], float],
    budget: int | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """The chain baseline: pairs of independently sampled completions of a prompt whose
    scores differ (``score(prompt, completion)``), subsampled to ``budget``."""
    if len(prompts) != len(completions):
        raise ShapeError(f"{len(prompts)} prompts but {len(completions)} completion lists")
    pairs = []
    for prompt, texts in zip(prompts, completions, strict=True):
        scored = [(Leaf(prompt, "", text), float(score(prompt, text))) for text in texts]
        pairs += _ordered_pairs(scored, {"shared_prefix": ""})
    return _subset(pairs, budget, seed)


def _ordered_pairs(
    scored: Sequence[tuple[Leaf, float]], extra: Mapping[str, Any]
) -> list[dict[str, Any]]:
    out = []
    for i in range(len(scored)):
        for j in range(i + 1, len(scored)):
            (a, sa), (b, sb) = scored[i], scored[j]
            if not (np.isfinite(sa) and np.isfinite(sb)) or sa == sb:
                continue
            chosen, rejected = (a, b) if sa > sb else (b, a)
            out.append({"prompt": a.prompt, "chosen": chosen.completion,
                        "rejected": rejected.completion, **extra})  # fmt: skip
    return out


def _subset(pairs: list[dict[str, Any]], budget: int | None, seed: int) -> list[dict[str, Any]]:
    if budget is not None and budget < 0:
        raise ConfigurationError(f"budget must be ≥ 0, got {budget}")
    random.Random(seed).shuffle(pairs)
    return pairs if budget is None else pairs[:budget]
