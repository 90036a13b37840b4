"""Cooper-style online updates of a reference-aware reward model inside RL.

Cooper (Hong et al. 2025, "Cooper: Co-Optimizing Policy and Reward Models in Reinforcement
Learning for Large Language Models", arXiv:2508.05613) rewards the policy with a reward
model (RM) r_φ(q, a, o) reading the question q, the reference answer a and the response o,
and trains the RM at every RL step: after the policy step, each prompt whose group holds a
response the rule-based verifier marks correct (high precision) gives one positive o⁺,
drawn among them; an assistant LLM rewrites it into a wrong solution o⁻ (kept if the
verifier does not find it equivalent); the RM takes a step on

    L(φ) = −1/P Σ_p log σ(r_φ(q_p, a_p, o⁺_p) − r_φ(q_p, a_p, o⁻_p)).

:class:`CooperStyleReward` is that loop as a term: ``term(batch)`` scores with the RM and
``term.update(batch)`` (which the GRPO trainer calls after each optimizer step) builds the
pairs and takes one AdamW step. The RM reads :func:`reference_prompt` + completion + EOS
(the paper's code: ``<question>``, ``<reference_answer>``, ``<completion>`` tags).

It is Cooper-*style*. Left out: the assistant-LLM rewrite and its retries (``corrupt``
is the caller's; :func:`corrupt_final_number` is a rule-based stand-in); VerifyRM, the
paper's 1.5B classifier trained before RL with binary cross-entropy on 58.7K triples
labelled by rule and LLM judge (here any :class:`PreferenceRewardModel`, scoring its raw
logit where VerifyRM gives σ(logit)); the RM's learning-rate warm-up and micro-batching
(here one step on at most ``pairs_per_update`` pairs; the paper's script: lr 1e-5, weight
decay 0.01, gradients clipped at norm 1, as here).

Example:
    >>> from rewardkit.core.term import term
    >>> @term(per_sample=True)
    ... def exact(completion, answer):
    ...     return float(completion.strip() == answer)
    >>> rm = PreferenceRewardModel.tiny("0123456789+=|>", seed=0)
    >>> cooper = CooperStyleReward(rm, exact, FinalNumberCorruption(seed=0), learning_rate=1e-3,
    ...                       markers=("|", ">"), allow_untrained=True)
    >>> batch = {"prompt": ["1+2=", "1+2=", "2+2="], "completion": ["3", "4", "5"],
    ...          "answer": ["3", "3", None], "group": [0, 0, 1]}
    >>> cooper(batch).status.tolist()  # the last row has no reference answer
    [0, 0, 1]
    >>> metrics = cooper.update(batch)  # one pair: "3" over a corrupted "3"
    >>> metrics["pairs"], metrics["accuracy"] in (0.0, 1.0), metrics["negatives_unchecked"]
    (1.0, True, 0.0)
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column, take
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.core.messages import answer_text, last_message_text
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.term import RewardTerm, Term, as_term
from rewardkit.lm.padding import right_pad
from rewardkit.models._common import ModelError
from rewardkit.models.preference import PreferenceRewardModel, bradley_terry_loss

__all__ = ["MARKERS", "CooperStyleReward", "FinalNumberCorruption", "corrupt_final_number",
           "reference_prompt", "select_positives"]  # fmt: skip

_LAST_DIGITS = re.compile(r"\d+(?!.*\d)", re.DOTALL)
#: what comes before the reference answer, and before the completion, in the RM's text
MARKERS = ("\nReference answer: ", "\nResponse: ")


def corrupt_final_number(text: str, rng: np.random.Generator) -> str | None:
    """``text`` with its last run of digits replaced by a different number (None: no digits).

    The rule-based stand-in for Cooper's assistant-LLM rewrite of a correct solution into a
    wrong one: the reasoning stays, the final number n becomes n ± d, d ∈ {1, …, 9} (minus
    only when n − d ≥ 0), so it always differs.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> corrupt_final_number("2+3=5, so 5", rng), corrupt_final_number("no number", rng)
        ('2+3=5, so 13', None)
    """
    if not isinstance(text, str):
        raise BatchError(f"corrupt_final_number reads a string, got {type(text).__name__}")
    last = _LAST_DIGITS.search(text)
    if last is None:
        return None
    value, step = int(last.group()), int(rng.integers(1, 10))
    new = value - step if value - step >= 0 and rng.random() < 0.5 else value + step
    return text[: last.start()] + str(new) + text[last.end() :]


class FinalNumberCorruption:
    """A picklable ``corrupt(prompt, completion, reference)``: :func:`corrupt_final_number`
    on the completion, with its own seeded generator."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, _prompt: str, completion: str, _reference: str) -> str | None:
        return corrupt_final_number(completion, self.rng)


def reference_prompt(prompt: str, reference: str, markers: tuple[str, str] = MARKERS) -> str:
    """The prompt side of the RM's text; the completion (and EOS) follows it.

    Example:
        >>> reference_prompt("2+3=?", "5")
        '2+3=?\\nReference answer: 5\\nResponse: '
    """
    return f"{prompt}{markers[0]}{reference}{markers[1]}"


def select_positives(
    correct: Sequence[bool] | np.ndarray, groups: Sequence[Hashable], rng: np.random.Generator
) -> list[int]:
    """One index per group holding a correct completion, drawn uniformly among its correct
    ones (Cooper's positive sample selection); groups in order of their first correct one.

    Example:
        >>> select_positives([False, True, False, False], [0, 0, 1, 1], np.random.default_rng(0))
        [1]
    """
    flags = np.asarray(correct, dtype=bool)
    if flags.ndim != 1 or len(flags) != len(groups):
        raise BatchError(f"{len(flags)} verdicts for {len(groups)} group labels")
    members: dict[Hashable, list[int]] = {}
    for index in np.flatnonzero(flags).tolist():
        members.setdefault(groups[index], []).append(index)
    return [found[int(rng.integers(len(found)))] for found in members.values()]


def _absent(value: Any) -> bool:
    """None, NaN or an empty string."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


class CooperStyleReward(RewardTerm):
    """A reference-aware RM's score of each completion, updated online on verifier-correct
    positives against corrupted negatives (module docstring).

    Args:
        reward_model: the RM; its torch model is updated in place.
        verifier: a term (or plain function) scoring 1.0 for a correct completion;
            anything else (0, partial credit, NaN, an error) is not a positive.
        corrupt: ``(prompt, completion, reference) -> str | None``: a wrong rewrite of a
            correct completion; None (or the completion unchanged) means no pair.
        reference_column: the column holding the reference answer.
        learning_rate: AdamW's (the paper's 1e-5 for a 1.5B RM; a tiny RM needs ~1e-3).
        pairs_per_update: the most pairs one update trains on (groups drawn at random).
        seed: of the positive choice and the draw of groups.
        markers: the text before the reference and before the completion (module doc).
        allow_untrained: accept an RM that was never fitted (tests of the plumbing).
        name: the term's name.

    Scoring: a row without a prompt or reference (None, NaN or "") or too long for the RM
    (its final answer would be cut) is NOT_APPLICABLE. ``update`` returns ``pairs`` (trained
    on), ``positives``, ``negatives_missing``, ``negatives_rejected`` (rewrites the verifier
    still marks correct) and, after a step, ``loss`` and ``accuracy`` (before the step).
    """

    max_grad_norm = 1.0

    def __init__(
        self,
        reward_model: PreferenceRewardModel,
        verifier: Term | Callable[..., Any],
        corrupt: Callable[[str, str, str], str | None],
        reference_column: str = "answer",
        learning_rate: float = 1e-5,
        pairs_per_update: int = 64,
        seed: int = 0,
        markers: tuple[str, str] = MARKERS,
        allow_untrained: bool = False,
        name: str = "cooper",
    ) -> None:
        super().__init__(name)
        if not isinstance(reward_model, PreferenceRewardModel):
            raise ConfigurationError(f"not a PreferenceRewardModel: {type(reward_model).__name__}")
        if not (reward_model.trained or allow_untrained):
            raise ModelError(f"{name}: the RM is untrained: fit() it or pass allow_untrained=True")
        if not callable(corrupt):
            raise ConfigurationError("corrupt must be a callable (prompt, completion, reference)")
        if not (isinstance(learning_rate, int | float) and 0 < learning_rate < math.inf):
            raise ConfigurationError(f"learning_rate must be positive, got {learning_rate}")
        if type(pairs_per_update) is not int or pairs_per_update < 1:
            raise ConfigurationError(f"pairs_per_update must be an int >= 1: {pairs_per_update!r}")
        self.reward_model = reward_model
        self.verifier = as_term(verifier)
        self.corrupt = corrupt
        self.reference_column = reference_column
        self.columns = ("prompt", "completion", reference_column)
        self.learning_rate = float(learning_rate)
        self.pairs_per_update = pairs_per_update
        self.rng = np.random.default_rng(seed)
        self.markers = (str(markers[0]), str(markers[1]))
        self.optimizer: Any = None

    def _rows(self, batch: Batch) -> tuple[list[str | None], list[str], list[str | None]]:
        """Each row's RM head (:func:`reference_prompt`), completion text, and why the row
        cannot be scored (None: it can)."""
        prompts = get_column(batch, "prompt")
        completions = [answer_text(c) for c in get_column(batch, "completion")]
        references = get_column(batch, self.reference_column)
        reasons = ["no prompt" if _absent(p) else "no reference answer" if _absent(r) else None
                   for p, r in zip(prompts, references, strict=True)]  # fmt: skip
        heads = [None if why else reference_prompt(last_message_text(p), str(r), self.markers)
                 for p, r, why in zip(prompts, references, reasons, strict=True)]  # fmt: skip
        return heads, completions, reasons

    def _compute(self, batch: Batch) -> RewardOutput:
        heads, completions, reasons = self._rows(batch)
        n = len(heads)
        values, status = np.full(n, np.nan), np.zeros(n, dtype=np.int8)
        messages = list(reasons)
        rows = [i for i in range(n) if reasons[i] is None]
        if rows:
            scores, truncated = self.reward_model.score(
                [heads[i] or "" for i in rows], [completions[i] for i in rows]
            )
            for k, i in enumerate(rows):
                if truncated[k]:
                    messages[i] = f"truncated: longer than the RM's {self.reward_model.max_length}"
                elif math.isnan(scores[k]):  # a broken model, not an abstention
                    status[i], messages[i] = Status.ERROR, "the reward model returned NaN"
                values[i] = np.nan if truncated[k] else scores[k]
        status[(status == Status.OK) & np.isnan(values)] = Status.NOT_APPLICABLE
        return RewardOutput(values, status=status, messages=tuple(messages))

    def pairs(self, batch: Batch) -> tuple[list[dict[str, str]], dict[str, float]]:
        """The update's ``{"prompt", "chosen", "rejected"}`` pairs (``prompt`` is the RM's
        head, :func:`reference_prompt`), in batch order, and the counts behind them."""
        heads, completions, reasons = self._rows(batch)
        verdict = self.verifier(batch)
        correct = verdict.ok & (verdict.total == 1.0) & np.array([r is None for r in reasons])
        groups = list(batch["group"]) if "group" in batch else heads
        positives = select_positives(correct, groups, self.rng)
        candidates: list[tuple[int, str]] = []
        missing = 0
        for i in self.rng.permutation(positives).tolist() if positives else []:
            if len(candidates) == self.pairs_per_update:
                break
            prompt = last_message_text(batch["prompt"][i])
            negative = self.corrupt(prompt, completions[i], str(batch[self.reference_column][i]))
            if negative is not None and not isinstance(negative, str):
                raise BatchError(f"corrupt returned a {type(negative).__name__}, not a string")
            if negative is None or negative.strip() == completions[i].strip():
                missing += 1
            else:
                candidates.append((i, negative))
        candidates.sort()
        rejected = np.zeros(len(candidates), dtype=bool)
        unchecked = np.zeros(len(candidates), dtype=bool)
        if candidates:  # a rewrite the verifier still marks correct is no negative, and
            # one it could not check (an error, a timeout) is not known to be wrong
            rows = take(batch, [i for i, _ in candidates])
            rows["completion"] = [negative for _, negative in candidates]
            check = self.verifier(rows)
            rejected = check.ok & (check.total == 1.0)
            unchecked = ~check.ok
        pairs = [
            {"prompt": heads[i] or "", "chosen": completions[i], "rejected": negative}
            for (i, negative), bad in zip(candidates, rejected | unchecked, strict=True)
            if not bad
        ]
        counts = {"positives": len(positives), "negatives_missing": missing,
                  "negatives_rejected": int(rejected.sum()),
                  "negatives_unchecked": int(unchecked.sum())}  # fmt: skip
        return pairs, {key: float(value) for key, value in counts.items()}

    def update(self, batch: Batch) -> dict[str, float]:
        """Build the pairs and take one AdamW step of the Bradley–Terry loss on them."""
        pairs, counts = self.pairs(batch)
        return {"pairs": 0.0, **counts, **(self._step(pairs) if pairs else {})}

    def _step(self, pairs: list[dict[str, str]]) -> dict[str, float]:
        import torch

        rm = self.reward_model
        heads = [pair["prompt"] for pair in pairs]
        chosen = rm.tokenizer(rm._texts(heads, [p["chosen"] for p in pairs]))["input_ids"]
        rejected = rm.tokenizer(rm._texts(heads, [p["rejected"] for p in pairs]))["input_ids"]
        keep = [k for k in range(len(pairs))
                if max(len(chosen[k]), len(rejected[k])) <= rm.max_length]  # fmt: skip
        if not keep:
            return {}
        ids, attention = right_pad([chosen[k] for k in keep] + [rejected[k] for k in keep],
                                   rm.tokenizer.pad_token_id)  # fmt: skip
        model = rm.model
        model.eval()  # no dropout: the step's scores are the scores the term gives
        if self.optimizer is None:  # made once: AdamW's moments carry across updates
            self.optimizer = torch.optim.AdamW(model.parameters(), lr=self.learning_rate)
        scores = model(input_ids=ids, attention_mask=attention).logits.squeeze(-1).float()
        r_pos, r_neg = scores[: len(keep)], scores[len(keep) :]
        loss = bradley_terry_loss(r_pos, r_neg)
        self.optimizer.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), self.max_grad_norm)
        if torch.isfinite(norm):
            self.optimizer.step()
        else:
            warnings.warn(f"{self.name}: non-finite RM gradient, step skipped", stacklevel=3)
        self.optimizer.zero_grad()
        accuracy = float((r_pos > r_neg).float().mean())
        return {"pairs": float(len(keep)), "loss": float(loss.detach()), "accuracy": accuracy}
