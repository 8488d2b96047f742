"""Keyword arguments of tasks, bodies and senses: their names, and checks of numeric values by annotation.

A parameter annotated ``float`` must be a finite real number (a ``bool`` is not one), ``int`` a whole number,
``bool`` a bool and ``tuple[float, float]`` a range, two finite numbers ``(low, high)`` with ``low <= high``;
``X | None`` also takes ``None``. Other annotations are not checked here. Bounds (``speed > 0``, ...) are each
class's own, or a table of :class:`Limit` given to :func:`check_limits`.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

#: What a value of each kind must be, as error messages say it.
_VALID = {
    "number": "a finite number",
    "whole": "a whole number",
    "flag": "True or False",
    "range": "(low, high), two finite numbers with low <= high",
}


def parameters(func: Callable[..., Any]) -> set[str]:
    """Names of ``func``'s parameters that can be given by keyword (not ``*args`` or ``**kwargs``)."""
    return {
        name
        for name, p in inspect.signature(func).parameters.items()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite real number and not a ``bool``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def is_whole(value: Any) -> bool:
    """Whether ``value`` is an integer (Python's or NumPy's) and not a ``bool``."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_flag(value: Any) -> bool:
    """Whether ``value`` is a ``bool`` (Python's or NumPy's)."""
    return isinstance(value, (bool, np.bool_))


def is_range(value: Any) -> bool:
    """Whether ``value`` is a pair ``(low, high)`` of finite numbers with ``low <= high``."""
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
        return False
    low, high = value
    return is_number(low) and is_number(high) and low <= high


_CHECKS = {"number": is_number, "whole": is_whole, "flag": is_flag, "range": is_range}


def _kind(hint: Any) -> str | None:
    if hint is float:
        return "number"
    if hint is int:
        return "whole"
    if hint is bool:
        return "flag"
    if typing.get_origin(hint) is tuple and typing.get_args(hint) == (float, float):
        return "range"
    return None


@functools.cache
def numeric_parameters(func: Callable[..., Any]) -> dict[str, tuple[str, bool]]:
    """``{name: (kind, optional)}`` for ``func``'s parameters of a checked annotation (see the module docstring).

    A function whose annotations cannot be resolved (a plug-in's, say) has none.
    """
    try:
        hints = typing.get_type_hints(func)
    except (AttributeError, NameError, TypeError):
        return {}
    kinds = {}
    for name, hint in hints.items():
        optional = False
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
            optional = len(members) < len(typing.get_args(hint))
            hint = members[0] if len(members) == 1 else None
        kind = _kind(hint)
        if kind is not None and name != "return":
            kinds[name] = (kind, optional)
    return kinds


def check_arguments(func: Callable[..., Any], kwargs: Mapping[str, Any], prefix: str = "") -> None:
    """Raise a ``ValueError`` for the first of ``kwargs`` that does not fit its annotation in ``func``.

    The message names the argument (after ``prefix``, e.g. ``"walk."``), the valid values and the value given:
    ``speed must be a finite number or None, got nan``. Names that ``func`` does not annotate as numbers are let be.
    """
    kinds = numeric_parameters(func)
    for name, value in kwargs.items():
        if name not in kinds:
            continue
        kind, optional = kinds[name]
        if (value is None and optional) or _CHECKS[kind](value):
            continue
        valid = _VALID[kind] + (" or None" if optional else "")
        raise ValueError(f"{prefix}{name} must be {valid}, got {value!r}")


class Limit(NamedTuple):
    """A bound on a numeric setting: ``valid`` says what the value must be, ``holds`` tests a finite number."""

    valid: str
    holds: Callable[[float], bool]


def check_limits(kwargs: Mapping[str, Any], limits: Mapping[str, Limit], prefix: str = "") -> None:
    """Raise a ``ValueError`` for the first of ``kwargs``, a number, outside its limit in ``limits``.

    The message is ``{prefix}{name} must be {valid}, got {value!r}``. Values that are not finite numbers are left
    to :func:`check_arguments`, which callers run first.
    """
    for name, value in kwargs.items():
        limit = limits.get(name)
        if limit is not None and is_number(value) and not limit.holds(value):
            raise ValueError(f"{prefix}{name} must be {limit.valid}, got {value!r}")
