"""L5, the result contract: a checker's answer is exactly ``bool`` or ``numpy.bool_``.

Provides:
    to_result: reduce a checker's return value to ``bool`` or raise :class:`ContractViolation`.

The value is classified by its exact type only: no ``bool()``, ``==`` or ``repr()`` is ever called on a
foreign object (a returned generator, NaN, the string ``"False"``, an array or a masked constant
would otherwise be read as truthy or run code in the host).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sandbox.errors import ContractViolation

__all__ = ["to_result"]


def to_result(value: Any, *, checker: str = "<checker>") -> bool:
    """Return ``value`` as a Python bool if it is exactly ``bool`` or ``numpy.bool_``.

    Args:
        value: what the checker returned.
        checker: the checker's label, for the error.

    Returns:
        The answer.

    Raises:
        ContractViolation: naming the returned type, for anything else.

    Example:
        >>> to_result(np.bool_(True))
        True
        >>> to_result(float("nan"))
        Traceback (most recent call last):
        ...
        sandbox.errors.ContractViolation: <checker>: contract: returned float; a checker must return a bool (wrap the expression in bool(...))
    """  # noqa: E501
    t = type(value)
    if t is bool:
        return bool(value)
    if t is np.bool_:
        return bool(value)
    raise ContractViolation(
        f"returned {t.__name__}; a checker must return a bool (wrap the expression in bool(...))",
        checker=checker,
    )
