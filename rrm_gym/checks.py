"""Argument checks shared by the simulation, the safety layer and the envs: whole numbers and
numbers that are not booleans (``True`` is an ``int`` to Python, and numpy would read ``1.7``
or ``-1`` as an index), each refusal a ``TypeError`` or ``ValueError`` that names the argument."""

from __future__ import annotations

from typing import Any

import numpy as np


def is_int(value: Any) -> bool:
    """A Python or numpy integer, not a boolean."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    """A Python or numpy real number (integer or float), not a boolean."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def require_int(name: str, value: Any) -> int:
    """``value`` as an ``int``; ``TypeError`` naming ``name`` unless it is one (no float, string or
    boolean is rounded or read as a number)."""
    if not is_int(value):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    return int(value)


def check_int(name: str, value: Any, low: int, high: int) -> int:
    """``value`` as an ``int`` in ``[low, high]``; ``TypeError`` / ``ValueError`` naming ``name``
    otherwise."""
    value = require_int(name, value)
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return value
