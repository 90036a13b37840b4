"""``RewardOutput``: a reward's values, per-term breakdown and per-sample status.

A sample whose reward cannot be computed is *not* scored 0.0: its total is
NaN and its status says why (not applicable, timeout, error). Downstream,
group advantages skip NaN samples, so a verifier timeout never reads as a
wrong answer.

Example:
    >>> out = RewardOutput.from_values([1.0, None, 0.5], name="correct")
    >>> out.total
    array([1. , nan, 0.5])
    >>> [Status(s).name for s in out.status]
    ['OK', 'NOT_APPLICABLE', 'OK']
    >>> out.terms["correct"] is out.total
    True
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.errors import RewardCheckError

__all__ = [
    "FloatArray",
    "RewardOutput",
    "Status",
    "concat_outputs",
    "failed_output",
    "worst_status",
]

FloatArray = npt.NDArray[np.float64]


class Status(enum.IntEnum):
    """Why a sample has (or has no) reward. Larger values are worse."""

    OK = 0
    NOT_APPLICABLE = 1
    TIMEOUT = 2
    ERROR = 3


def worst_status(*statuses: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    """Elementwise worst status (ERROR > TIMEOUT > NOT_APPLICABLE > OK).

    Example:
        >>> worst_status(np.array([0, 1, 3], np.int8), np.array([2, 0, 0], np.int8))
        array([2, 1, 3], dtype=int8)
    """
    worst: npt.NDArray[np.int8] = np.maximum.reduce(
        [np.asarray(s, dtype=np.int8) for s in statuses]
    ).astype(np.int8)
    return worst


def _as_float_vector(values: Any, what: str) -> FloatArray:
    if isinstance(values, np.ndarray):
        array = values
    else:
        array = np.asarray(
            [np.nan if v is None else v for v in values] if isinstance(values, Sequence) else values
        )
    if np.issubdtype(array.dtype, np.bool_):
        raise RewardCheckError(
            f"{what} must be numbers, got booleans: convert them on purpose (float(x))"
        )
    if np.issubdtype(array.dtype, np.complexfloating):
        raise RewardCheckError(f"{what} must be real numbers, got complex values")
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise RewardCheckError(f"{what} must be numeric, got dtype {array.dtype}")
    if array.ndim != 1:
        raise RewardCheckError(f"{what} must have shape (N,), got {array.shape}")
    return array.astype(np.float64, copy=False)


@dataclass(frozen=True)
class RewardOutput:
    """The result of calling a term on a batch.

    Attributes:
        total: float64 array (N,). NaN exactly where ``status != OK``.
        terms: name → float64 array (N,), the breakdown for logging. A leaf term
            has one entry (its own name); composed terms list their parts, with
            nested parts as ``"parent/child"``.
        status: int8 array (N,) of :class:`Status` values.
        messages: optional per-sample text explaining a non-OK status
            (``None`` where nothing is to be said).
    """

    total: FloatArray
    terms: Mapping[str, FloatArray] = field(default_factory=dict)
    status: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    messages: tuple[str | None, ...] | None = None

    def __post_init__(self) -> None:
        total = _as_float_vector(self.total, "total")
        n = total.shape[0]
        status = np.asarray(self.status, dtype=np.int8)
        if status.shape == (0,) and n:
            status = np.where(np.isnan(total), Status.NOT_APPLICABLE, Status.OK).astype(np.int8)
        if status.shape != (n,):
            raise RewardCheckError(f"status has shape {status.shape}, total has ({n},)")
        if np.any((status < Status.OK) | (status > Status.ERROR)):
            raise RewardCheckError("status values must be rewardkit.core.Status members (0..3)")
        # A non-OK sample has no reward, whatever number the term left there.
        if np.any(status != Status.OK):
            total = np.where(status == Status.OK, total, np.nan)
        terms = {k: _as_float_vector(v, f"terms[{k!r}]") for k, v in self.terms.items()}
        for name, values in terms.items():
            if values.shape != (n,):
                raise RewardCheckError(f"terms[{name!r}] has shape {values.shape}, expected ({n},)")
        if self.messages is not None and len(self.messages) != n:
            raise RewardCheckError(f"messages has {len(self.messages)} entries, expected {n}")
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "terms", terms)

    @classmethod
    def from_values(
        cls,
        values: Any,
        *,
        name: str | None = None,
        status: Any = None,
        messages: Sequence[str | None] | None = None,
    ) -> RewardOutput:
        """Build an output from per-sample values; ``None``/NaN become NOT_APPLICABLE.

        Args:
            values: sequence or array of N numbers, ``None`` allowed.
            name: if given, ``terms`` gets one entry under this name.
            status: optional explicit statuses; default derives them from NaN.
            messages: optional per-sample explanations.
        """
        total = _as_float_vector(values, "reward values")
        if status is None:
            status_array = np.where(np.isnan(total), Status.NOT_APPLICABLE, Status.OK)
        else:
            status_array = np.asarray(status)
        out = cls(
            total=total,
            status=status_array.astype(np.int8),
            messages=None if messages is None else tuple(messages),
        )
        if name is not None:
            object.__setattr__(out, "terms", {name: out.total})
        return out

    def __len__(self) -> int:
        return int(self.total.shape[0])

    @property
    def ok(self) -> npt.NDArray[np.bool_]:
        """Boolean mask of samples with a reward."""
        mask: npt.NDArray[np.bool_] = self.status == Status.OK
        return mask

    def status_counts(self) -> dict[str, int]:
        """Number of samples per status name.

        Example:
            >>> RewardOutput.from_values([1.0, None]).status_counts()
            {'OK': 1, 'NOT_APPLICABLE': 1, 'TIMEOUT': 0, 'ERROR': 0}
        """
        return {s.name: int(np.sum(self.status == s)) for s in Status}

    def summary(self) -> dict[str, dict[str, float]]:
        """Per-term (and total) mean/std/min/max over applicable samples, for logging.

        Example:
            >>> RewardOutput.from_values([1.0, 3.0, None], name="r").summary()["r"]["mean"]
            2.0
        """
        rows: dict[str, dict[str, float]] = {}
        for name, values in {**self.terms, "total": self.total}.items():
            rows[name] = summarize(values)
        return rows

    def table(self) -> str:
        """The per-term summary as an aligned text table."""
        return format_table(
            ["term", "mean", "std", "min", "max", "n/a"],
            [
                [
                    name,
                    *(f"{row[k]:.4g}" for k in ("mean", "std", "min", "max")),
                    f"{row['frac_nan']:.0%}",
                ]
                for name, row in self.summary().items()
            ],
        )


def failed_output(
    count: int, status: Status, message: str, names: Sequence[str] = ()
) -> RewardOutput:
    """``count`` samples without a reward: all ``status`` (timeout, error, ...) with
    ``message``, and NaN for every term in ``names``.

    Example:
        >>> failed_output(2, Status.TIMEOUT, "too slow", ["length"]).status.tolist()
        [2, 2]
    """
    nan = np.full(count, np.nan)
    codes = np.full(count, int(status), dtype=np.int8)
    return RewardOutput(nan.copy(), {name: nan.copy() for name in names}, codes, (message,) * count)


def concat_outputs(parts: Sequence[RewardOutput]) -> RewardOutput:
    """The outputs of consecutive chunks of one batch, joined in order; a term missing from a
    chunk (a chunk that failed) is NaN there.

    Example:
        >>> a = RewardOutput(np.array([1.0]), {"x": np.array([1.0])})
        >>> b = failed_output(1, Status.ERROR, "boom")
        >>> joined = concat_outputs([a, b])
        >>> joined.total.tolist(), joined.terms["x"].tolist(), joined.messages
        ([1.0, nan], [1.0, nan], (None, 'boom'))
    """
    if not parts:
        return RewardOutput(np.empty(0), {}, np.empty(0, dtype=np.int8), ())
    names = list(dict.fromkeys(name for part in parts for name in part.terms))
    terms = {
        name: np.concatenate([part.terms.get(name, np.full(len(part), np.nan)) for part in parts])
        for name in names
    }
    messages: list[str | None] = []
    for part in parts:
        messages.extend(part.messages or (None,) * len(part))
    return RewardOutput(
        np.concatenate([part.total for part in parts]),
        terms,
        np.concatenate([part.status for part in parts]).astype(np.int8),
        tuple(messages),
    )


def summarize(values: FloatArray) -> dict[str, float]:
    """Mean, std, min, max of the non-NaN entries and the NaN fraction.

    Example:
        >>> summarize(np.array([1.0, np.nan, 3.0]))["frac_nan"]
        0.3333333333333333
    """
    missing = np.isnan(values)
    finite = values[~missing]
    if finite.size == 0:
        nan = float("nan")
        return {"mean": nan, "std": nan, "min": nan, "max": nan, "frac_nan": 1.0}
    return {
        "mean": float(finite.mean()),
        "std": float(finite.std()),
        "min": float(finite.min()),
        "max": float(finite.max()),
        "frac_nan": float(missing.mean()),
    }


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-align the first column, right-align the others.

    Example:
        >>> print(format_table(["a", "b"], [["x", "1"], ["yy", "22"]]))
        a    b
        x    1
        yy  22
    """
    table = [list(header), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for row in table:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
