"""Bounded, side-effect-free descriptions of untrusted values for error messages.

Provides:
    describe: a short text for any value, without calling any method the value's type defines.

Error messages must never call ``str()``/``repr()`` on objects a checker built: a list of a million
references formats for hours, a deep nest recurses, and a huge int refuses to print. ``describe``
looks at exact built-in types only, at most two levels deep and four items wide.
"""

from __future__ import annotations

import numpy as np

__all__ = ["describe"]

_MAX_ITEMS = 4
_MAX_TEXT = 60


def describe(value: object, depth: int = 2) -> str:
    """Describe ``value`` in at most a few hundred characters.

    Args:
        value: anything.
        depth: how many container levels to show.

    Returns:
        A short description.

    Example:
        >>> describe([1, "two", (3.0, None), [[[]]], 5, 6])
        "[1, 'two', (3.0, None), [[...]], ...] (6 items)"
        >>> describe(np.zeros((2, 3), np.uint8))
        '<ndarray shape=(2, 3) dtype=uint8>'
    """
    t = type(value)
    if t is np.ndarray:
        return f"<ndarray shape={value.shape} dtype={value.dtype}>"  # type: ignore[attr-defined]
    if t in (list, tuple, set, frozenset):
        items = list(value)[:_MAX_ITEMS] if t in (set, frozenset) else value[:_MAX_ITEMS]  # type: ignore[index, call-overload]
        n = len(value)  # type: ignore[arg-type]
        if depth <= 0:
            inner = "..."
        else:
            inner = ", ".join(describe(v, depth - 1) for v in items) + (
                ", ..." if n > _MAX_ITEMS else ""
            )
        brackets = {list: "[]", tuple: "()", set: "{}", frozenset: "{}"}[t]
        open_, close = brackets[0], brackets[1]
        suffix = f" ({n} items)" if n > _MAX_ITEMS else ""
        if t is tuple and n == 1 and depth > 0:
            inner += ","
        return f"{open_}{inner}{close}{suffix}"
    if t is dict:
        return f"<dict of {len(value)} items>"  # type: ignore[arg-type]
    if t is int:
        if value.bit_length() > 64:  # type: ignore[attr-defined]
            return f"<int of {value.bit_length()} bits>"  # type: ignore[attr-defined]
        return repr(value)
    if t in (float, bool, type(None)):
        return repr(value)
    if t in (str, bytes):
        text = repr(value[:_MAX_TEXT])  # type: ignore[index]
        return text + (f"... ({len(value)} chars)" if len(value) > _MAX_TEXT else "")  # type: ignore[arg-type]
    if isinstance(value, np.generic):
        return f"{t.__name__}({describe(value.item(), 0)})"
    return f"<{t.__name__} object>"
