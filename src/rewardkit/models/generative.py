"""A generative "yes-token" reward model: the reward is the LM's probability of answering yes.

After RewardDance (Wu et al. 2025), which reads a reward off a generative
model's probability of the "yes" token. Here a causal LM reads

    prompt + completion + question

and the reward is P(yes | ·) renormalised over the two answer tokens,
p_yes / (p_yes + p_no), in [0, 1]. What it reads is a :class:`JudgeTemplate`:
the default (``?``, ``Y``, ``N``, no chat) suits a model trained for it; an
instruct model asked zero-shot uses :meth:`JudgeTemplate.instruct`, which puts
the question, the answer and "Is this answer correct? Reply Yes or No." in
the model's chat template and reads ``Yes`` against ``No`` as the reply's
first token. It is trained with the language-model loss
on the answer token only (cross-entropy of the yes/no target at the last
position), from labelled completions or from preference pairs (chosen → yes,
rejected → no). This is the yes-token reward alone, not RewardDance's whole
recipe (no reasoning traces, reference comparisons or scaling study).

Training is a short loop rather than TRL's ``SFTTrainer``: the target is one
token at one position, which a masked cross-entropy states in a few lines;
an SFT setup would need a completion-only collator and a chat template for
the same thing.

Example:
    >>> model = GenerativeRewardModel.tiny("0123456789+=", seed=0)
    >>> scores, truncated = model.score(["1+1="], ["2"])
    >>> bool(0.0 < scores[0] < 1.0), truncated.tolist()
    (True, [False])
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.progress import progress
from rewardkit.lm.local import load_causal_lm
from rewardkit.lm.padding import right_pad
from rewardkit.lm.tokens import encode
from rewardkit.models._common import (
    LoopTraining,
    ModelError,
    train_minibatches,
)
from rewardkit.models.base import CompletionRewardModel
from rewardkit.models.preference import read_manifest, save_model_dir

__all__ = ["GenerativeRewardModel", "GenerativeTraining", "JudgeTemplate", "yes_no_examples"]

#: the question appended to every completion, and the answer tokens (the default template)
QUESTION = "?"
YES, NO = "Y", "N"
#: marks where the completion goes in a chat-templated judge prompt
_SLOT = "\x00completion\x00"


@dataclass(frozen=True)
class JudgeTemplate:
    """What a generative reward model reads and which two tokens it weighs.

    Plain (``chat=False``): ``prompt + completion + question``, and the next token's
    ``yes`` against ``no``. Chat (``chat=True``): one user message,
    ``"{prompt}\\n\\nAnswer: {completion}\\n\\n{question}"``, in the tokenizer's chat
    template with the assistant's turn opened, and its first token's ``yes`` against
    ``no``. ``yes`` and ``no`` must each be one token of the tokenizer.

    Example:
        >>> JudgeTemplate().chat, JudgeTemplate.instruct().yes
        (False, 'Yes')
    """

    question: str = QUESTION
    yes: str = YES
    no: str = NO
    chat: bool = False

    @classmethod
    def instruct(cls) -> JudgeTemplate:
        """The zero-shot question for an instruct model, in its chat template."""
        return cls("Is this answer correct? Reply Yes or No.", "Yes", "No", chat=True)

    def pieces(self, tokenizer: Any, prompt: str) -> tuple[list[int], list[int]]:
        """Token ids before and after the completion (tokenized apart from it, so a
        completion cut to fit leaves the question whole).

        Example:
            >>> from rewardkit.models.tiny import build_char_tokenizer
            >>> tokenizer = build_char_tokenizer("ab?")
            >>> JudgeTemplate().pieces(tokenizer, "ab") == ([tokenizer.convert_tokens_to_ids(c)
            ...     for c in "ab"], [tokenizer.convert_tokens_to_ids("?")])
            True
        """
        if not self.chat:
            return encode(tokenizer, prompt), encode(tokenizer, self.question)
        # the slot follows "Answer:" and the completion brings its space (" 4"): a
        # boundary where the tokenizer splits the whole text too
        content = f"{prompt}\n\nAnswer:{_SLOT}\n\n{self.question}"
        chat = [{"role": "user", "content": content}]
        text = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        before, after = str(text).rsplit(_SLOT, 1)
        return encode(tokenizer, before), encode(tokenizer, after)


class GenerativeTraining(LoopTraining):
    """Settings of a generative reward model's training loop (see :class:`LoopTraining`)."""


def yes_no_examples(pairs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Preference pairs as labelled examples: chosen → yes, rejected → no.

    Example:
        >>> yes_no_examples([{"prompt": "q", "chosen": "a", "rejected": "b"}])
        [{'prompt': 'q', 'completion': 'a', 'label': True}, {'prompt': 'q', 'completion': 'b', \
'label': False}]
    """
    examples = []
    for pair in pairs:
        prompt = pair.get("prompt", "")
        examples.append({"prompt": prompt, "completion": pair["chosen"], "label": True})
        examples.append({"prompt": prompt, "completion": pair["rejected"], "label": False})
    return examples


class GenerativeRewardModel(CompletionRewardModel, kind="generative"):
    """P(yes | prompt, completion, question) from a causal LM (see the module docs).

    Args:
        model: a Hugging Face causal LM.
        tokenizer: its tokenizer; the question and the answer tokens must each be
            one token of it.
        max_length: tokens the model reads (default: its position limit).
        trained: whether it has been trained.
        template: what it reads and the two tokens it weighs (default: ``?``, ``Y``, ``N``).

    Example (an instruct model asked zero-shot; see ``docs/benchmarks/real-rm``):
        >>> from rewardkit import lm  # doctest: +SKIP
        >>> judge = GenerativeRewardModel(*lm.load("smollm2-135m-instruct"),
        ...                               template=JudgeTemplate.instruct())  # doctest: +SKIP
        >>> judge.score(["What is 2 + 2?"], ["2 + 2 = 4"])  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        max_length: int | None = None,
        trained: bool = False,
        template: JudgeTemplate | None = None,
    ) -> None:
        self.template = template or JudgeTemplate()
        super().__init__(model, tokenizer, max_length, trained)

    def _accept(self, model: Any, tokenizer: Any) -> None:
        if tokenizer.pad_token_id is None:
            raise ModelError("the tokenizer needs a pad token")
        yes, no = self.template.yes, self.template.no
        ids = [encode(tokenizer, t) for t in (yes, no)]
        if any(len(i) != 1 for i in ids) or ids[0] == ids[1]:
            raise ModelError(f"the tokenizer must spell {yes!r} and {no!r} as one token each")
        if self.template.chat and not getattr(tokenizer, "chat_template", None):
            raise ModelError("a chat judge template needs a tokenizer with a chat template")
        self.yes_id, self.no_id = ids[0][0], ids[1][0]

    @classmethod
    def _options(cls, manifest: Mapping[str, Any]) -> dict[str, Any]:
        return {"template": JudgeTemplate(**manifest.get("template", {}))}

    def _manifest(self) -> dict[str, Any]:
        return {**super()._manifest(), "template": asdict(self.template)}

    @classmethod
    def tiny(
        cls,
        alphabet: str,
        n_layer: int = 2,
        n_embd: int = 64,
        n_head: int = 2,
        n_positions: int = 64,
        seed: int = 0,
    ) -> GenerativeRewardModel:
        """An untrained tiny GPT-2 over a character tokenizer (the alphabet plus ?YN)."""
        from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2

        tokenizer = build_char_tokenizer(alphabet + QUESTION + YES + NO)
        model = build_tiny_gpt2(tokenizer, n_layer, n_embd, n_head, n_positions, seed=seed)
        return cls(model, tokenizer)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> GenerativeRewardModel:
        folder = Path(path)
        manifest = read_manifest(folder)
        try:
            model, tokenizer = load_causal_lm(folder)  # in eval mode
        except ConfigurationError as exc:
            raise ModelError(f"{folder} is not a generative reward model directory: {exc}") from exc
        return cls._from_manifest(model, tokenizer, manifest)

    def save(self, path: str | os.PathLike[str]) -> Path:
        manifest = {"kind": "generative", **self._manifest()}
        return save_model_dir(self.model, self.tokenizer, manifest, path)

    def _encode(
        self, prompts: Sequence[str] | None, completions: Sequence[str]
    ) -> tuple[list[list[int] | None], np.ndarray]:
        """Token ids of what the template reads; completions are cut (from their end, so the
        question stays) to fit, and marked. A chat prompt that leaves no room for any of
        the completion is None (and marked)."""
        prompts = prompts if prompts is not None else [""] * len(completions)
        rows: list[list[int] | None] = []
        truncated = np.zeros(len(completions), dtype=bool)
        question = encode(self.tokenizer, self.template.question)
        pieces: dict[str, tuple[list[int], list[int]]] = {}  # a group shares its prompt
        for index, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
            if self.template.chat:
                if prompt not in pieces:
                    pieces[prompt] = self.template.pieces(self.tokenizer, prompt)
                before, after = pieces[prompt]
                if len(before) + len(after) >= self.max_length:
                    truncated[index] = True
                    rows.append(None)
                    continue
                ids = before + encode(self.tokenizer, " " + completion)
            else:  # one piece, as the default template has always read it
                ids, after = encode(self.tokenizer, prompt + completion), question
            room = self.max_length - len(after)
            if len(ids) > room:
                truncated[index] = True
                ids = ids[:room]
            rows.append(ids + after)
        return rows, truncated

    def _last_logits(self, rows: list[list[int]], states: list[Any] | None = None) -> Any:
        """The yes and no logits at each row's last position; with ``states``, the final
        hidden state there is appended to it too (detached)."""
        import torch

        input_ids, attention = right_pad(rows, self.tokenizer.pad_token_id)
        out = self.model(input_ids=input_ids, attention_mask=attention,
                         output_hidden_states=states is not None)  # fmt: skip
        last = torch.tensor([len(r) - 1 for r in rows])
        where = torch.arange(len(rows))
        if states is not None:
            states.append(out.hidden_states[-1][where, last].detach().double().numpy())
        return out.logits[where, last][:, [self.yes_id, self.no_id]]

    def score(
        self, prompts: Sequence[str] | None, completions: Sequence[str], batch_size: int = 64
    ) -> tuple[np.ndarray, np.ndarray]:
        """p_yes / (p_yes + p_no) per completion, and the mask of truncated completions (NaN
        where a chat prompt alone fills the context: nothing of the answer is read)."""
        scores, _, truncated = self._read(prompts, completions, batch_size, False)
        return scores, truncated

    def judge_states(
        self, prompts: Sequence[str] | None, completions: Sequence[str], batch_size: int = 64
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`score` and, from the same pass, the final hidden state h at the answer
        position (NaN rows where nothing was read).

        The yes-token reward is σ((w_yes − w_no)·h + c), with w_yes and w_no the yes and
        no rows of the output layer (c their biases' difference, if it has any): training
        only those rows, the backbone frozen, is a logistic regression on h without a
        free intercept; a linear probe on h (e.g.
        :class:`~rewardkit.models.frozen_process.LogisticHead`) fits the same form with one.

        Returns:
            ``(scores, states, truncated)``: (N,), (N, d) float64 and (N,) bool.
        """
        scores, states, truncated = self._read(prompts, completions, batch_size, True)
        assert states is not None
        return scores, states, truncated

    def _read(
        self,
        prompts: Sequence[str] | None,
        completions: Sequence[str],
        batch_size: int,
        with_states: bool,
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        import torch

        encoded, truncated = self._encode(prompts, completions)
        kept = [i for i, row in enumerate(encoded) if row is not None]
        rows = [row for row in encoded if row is not None]
        scores = np.full(len(encoded), np.nan)
        width = int(self.model.config.hidden_size)
        states = np.full((len(encoded), width), np.nan) if with_states else None
        self.model.eval()
        with torch.no_grad():
            for begin in progress(range(0, len(rows), batch_size), "judge", log_every=30.0):
                found: list[Any] | None = [] if with_states else None
                pair = self._last_logits(rows[begin : begin + batch_size], found)
                where = kept[begin : begin + len(pair)]
                scores[where] = torch.softmax(pair, dim=-1)[:, 0].numpy()
                if states is not None and found:
                    states[where] = found[0]
        return scores, states, truncated

    def fit(
        self, examples: Iterable[Mapping[str, Any]], training: GenerativeTraining | None = None
    ) -> dict[str, float]:
        """Train on ``{"prompt", "completion", "label"}`` examples (see :func:`yes_no_examples`)."""
        import torch

        training = training or GenerativeTraining()
        rows = list(examples)
        if not rows or any("completion" not in r or "label" not in r for r in rows):
            raise ConfigurationError(
                "examples need 'completion' and 'label' (and may have 'prompt')"
            )
        encoded, truncated = self._encode(
            [r.get("prompt", "") for r in rows], [r["completion"] for r in rows]
        )
        unread = sum(row is None for row in encoded)
        if unread:
            raise ConfigurationError(
                f"{unread} examples have a prompt that fills the model's {self.max_length} "
                "tokens with the judge's question: shorten them or raise max_length"
            )
        targets = [0 if r["label"] else 1 for r in rows]  # index into (yes, no)

        def batch_loss(chunk: list[int]) -> Any:
            pair = self._last_logits([encoded[i] or [] for i in chunk])
            target = torch.tensor([targets[i] for i in chunk])
            return torch.nn.functional.cross_entropy(pair, target)

        self.model.train()
        start = time.monotonic()
        # linear decay to 0 and the gradient norm clipped at 1, as TRL's trainers do: with a
        # constant rate and no clipping the loss sits at ln 2 for many epochs and whether it
        # leaves that plateau turns on floating-point rounding (the BLAS kernels of the CPU)
        losses = train_minibatches(
            list(self.model.parameters()), len(encoded), training, batch_loss, decay_and_clip=True
        )
        self.model.eval()
        self.trained = True
        self.metrics = {
            "examples": float(len(rows)),
            "examples_too_long": float(truncated.sum()),
            "seconds": time.monotonic() - start,
            "final_loss": float(np.mean(losses[-10:])) if losses else float("nan"),
        }
        return dict(self.metrics)
