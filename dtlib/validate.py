"""Parameter checks that fail at once with a one-line message naming the parameter and what is allowed."""
from __future__ import annotations

from typing import Any, Iterable


class ParameterError(ValueError):
    """A bad parameter: the message names it and the allowed values."""


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """`value` must be one of `allowed`."""
    allowed = list(allowed)
    if value not in allowed:
        raise ParameterError(f"{name}={value!r} is not allowed; choose one of {allowed}")
    return value


def check_positive(name: str, value: Any, *, integer: bool = False) -> Any:
    """`value` must be a number > 0 (an int when `integer`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        kind = "a positive integer" if integer else "a positive number"
        raise ParameterError(f"{name}={value!r} must be {kind}")
    if not value > 0:
        raise ParameterError(f"{name}={value!r} must be > 0")
    return value


def check_range(name: str, value: Any, low: float, high: float) -> Any:
    """`value` must lie in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low <= value <= high):
        raise ParameterError(f"{name}={value!r} must be a number in [{low}, {high}]")
    return value


def check_list(name: str, value: Any, check_item=None) -> list:
    """`value` must be a non-empty list (each item passing `check_item(name, item)` if given)."""
    if not isinstance(value, (list, tuple)) or len(value) == 0:
        raise ParameterError(f"{name}={value!r} must be a non-empty list")
    if check_item is not None:
        for item in value:
            check_item(name, item)
    return list(value)
