"""Ids in one place: layer and head ids (one range rule, one error each) and model names.

**Layer and head ids are 0-indexed everywhere**; a negative id counts from
the end (``-1`` is the last layer), as Python's own indexing does. Every
function of attnbook that takes a layer or a head goes through
:func:`check_layer` / :func:`check_head`.
"""

from __future__ import annotations

from typing import Any

from attnbook.errors import HeadOutOfRangeError, LayerOutOfRangeError

__all__ = ["check_head", "check_id", "check_layer", "short_model_name"]

_UNITS = {
    "layer": ("layers", LayerOutOfRangeError),
    "head": ("heads per layer", HeadOutOfRangeError),
}


def check_id(value: Any, count: int, name: str, error: type[Exception] | None = None) -> int:
    """``value`` as an id in ``0 .. count - 1``, or a typed error.

    ``name`` is ``"layer"`` (raises :class:`~attnbook.errors.LayerOutOfRangeError`)
    or ``"head"`` (:class:`~attnbook.errors.HeadOutOfRangeError`). Negative ids
    count from the end; the result is the non-negative id. ``error`` replaces
    the error class by a subclass of it (the figure functions raise one that is
    also a :class:`~attnbook.plot.PlotInputError`).

    >>> check_id(-1, 6, "layer")
    5
    >>> check_id(6, 6, "layer")
    Traceback (most recent call last):
    ...
    attnbook.errors.LayerOutOfRangeError: layer 6 is out of range: this model has 6 layers, ids 0..5 (0-indexed; negative ids count from the end).
    """
    unit, base = _UNITS[name]
    if error is None:
        error = base
    elif not issubclass(error, base):
        raise TypeError(f"error must subclass {base.__name__}, got {error.__name__}")
    if isinstance(value, bool) or not isinstance(value, int) or not -count <= value < count:
        raise error(
            f"{name} {value!r} is out of range: this model has {count} {unit}, "
            f"ids 0..{count - 1} (0-indexed; negative ids count from the end)."
        )
    return value % count


def check_layer(value: Any, count: int) -> int:
    """A layer id in ``0 .. count - 1`` (see :func:`check_id`)."""
    return check_id(value, count, "layer")


def check_head(value: Any, count: int) -> int:
    """A head id in ``0 .. count - 1`` (see :func:`check_id`)."""
    return check_id(value, count, "head")


def short_model_name(model_id: Any) -> str:
    """The last part of a hub id or directory, for titles: ``"org/bert-base/"`` → ``"bert-base"``.

    >>> short_model_name("tohoku-nlp/bert-base-japanese-v3"), short_model_name(None)
    ('bert-base-japanese-v3', '')
    """
    if model_id is None:
        return ""
    return str(model_id).rstrip("/").split("/")[-1]
