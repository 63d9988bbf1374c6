"""Parameter checks that fail at once with a one-line message naming the parameter and what is allowed."""
from __future__ import annotations

import dataclasses
import types
import typing
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


# ------------------------------------------------------------------------------- parameter dataclasses
def check_fields(params: Any) -> None:
    """Check every field of a frozen parameters dataclass against its annotation, strictly; lists become tuples.

    bool is not an int, a float is not an int, a string is not a list: `seeds=[1.5]`, `eval_every=0.5` and
    `datasets="medium"` are refused instead of being truncated or iterated letter by letter. An int is
    accepted where a number (float) is meant and stored as a float. In `__post_init__`, check the values first
    with the functions below (their messages name the allowed values), then call this: it converts, and it
    refuses a wrong type in any field that had no check of its own.
    """
    hints = typing.get_type_hints(type(params))
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        try:
            conformed = _conform(value, hints[f.name])
        except _Mismatch:
            raise ParameterError(f"{f.name}={value!r} must be {_describe(hints[f.name])}") from None
        if conformed is not value:
            object.__setattr__(params, f.name, conformed)  # frozen: the checked, immutable form of the value


class _Mismatch(Exception):
    pass


def _conform(value: Any, tp: Any) -> Any:
    """`value` as type `tp` (lists → tuples, ints → floats where a number is meant); _Mismatch if it is not one."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _conform(value, inner)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value if isinstance(value, float) else float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if isinstance(value, (list, tuple)):
            return tuple(_conform(v, args[0]) for v in value)
    elif origin is dict:
        if isinstance(value, dict):
            return {_conform(k, args[0]): _conform(v, args[1]) for k, v in value.items()}
    else:
        raise TypeError(f"check_fields does not know the annotation {tp!r}")
    raise _Mismatch


def _describe(tp: Any, plural: bool = False) -> str:
    """'an integer', 'a list of integers', 'a dict of string -> list of numbers', ... for messages."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        return f"{_describe(inner, plural)} or None"
    names = {bool: ("True or False", "booleans"), int: ("an integer", "integers"), float: ("a number", "numbers"),
             str: ("a string", "strings")}
    if tp in names:
        return names[tp][plural]
    if origin is tuple:
        return ("lists" if plural else "a list") + f" of {_describe(args[0], plural=True)}"
    if origin is dict:
        return ("dicts" if plural else "a dict") + f" of {_describe(args[0])} -> {_describe(args[1])}"
    return str(tp)


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """`value` must be an integer (not a bool, not a float) in [low, high] (high None: no upper bound)."""
    allowed = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        raise ParameterError(f"{name}={value!r} must be {allowed}")
    return value


def check_items(name: str, values: Any, allowed: Iterable[Any] | None = None, *, low: float | None = None,
                high: float | None = None, integer: bool = False, empty: bool = False, unique: bool = True) -> tuple:
    """`values` must be a list (not a string) of items from `allowed`, or of numbers (integers when `integer`)
    in [low, high]; no repeats when `unique`; empty only when `empty`."""
    allowed = None if allowed is None else list(allowed)
    kind = "integers" if integer else "numbers"
    what = (f"a list drawn from {allowed}" if allowed is not None
            else f"a list of {kind} in [{low}, {high}]" if high is not None else f"a list of {kind} >= {low}")
    what += "" if empty else " (at least one)"
    if not isinstance(values, (list, tuple)) or (not empty and len(values) == 0):
        raise ParameterError(f"{name}={values!r} must be {what}")
    for v in values:
        number = not isinstance(v, bool) and isinstance(v, int if integer else (int, float))
        if allowed is not None and v not in allowed or allowed is None and (
                not number or (low is not None and v < low) or (high is not None and v > high)):
            raise ParameterError(f"{name}={values!r}: {v!r} is not allowed; {name} must be {what}")
    if unique and len(set(values)) != len(values):
        raise ParameterError(f"{name}={values!r} has repeats; each value may appear once")
    return tuple(values)


def check_template(name: str, value: Any, fields: tuple[str, ...], example: str) -> str:
    """`value` must be '' or a str.format template naming exactly `fields`, each at least once."""
    import string

    if not isinstance(value, str):
        raise ParameterError(f"{name}={value!r} must be a string")
    if value == "":
        return value
    try:
        named = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
    except ValueError:  # an unmatched brace
        named = None
    if named != set(fields):
        want = " and ".join("{" + f + "}" for f in fields)
        raise ParameterError(f"{name}={value!r} must be '' or a template with the fields {want} (each, and no "
                             f"other), e.g. {example}")
    return value
