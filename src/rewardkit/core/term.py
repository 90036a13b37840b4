"""The term protocol, the ``@term`` decorator and the ``update()`` convention.

A **term** is a named, picklable callable ``term(batch) -> RewardOutput``.
Write one in either of two ways:

* a plain function decorated with :func:`term`; its parameters name the
  columns it reads (as TRL passes dataset columns as keyword arguments);
* a small callable class deriving from :class:`RewardTerm` that implements
  ``_compute(batch)``; parameters go in ``__init__`` (like TRL reward factories).

Stateful terms (normalizers, RND, ...) override ``update(batch) -> metrics``;
stateless terms inherit the no-op.

Example:
    >>> @term
    ... def exact(completion, answer):
    ...     return [float(c.strip() == a) for c, a in zip(completion, answer)]
    >>> exact({"completion": ["4 ", "5"], "answer": ["4", "4"]}).total
    array([1., 0.])
    >>> exact.name, exact.columns
    ('exact', ('completion', 'answer'))
"""

from __future__ import annotations

import abc
import functools
import importlib
import inspect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rewardkit.core.batch import Batch, batch_size, get_column
from rewardkit.core.errors import CompositionError, RewardCheckError
from rewardkit.core.messages import mark_unanswered
from rewardkit.core.output import RewardOutput, Status

__all__ = ["FunctionTerm", "RewardTerm", "Term", "as_term", "column_names", "term", "validate_name"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def validate_name(name: str) -> str:
    """Check that ``name`` can be a logging key (letters, digits, ``_ . -``).

    Example:
        >>> validate_name("format_bonus")
        'format_bonus'
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise CompositionError(
            f"invalid term name {name!r}: use letters, digits, '_', '.' or '-', "
            "starting with a letter or '_' (it becomes a logging key)"
        )
    return name


@runtime_checkable
class Term(Protocol):
    """Anything with a ``name`` that maps a batch to a :class:`RewardOutput`."""

    name: str

    def __call__(self, batch: Batch) -> RewardOutput: ...

    def update(self, batch: Batch) -> Mapping[str, float]: ...


class RewardTerm(abc.ABC):
    """Base class of parameterized and stateful terms.

    ``__call__`` does the bookkeeping (checks the batch, wraps the result in a
    :class:`RewardOutput` with this term's name) and calls the hook
    ``_compute(batch)``, which returns per-sample values (``None``/NaN for
    not applicable) or a full :class:`RewardOutput`.

    Example:
        >>> class Constant(RewardTerm):
        ...     def __init__(self, value: float, name: str = "constant"):
        ...         super().__init__(name)
        ...         self.value = value
        ...     def _compute(self, batch):
        ...         return np.full(batch_size(batch), self.value)
        >>> Constant(-0.01, name="step_cost")({"reward": [0.0, 1.0]}).terms
        {'step_cost': array([-0.01, -0.01])}
    """

    #: columns this term reads; used in error messages and docs.
    columns: tuple[str, ...] = ()
    #: False declares that every sample gets a score: a NaN ("not applicable")
    #: from this term is then a bug (a 0/0, a missing value), and
    #: ``check_reward`` warns about it.
    abstains: bool = True
    #: True: a chat completion that does not end with the assistant's message (a
    #: rollout cut off after a tool result) has no answer, so a term reading the
    #: ``completion`` column leaves it not applicable, with a message saying so
    #: (see :mod:`rewardkit.core.messages`). A term that scores tool turns
    #: themselves sets it False.
    needs_answer: bool = True

    def __init__(self, name: str) -> None:
        self.name = validate_name(name)

    def __call__(self, batch: Batch) -> RewardOutput:
        n = batch_size(batch)
        return self._mark_unanswered(_finish(self.name, self._compute(batch), n), batch)

    def _mark_unanswered(self, out: RewardOutput, batch: Batch) -> RewardOutput:
        if self.needs_answer and "completion" in self.columns and "completion" in batch:
            return mark_unanswered(out, batch["completion"])
        return out

    @abc.abstractmethod
    def _compute(self, batch: Batch) -> Any:
        """Return N values or a :class:`RewardOutput`."""

    def update(self, batch: Batch) -> Mapping[str, float]:
        """Update internal state from ``batch``; return metrics to log."""
        del batch
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _finish(name: str, result: Any, n: int) -> RewardOutput:
    if isinstance(result, RewardOutput):
        out = result
        terms = dict(out.terms) or {name: out.total}
        if name not in terms:
            terms = {name: out.total, **terms}
        out = RewardOutput(out.total, terms, out.status, out.messages)
    else:
        out = RewardOutput.from_values(result, name=name)
    if len(out) != n:
        raise RewardCheckError(
            f"term {name!r} returned {len(out)} values for a batch of {n}; return one per sample"
        )
    return out


class FunctionTerm(RewardTerm):
    """A term made from a plain function that reads columns by parameter name.

    Use :func:`term` rather than constructing this directly.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        per_sample: bool = False,
        params: Mapping[str, Any] | None = None,
        abstains: bool = True,
        needs_answer: bool = True,
    ) -> None:
        super().__init__(name or fn.__name__)
        self.fn = fn
        self.needs_answer = needs_answer
        self.per_sample = per_sample
        self.abstains = abstains
        self.params = dict(params or {})
        signature = inspect.signature(fn)
        self._takes_var_kwargs = any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()
        )
        self._parameters = [
            p
            for p in signature.parameters.values()
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            and p.name not in self.params
        ]
        self.columns = tuple(p.name for p in self._parameters)
        functools.update_wrapper(self, fn, updated=())

    def _arguments(self, batch: Batch) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(self.params)
        for parameter in self._parameters:
            if parameter.name in batch:
                kwargs[parameter.name] = batch[parameter.name]
            elif parameter.default is inspect.Parameter.empty:
                kwargs[parameter.name] = get_column(batch, parameter.name)  # raises, with hints
        if self._takes_var_kwargs:
            for name, values in batch.items():
                kwargs.setdefault(name, values)
        return kwargs

    def _compute(self, batch: Batch) -> Any:
        kwargs = self._arguments(batch)
        if not self.per_sample:
            return self.fn(**kwargs)
        return _per_sample(self.fn, kwargs, batch_size(batch), set(self.params))

    def __reduce__(self) -> tuple[Any, ...]:
        # A decorated module-level function is replaced by this object under
        # its own name, so plain pickling of ``fn`` would fail. Pickle by
        # reference to the module attribute instead.
        module = getattr(self.fn, "__module__", None)
        qualname = getattr(self.fn, "__qualname__", "")
        if module and "<" not in qualname and _lookup(module, qualname) is self:
            return (_lookup, (module, qualname))
        return (
            FunctionTerm,
            (self.fn, self.name, self.per_sample, self.params, self.abstains, self.needs_answer),
        )


def _lookup(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    try:
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        return None
    return obj


def _per_sample(
    fn: Callable[..., Any], kwargs: dict[str, Any], n: int, fixed: set[str]
) -> RewardOutput:
    """Call ``fn`` once per row; an exception marks that row ERROR, not the batch."""
    values = np.full(n, np.nan)
    status = np.zeros(n, dtype=np.int8)
    messages: list[str | None] = [None] * n
    for i in range(n):
        row = {k: (v if k in fixed else v[i]) for k, v in kwargs.items()}
        try:
            value = fn(**row)
        except Exception as exc:  # one bad sample must not crash a training run
            status[i] = Status.ERROR
            messages[i] = f"{type(exc).__name__}: {exc}"
            continue
        if value is None or (isinstance(value, float) and math.isnan(value)):
            status[i] = Status.NOT_APPLICABLE
        else:
            values[i] = float(value)
    return RewardOutput(values, status=status, messages=tuple(messages))


def term(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    per_sample: bool = False,
    abstains: bool = True,
    needs_answer: bool = True,
) -> Any:
    """Turn a plain function into a term.

    The function's parameters name the columns it reads; a parameter with a
    default is an optional column; ``**columns`` receives every column.

    Args:
        fn: the function. It returns N numbers (``None``/NaN = not
            applicable), or a :class:`RewardOutput`.
        name: the term's name (logging key); defaults to the function name.
        per_sample: call ``fn`` once per row with scalars instead of once
            with whole columns. An exception in one row marks that row
            ``ERROR`` instead of failing the batch.
        abstains: False declares that the function scores every sample, so
            that ``check_reward`` warns when a NaN (a 0/0, say) comes out.
        needs_answer: False lets the function score chat completions that do
            not end with the assistant's message (it counts tool calls, say).

    Example:
        >>> @term(per_sample=True)
        ... def ratio(numerator, denominator):
        ...     return numerator / denominator
        >>> out = ratio({"numerator": [1.0, 1.0], "denominator": [2.0, 0.0]})
        >>> out.total, out.messages[1]
        (array([0.5, nan]), 'ZeroDivisionError: float division by zero')
    """

    def wrap(function: Callable[..., Any]) -> FunctionTerm:
        return FunctionTerm(
            function,
            name=name,
            per_sample=per_sample,
            abstains=abstains,
            needs_answer=needs_answer,
        )

    return wrap(fn) if fn is not None else wrap


def as_term(obj: Any, name: str | None = None) -> Term:
    """Return ``obj`` if it is a term, or wrap a plain callable with :func:`term`."""
    if isinstance(obj, RewardTerm) or (isinstance(obj, Term) and hasattr(obj, "name")):
        return obj
    if callable(obj):
        return FunctionTerm(obj, name=name)
    raise CompositionError(f"{obj!r} is not a term or a callable; wrap a function with @term")


def column_names(terms: Sequence[Term]) -> tuple[str, ...]:
    """Union of the columns several terms read, in first-seen order."""
    seen: dict[str, None] = {}
    for t in terms:
        seen.update(dict.fromkeys(getattr(t, "columns", ())))
    return tuple(seen)
