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
import random
import re
import warnings
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "LABELS",
    "TASKS",
    "Item",
    "build_corpus",
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


def build_corpus(
    per_task: int, seed: int, adversarial_every: int = 20, big_every: int = 400
) -> list[Item]:
    """The labelled corpus: per task ``per_task`` golds, each rendered several ways."""
    import reasoning_gym

    rng = random.Random(seed)
    items: list[Item] = []
    gold_index = 0
    for task in TASKS:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            dataset = reasoning_gym.create_dataset(task, size=per_task, seed=seed)
        for entry in dataset:
            gold = str(entry["answer"])
            for variant, text in render_correct(gold, rng):
                items.append(Item(task, gold, text, "correct", variant))
            for variant, text in render_wrong(gold, rng):
                items.append(Item(task, gold, text, "wrong", variant))
            if gold_index % adversarial_every == 0:
                big = gold_index % big_every == 0
                for variant, text in render_adversarial(gold, str(entry["question"]), big):
                    items.append(Item(task, gold, text, "adversarial", variant))
            gold_index += 1
    return items
