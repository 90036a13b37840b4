"""What counts as equal: the math verifier's policy, one switch per rule.

Every default matches Hugging Face math-verify 0.9 (``parse``/``verify`` with
their defaults), whose regression corpus is the field's record of real model
outputs; a switch changes one rule and nothing else. The policy travels with
each job to the worker (``verify._math_worker``), which applies it around
math-verify.

=====================  ==========================  ==========================================
rule                   parameter (default)         what the default means
=====================  ==========================  ==========================================
numeric tolerance      ``float_rounding=6``,       a number written with decimals equals
                       ``rel_tol=None``            another when both round to the same 6
                                                   decimals; integers and fractions compare
                                                   exactly. ``rel_tol`` replaces rounding
                                                   with ``|a-b| <= rel_tol*max(|a|,|b|)``
percent                ``percent="lenient"``       ``50\\%`` equals 50 and 0.5; a gold
                                                   ``50\\%`` equals 50. ``"strict"``: ``p%``
                                                   is p/100 only
units and currency     ``units=True``              unit words (``5 \\text{ cm}``) are dropped;
                                                   ``False`` keeps them (5 cm is not 5). A
                                                   currency sign is always dropped
thousands separators   ``thousands_separator=      ``7,425,000`` is 7425000; ``False`` reads
                       True``                      it as the list 7, 425, 000
decimal comma          ``decimal_comma=False``     ``3,5`` is the list {3, 5}; ``True`` reads
                                                   it as 3.5
answer lists           ``ordered_lists=False``     a bare list ``3,2,1`` is a set: it equals
                                                   ``1,2,3``. ``True`` compares in order
sets, tuples,          (none)                      a tuple in order; a set in any order
intervals                                          (written as a set or a tuple); intervals
                                                   with their open/closed ends
variables              ``strict=True``             names matter (``x+y`` is not ``a+b``);
                                                   ``False`` matches variables by position
relations              ``set_relation=False``      direction always matters (``x<2`` is not
                                                   ``x>2``, ``2>x`` is ``x<2``). ``True``
                                                   lets ``1<x<2`` match the interval (1, 2)
assignment             ``assignment=True``         ``x = 3`` equals 3; ``False`` needs the
                                                   same form on both sides
matrices               (none)                      same shape, entries under the numeric rule
unevaluated            ``evaluate=True``           ``2+3``, ``\\sqrt{16}``, ``4!`` equal a
expressions                                        gold number; ``False``: a gold number
                                                   needs a number literal (repeating the
                                                   question's arithmetic does not score)
degrees and radians    ``degrees_as_radians=       ``90^\\circ`` equals 90 (the sign is
                       False``                     dropped); ``True`` also lets it equal
                                                   ``\\frac{\\pi}{2}``
the question's own     ``question_expressions=     with prompts given, an unevaluated
expression             False``                     expression copied from the question
                                                   (``1663 * 5242`` for "Solve 1663 *
                                                   5242") is not an answer. math-verify
                                                   sees no prompt; the adversarial corpus
                                                   shows why this default differs
=====================  ==========================  ==========================================

Example:
    >>> MathPolicy(percent="strict").percent
    'strict'
    >>> MathPolicy.coerce({"rel_tol": 0.01}).rel_tol
    0.01
    >>> MathPolicy(percent="maybe")
    Traceback (most recent call last):
    ...
    ValueError: percent must be one of ('lenient', 'strict'), got 'maybe'
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PERCENT_MODES", "MathPolicy"]

PERCENT_MODES = ("lenient", "strict")


@dataclass(frozen=True)
class MathPolicy:
    """What the math verifier counts as equal; see the module's table."""

    float_rounding: int = 6
    rel_tol: float | None = None
    percent: str = "lenient"
    units: bool = True
    thousands_separator: bool = True
    decimal_comma: bool = False
    ordered_lists: bool = False
    strict: bool = True
    set_relation: bool = False
    assignment: bool = True
    evaluate: bool = True
    degrees_as_radians: bool = False
    question_expressions: bool = False

    def __post_init__(self) -> None:
        if self.percent not in PERCENT_MODES:
            raise ValueError(f"percent must be one of {PERCENT_MODES}, got {self.percent!r}")
        if isinstance(self.float_rounding, bool) or not isinstance(self.float_rounding, int):
            raise ValueError(f"float_rounding must be an int, got {self.float_rounding!r}")
        if not 0 <= self.float_rounding <= 30:
            raise ValueError(f"float_rounding must be in [0, 30], got {self.float_rounding}")
        if self.rel_tol is not None and not (
            isinstance(self.rel_tol, int | float)
            and math.isfinite(self.rel_tol)
            and 0 <= self.rel_tol < 1
        ):
            raise ValueError(f"rel_tol must be None or a number in [0, 1), got {self.rel_tol!r}")
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.type == "bool" and not isinstance(value, bool):
                raise ValueError(f"{field.name} must be True or False, got {value!r}")

    @classmethod
    def coerce(cls, policy: MathPolicy | Mapping[str, Any] | None) -> MathPolicy:
        """A policy from a policy, a mapping of its fields (e.g. from YAML), or None."""
        if policy is None:
            return cls()
        if isinstance(policy, MathPolicy):
            return policy
        if not isinstance(policy, Mapping):
            raise ValueError(f"policy must be a MathPolicy or a mapping, got {policy!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(policy) - known
        if unknown:
            raise ValueError(
                f"unknown policy fields {sorted(unknown)}; choose from {sorted(known)}"
            )
        return cls(**policy)

    def as_dict(self) -> dict[str, Any]:
        """The fields, for sending to a worker."""
        return dataclasses.asdict(self)

    @property
    def is_default(self) -> bool:
        """True when every rule is math-verify's."""
        return self == MathPolicy()
