"""The real-backbone half of ``rewardkit bench rm-lab``: ways to build a reward model,
each a head on SmolLM2-135M-Instruct's frozen last-layer features of its own answers.

The data is the SmolLM2 corpus's labelled rows (``smollm2-arithmetic.jsonl``, the answers
the verifier could label); per seed, half the questions train and the other half test,
as in ``real-rm``. Every method sees only the training half; the figures are paired
accuracy on the held-out half (a right answer ranked above a wrong one of the same
question) and the same with style controlled (both state a number, lengths within 25 %).

Methods, one row each:

- ``BT linear``: the Bradley–Terry head of ``real-rm`` (λ by two-fold CV): the baseline;
- BaseReward-style heads (:class:`rewardkit.models.MLPRewardHead`): depth 1/2/3 with SiLU,
  depth 2 with tanh and with no activation, and an ensemble of five depth-2 SiLU heads
  averaged (:func:`rewardkit.models.fit_head_ensemble`);
- ``Ctrl-U-style``: the depth-2 head trained with two dropout passes' disagreement
  weighting the loss;
- ``HERON``: the BT linear head fitted on HERON labels (factor 1: correct; factor 2:
  fewer tokens; margin = std of each factor over the training rows; a pair no factor
  decides is dropped) over every pair of answers to the same question, instead of the
  (right, wrong) pairs; also scored on "shorter among equally right" held-out pairs,
  the second factor's own test;
- ``VPL`` (:class:`rewardkit.models.VPLRewardModel`) on **planted users** (generated
  labels, said so in the report): half the users prefer the right answer, half the
  shorter one (lengths differing by ≥ 25 %); each of 32 users labels 48 pairs of training
  questions. A new user of each type is read from 8 of their pairs (training questions)
  and scored on held-out questions' pairs of their type. Baselines: one BT head on all
  users' pairs pooled (the average user) and a BT head per type (knowing the type: the
  ceiling).

Features are read once and cached under ``runs/rm-lab-cache/`` (keyed by the corpus's
content): about 11 minutes on 2 CPUs for 1,997 answers.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardkit_bench.real_rm import _chosen_l2, _problem, paired_accuracy, pairs_of

__all__ = ["BUILD_METHODS", "labelled_rows", "read_last_layer", "run_build"]

CACHE = Path("runs") / "rm-lab-cache"
#: rows of the method table, in order
BUILD_METHODS = (
    "BT linear (baseline)",
    "MLP depth 1 (BaseReward-style)",
    "MLP depth 2, SiLU (BaseReward-style)",
    "MLP depth 3, SiLU (BaseReward-style)",
    "MLP depth 2, tanh",
    "MLP depth 2, no activation",
    "ensemble of 5, depth 2 (BaseReward-style)",
    "Ctrl-U-style weighting, depth 2",
    "HERON labels (correct > shorter), linear",
)
HEAD = {"hidden": 256, "epochs": 200, "learning_rate": 1e-3}
#: set after one trial on split 0: 16 users x 24 pairs overfit (VPL 0.52/0.89, pooled 0.50/0.89)
VPL_USERS, VPL_PAIRS, VPL_CONTEXT = 32, 48, 8


def labelled_rows(corpus: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The corpus's rows with a label (``limit``: the first ``limit`` questions a task)."""
    rows = [json.loads(line) for line in corpus.open()]
    rows = [r for r in rows if r["label"] is not None]
    return [r for r in rows if limit is None or r["index"] < limit]


def read_last_layer(rows: Sequence[dict[str, Any]], threads: int | None = None) -> np.ndarray:
    """SmolLM2's last-layer features φ(x, y) of each row (cached by content).

    The model runs in bfloat16: 2.1 times faster than float32 on this CPU (AVX512-BF16),
    the features within cosine 0.999 of float32's (64 corpus rows). ``threads``: torch's
    threads for the read (None leaves torch's setting; rm-lab's set-up unit uses 1,
    beside the other job).
    """
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps([row["question"], row["completion"]]).encode())
    path = CACHE / f"smollm2-last-bf16-{digest.hexdigest()[:12]}.npy"
    if path.is_file():
        cached: np.ndarray = np.load(path).astype(np.float64)  # stored as float32
        return cached
    import torch

    from rewardkit import lm
    from rewardkit.models.frozen_head import hidden_features
    from rewardkit_bench.real_rm_features import chat_prompt

    if threads is not None:
        torch.set_num_threads(threads)
    start = time.monotonic()
    print(f"rm-lab: reading SmolLM2's features of {len(rows)} answers (cached in {path})")
    model, tokenizer = lm.load("smollm2-135m-instruct")
    model = model.to(torch.bfloat16)
    prompts = [chat_prompt(tokenizer, row["question"]) for row in rows]
    found = hidden_features(model, tokenizer, prompts, [r["completion"] for r in rows], (-1,), 2048)
    features = found.by_layer[-1].astype(np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, features)
    print(f"rm-lab: features read in {time.monotonic() - start:.0f}s")
    return features.astype(np.float64)


def _split(rows: Sequence[dict[str, Any]], seed: int) -> np.ndarray:
    prompts = sorted({_problem(row) for row in rows})
    rng = np.random.default_rng(seed)
    train = {prompts[i] for i in rng.permutation(len(prompts))[: len(prompts) // 2]}
    return np.array([_problem(row) in train for row in rows])


def _same_question_pairs(rows: Sequence[dict[str, Any]], keep: np.ndarray) -> list[tuple[int, int]]:
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        if keep[i]:
            groups[_problem(row)].append(i)
    return [(a, b) for m in groups.values() for x, a in enumerate(m) for b in m[x + 1 :]]


def _shorter_pairs(
    rows: Sequence[dict[str, Any]], keep: np.ndarray, same_label: bool
) -> list[tuple[int, int]]:
    """(shorter, longer) pairs of one question, lengths differing by ≥ 25 % of the longer
    (``same_label``: only pairs both right or both wrong)."""
    out = []
    for a, b in _same_question_pairs(rows, keep):
        ta, tb = rows[a]["tokens"], rows[b]["tokens"]
        if abs(ta - tb) < 0.25 * max(ta, tb) or (
            same_label and rows[a]["label"] != rows[b]["label"]
        ):
            continue
        out.append((a, b) if ta < tb else (b, a))
    return out


def _linear(features: np.ndarray, pairs: Sequence[tuple[int, int]], l2: float) -> np.ndarray:
    from rewardkit.models.frozen_head import BradleyTerryHead

    head = BradleyTerryHead.untrained(features.shape[1])
    c, w = np.array(pairs).T
    head.fit(features[c], features[w], l2=l2)
    scores: np.ndarray = head.score(features)
    return scores


def _heads(features: np.ndarray, pairs: Sequence[tuple[int, int]], seed: int) -> dict[str, Any]:
    """Scores of every BaseReward-style and Ctrl-U-style head."""
    from rewardkit.models import MLPRewardHead, fit_head_ensemble

    c, w = np.array(pairs).T
    chosen, rejected = features[c], features[w]
    shapes = {
        "MLP depth 1 (BaseReward-style)": (1, "silu"),
        "MLP depth 2, SiLU (BaseReward-style)": (2, "silu"),
        "MLP depth 3, SiLU (BaseReward-style)": (3, "silu"),
        "MLP depth 2, tanh": (2, "tanh"),
        "MLP depth 2, no activation": (2, "none"),
    }
    scores: dict[str, Any] = {}
    for name, (depth, activation) in shapes.items():
        head = MLPRewardHead(
            features.shape[1], depth=depth, hidden=HEAD["hidden"], activation=activation, seed=seed
        )
        head.fit(
            chosen, rejected, l2=1e-2, epochs=HEAD["epochs"], learning_rate=HEAD["learning_rate"]
        )
        scores[name] = head.score(features)
    ensemble = fit_head_ensemble(
        chosen, rejected, size=5, seeds=[seed * 10 + k for k in range(5)], hidden=HEAD["hidden"],
        l2=1e-2, epochs=HEAD["epochs"], learning_rate=HEAD["learning_rate"],
    )  # fmt: skip
    scores["ensemble of 5, depth 2 (BaseReward-style)"] = ensemble.score(features)
    robust = MLPRewardHead(features.shape[1], depth=2, hidden=HEAD["hidden"], seed=seed)
    robust.fit(chosen, rejected, l2=1e-2, epochs=HEAD["epochs"],
               learning_rate=HEAD["learning_rate"], weighting="ctrl_u")  # fmt: skip
    scores["Ctrl-U-style weighting, depth 2"] = robust.score(features)
    return scores


def _heron_pairs(
    rows: Sequence[dict[str, Any]], in_train: np.ndarray
) -> tuple[list[tuple[int, int]], dict[str, int]]:
    """HERON-labelled (winner, loser) pairs of the training questions."""
    from rewardkit.models import heron_margins, heron_preferences

    factors = np.array([[float(r["label"]), float(r["tokens"])] for r in rows])
    margins = heron_margins(factors[in_train])
    candidates = _same_question_pairs(rows, in_train)
    verdict = heron_preferences(factors, candidates, margins, signs=[1, -1])
    pairs = [
        (a, b) if v > 0 else (b, a) for (a, b), v in zip(candidates, verdict, strict=True) if v
    ]
    by_level = {
        "by correctness": int(sum(rows[a]["label"] != rows[b]["label"] for a, b in pairs)),
        "by length": int(sum(rows[a]["label"] == rows[b]["label"] for a, b in pairs)),
        "undecided (dropped)": int((verdict == 0).sum()),
    }
    return pairs, by_level


def _user_pairs(
    kind: str, correct: Sequence[tuple[int, int]], shorter: Sequence[tuple[int, int]],
    count: int, rng: np.random.Generator,
) -> list[tuple[int, int]]:  # fmt: skip
    pool = correct if kind == "correct" else shorter
    return [pool[i] for i in rng.choice(len(pool), size=count, replace=len(pool) < count)]


def _vpl(
    features: np.ndarray, rows: Sequence[dict[str, Any]], in_train: np.ndarray, l2: float,
    seed: int,
) -> dict[str, Any]:  # fmt: skip
    """VPL on planted users vs one pooled BT head and a BT head per type."""
    from rewardkit.models import VPLRewardModel

    rng = np.random.default_rng(30_000 + seed)
    train_pairs = {
        "correct": [p for p in pairs_of(rows, False) if in_train[p[0]]],
        "shorter": _shorter_pairs(rows, in_train, same_label=False),
    }
    test_pairs = {
        "correct": [p for p in pairs_of(rows, False) if not in_train[p[0]]],
        "shorter": _shorter_pairs(rows, ~in_train, same_label=False),
    }
    chosen: list[int] = []
    rejected: list[int] = []
    users: list[int] = []
    by_type: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for user in range(VPL_USERS):
        kind = ("correct", "shorter")[user % 2]
        for a, b in _user_pairs(
            kind, train_pairs["correct"], train_pairs["shorter"], VPL_PAIRS, rng
        ):
            chosen.append(a)
            rejected.append(b)
            users.append(user)
            by_type[kind].append((a, b))
    model = VPLRewardModel(features.shape[1], latent_dim=8, hidden=64, seed=seed)
    fitted = model.fit(features[chosen], features[rejected], np.array(users), epochs=60,
                       context_size=(2, VPL_CONTEXT), seed=seed)  # fmt: skip
    pooled = _linear(features, list(zip(chosen, rejected, strict=True)), l2)
    result: dict[str, Any] = {"train_accuracy": fitted.get("train_accuracy"), "types": {}}
    for kind in ("correct", "shorter"):
        context = _user_pairs(
            kind, train_pairs["correct"], train_pairs["shorter"], VPL_CONTEXT, rng
        )
        cc, cr = np.array(context).T
        tc, tr = np.array(test_pairs[kind]).T
        own = _linear(features, by_type[kind], l2)
        result["types"][kind] = {
            "VPL (z from 8 of the user's pairs)": model.pair_accuracy(
                features[tc], features[tr], features[cc], features[cr]
            ),
            "BT pooled over users": paired_accuracy(pooled, test_pairs[kind]),
            "BT on this type's pairs (ceiling)": paired_accuracy(own, test_pairs[kind]),
            "test_pairs": len(test_pairs[kind]),
        }
    return result


def run_build(rows: Sequence[dict[str, Any]], features: np.ndarray, seed: int) -> dict[str, Any]:
    """Every construction method on one split (see the module docs)."""
    start = time.monotonic()
    in_train = _split(rows, seed)
    train_pairs = [p for p in pairs_of(rows, False) if in_train[p[0]]]
    tests = {
        "all": [p for p in pairs_of(rows, False) if not in_train[p[0]]],
        "controlled": [p for p in pairs_of(rows, True) if not in_train[p[0]]],
        "shorter among equally right": _shorter_pairs(rows, ~in_train, same_label=True),
    }
    l2, _ = _chosen_l2(features, train_pairs, rows, seed)
    scores: dict[str, Any] = {"BT linear (baseline)": _linear(features, train_pairs, l2)}
    scores |= _heads(features, train_pairs, seed)
    heron, heron_levels = _heron_pairs(rows, in_train)
    scores["HERON labels (correct > shorter), linear"] = _linear(features, heron, l2)
    return {
        "kind": "build",
        "seed": seed,
        "l2": l2,
        "train_pairs": len(train_pairs),
        "heron_pairs": heron_levels,
        "test_pairs": {k: len(v) for k, v in tests.items()},
        "accuracy": {
            test: {name: paired_accuracy(s, pairs) for name, s in scores.items()}
            for test, pairs in tests.items()
        },
        "vpl": _vpl(features, rows, in_train, l2, seed),
        "seconds": time.monotonic() - start,
    }
