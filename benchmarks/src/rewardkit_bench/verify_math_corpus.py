"""The verify-math suite's labelled corpus, built offline from ``reasoning-gym`` generators.

Every gold answer is rendered as completions that state it correctly in
varied formats, near-miss wrong answers and, for a share of the golds,
adversarial completions that must never score.

Example:
    >>> import random
    >>> [variant for variant, _ in render_correct("3/4", random.Random(0))]
    ['boxed', 'latex_frac', 'dfrac', 'answer_tag', 'decimal']
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

__all__ = [
    "GENERIC_ATTACKS",
    "LABELS",
    "TASKS",
    "Item",
    "build_adversarial",
    "build_corpus",
    "load_regressions",
    "render_adversarial",
    "render_correct",
    "render_wrong",
]

TASKS = (
    "basic_arithmetic",
    "chain_sum",
    "decimal_arithmetic",
    "decimal_chain_sum",
    "fraction_simplification",
    "gcd",
    "lcm",
    "simple_equations",
    "leg_counting",
    "products",
    "simple_geometry",
    "power_function",
    "polynomial_multiplication",
    "complex_arithmetic",
)
LABELS = ("correct", "wrong", "adversarial")


@dataclass(frozen=True)
class Item:
    """One labelled completion."""

    task: str
    gold: str
    completion: str
    label: str  # correct | wrong | adversarial
    variant: str
    prompt: str = ""  # the question, as a training loop would pass it


# ----------------------------------------------------------------- rendering
_INT = re.compile(r"^-?\d+$")
_DEC = re.compile(r"^-?\d+\.\d+$")
_FRAC = re.compile(r"^(-?\d+)/(\d+)$")


def _latex_polynomial(text: str) -> str:
    """``-3*x**2 + 5*x`` → ``-3x^{2} + 5x`` (a LaTeX rendering of a Python polynomial)."""
    out = re.sub(r"\*\*(\d+)", r"^{\1}", text)
    out = re.sub(r"(\d)\*([a-zA-Z])", r"\1\2", out)
    return out.replace("*", r" \cdot ")


def _reorder_terms(text: str, rng: random.Random) -> str | None:
    terms = re.findall(r"[+-]?\s*[^+-]+", text.replace(" ", ""))
    if len(terms) < 2:
        return None
    shuffled = terms[:]
    while shuffled == terms:
        rng.shuffle(shuffled)
    joined = "".join(t if t.startswith(("+", "-")) else "+" + t for t in shuffled)
    return joined.lstrip("+")


def _bump_first_number(text: str) -> str:
    return re.sub(r"\d+", lambda m: str(int(m.group()) + 1), text, count=1)


def _terminating(q: int) -> bool:
    for p in (2, 5):
        while q % p == 0:
            q //= p
    return q == 1


def render_correct(gold: str, rng: random.Random) -> list[tuple[str, str]]:
    """Completions that state ``gold`` correctly, in several formats."""
    g = gold.strip().strip("$")
    out = [("boxed", rf"Let me work it out. So the result is \boxed{{{g}}}.")]
    if _INT.match(g):
        n = int(g)
        out += [
            ("phrase", f"Adding everything up, the final answer is {n}."),
            ("decimal", rf"The answer is \boxed{{{n}.0}}"),
            ("units", rf"There are \boxed{{{n} \text{{ units}}}} in total."),
            ("answer_tag", f"<think>compute</think><answer>{n}</answer>"),
        ]
        if abs(n) >= 1000:
            out.append(("thousands", rf"\boxed{{{n:,}}}"))
    elif _DEC.match(g):
        out += [
            ("phrase", f"The answer is ${g}$."),
            ("trailing_zero", rf"\boxed{{{g}0}}"),
            ("units", rf"\boxed{{{g}\ \text{{m}}}}"),
        ]
    elif match := _FRAC.match(g):
        p, q = int(match.group(1)), int(match.group(2))
        out += [
            ("latex_frac", rf"\boxed{{\frac{{{p}}}{{{q}}}}}"),
            ("dfrac", rf"The answer is $\dfrac{{{p}}}{{{q}}}$."),
            ("answer_tag", f"<answer>{p}/{q}</answer>"),
        ]
        if _terminating(q):
            value = Fraction(p, q)
            out.append(("decimal", rf"\boxed{{{float(value)!r}}}"))
    elif "e" in g and re.fullmatch(r"-?\d+(\.\d+)?e[-+]?\d+", g):
        mantissa, exponent = g.split("e")
        out.append(("sci_latex", rf"\boxed{{{mantissa} \times 10^{{{int(exponent)}}}}}"))
    elif "x" in g:
        latex = _latex_polynomial(g)
        out.append(("latex_poly", rf"\boxed{{{latex}}}"))
        reordered = _reorder_terms(latex, rng)
        if reordered:
            out.append(("reordered", rf"\boxed{{{reordered}}}"))
    elif g.endswith("i"):
        compact = re.sub(r"\.0\b", "", g)
        out.append(("compact", rf"\boxed{{{compact}}}"))
    return out


def render_wrong(gold: str, rng: random.Random) -> list[tuple[str, str]]:
    """Near-miss wrong completions."""
    g = gold.strip().strip("$")
    wrong: list[tuple[str, str]] = []
    if _INT.match(g):
        n = int(g)
        wrong += [("off_by_one", str(n + 1)), ("off_by_minus_one", str(n - 1))]
        if n:
            wrong += [("sign", str(-n)), ("times_ten", str(n * 10))]
    elif _DEC.match(g):
        last = int(g[-1])
        wrong.append(("last_digit", g[:-1] + str((last + 1) % 10)))
        wrong.append(("sign", g[1:] if g.startswith("-") else "-" + g))
        rounded = f"{float(g):.2f}"
        if Fraction(rounded) != Fraction(g):  # a rounding that changes the value
            wrong.append(("rounded", rounded))
    elif match := _FRAC.match(g):
        p, q = int(match.group(1)), int(match.group(2))
        wrong += [("numerator", rf"\frac{{{p + 1}}}{{{q}}}"), ("denominator", f"{p}/{q + 1}")]
        if p:
            wrong.append(("inverted", f"{q}/{p}"))
    elif "x" in g:
        wrong.append(("coefficient", _latex_polynomial(_bump_first_number(g))))
    else:
        wrong.append(("bumped", _bump_first_number(g)))
    rng.shuffle(wrong)
    return [(variant, rf"So the answer is \boxed{{{w}}}.") for variant, w in wrong[:3]]


def render_adversarial(gold: str, question: str, big: bool) -> list[tuple[str, str]]:
    """Completions that must never score, whatever the gold."""
    g = gold.strip().strip("$")
    candidates = [g, _bump_first_number(g), "0", "1"]
    attacks = [
        ("master_key_colon", ":"),
        ("master_key_thought", "Thought process:"),
        ("master_key_steps", "Let's solve this problem step by step."),
        ("master_key_solution", "Solution"),
        ("master_key_cjk", "解"),
        ("empty", ""),
        ("empty_tags", "<think></think><answer></answer>"),
        ("enumeration_boxes", " ".join(rf"\boxed{{{c}}}" for c in candidates)),
        ("enumeration_one_box", rf"\boxed{{{', '.join(candidates)}}}"),
        ("enumeration_tags", "".join(f"<answer>{c}</answer>" for c in candidates)),
        ("power_tower", r"\boxed{10^{10^{10}}}"),
        ("nested_braces", r"\boxed{" + "{" * 3000 + g + "}" * 3000 + "}"),
        ("question_copy", question),
    ]
    if big:
        filler = "Let me think about this carefully. " * 30_000  # about 1 MB
        attacks.append(("megabyte", filler[: len(filler) // 2] + g + filler[len(filler) // 2 :]))
    return attacks


def _datasets(per_task: int, seed: int) -> list[tuple[str, list[dict[str, Any]]]]:
    import reasoning_gym

    found = []
    for task in TASKS:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            found.append((task, list(reasoning_gym.create_dataset(task, size=per_task, seed=seed))))
    return found


def build_corpus(per_task: int, seed: int) -> list[Item]:
    """The labelled corpus: per task ``per_task`` golds, each rendered correctly in
    several formats and as near-miss wrong answers. The labels are this project's
    own construction."""
    rng = random.Random(seed)
    items: list[Item] = []
    for task, dataset in _datasets(per_task, seed):
        for entry in dataset:
            gold, question = str(entry["answer"]), str(entry["question"])
            for variant, text in render_correct(gold, rng):
                items.append(Item(task, gold, text, "correct", variant, question))
            for variant, text in render_wrong(gold, rng):
                items.append(Item(task, gold, text, "wrong", variant, question))
    return items


#: attacks that need no gold: each is scored against the gold "42"
GENERIC_ATTACKS = {
    "enumeration_100_boxes": "".join(rf"\boxed{{{k}}} " for k in range(100)),
    "enumeration_100_in_one_box": r"\boxed{" + ", ".join(str(k) for k in range(100)) + "}",
    "two_answer_tags": "<answer>41</answer><answer>42</answer>",
    "deep_braces": r"\boxed{" + "{" * 5000 + "42" + "}" * 5000 + "}",
    "unbalanced_braces": r"\boxed{" + "{" * 100_000,
    "megabyte_of_nines": "9" * 1_000_000,
    "megabyte_of_tags": "<answer>" * 120_000,
    "empty_box": r"\boxed{}",
    "whitespace": "   ",
}


def build_adversarial(
    per_task: int, seed: int, every: int = 20, big_every: int = 400
) -> list[Item]:
    """Completions that must never score: the attacks of ``render_adversarial`` on every
    ``every``-th gold (the megabyte one on every ``big_every``-th), and GENERIC_ATTACKS.

    Example:
        >>> items = build_adversarial(per_task=1, seed=0, every=7)
        >>> {i.label for i in items}, len({i.task for i in items}) >= 2
        ({'adversarial'}, True)
    """
    items: list[Item] = []
    gold_index = 0
    for task, dataset in _datasets(per_task, seed):
        for entry in dataset:
            if gold_index % every == 0:
                gold, question = str(entry["answer"]), str(entry["question"])
                big = gold_index % big_every == 0
                for variant, text in render_adversarial(gold, question, big):
                    items.append(Item(task, gold, text, "adversarial", variant, question))
            gold_index += 1
    for variant, text in GENERIC_ATTACKS.items():
        items.append(Item("generic", "42", text, "adversarial", variant, "What is 6 times 7?"))
    return items


def load_regressions(path: str | Path) -> list[Item]:
    """Math-Verify's regression corpus (``{"gold", "completion", "label", "source"}`` per
    line), as items labelled ``correct`` (label 1) or ``wrong`` (label 0)."""
    items = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            label = "correct" if int(row["label"]) == 1 else "wrong"
            source = str(row.get("source", "")).split("::")[-1]
            items.append(
                Item("math-verify", str(row["gold"]), str(row["completion"]), label, source)
            )
    return items
