"""Unsandboxed loading of checker code: **unsafe**, for trusted code and baselines only.

Provides:
    load_unsafe: source -> the entry function, executed with plain ``exec`` and the real numpy.

This is what peers such as Text2Reward and the VLM-CaR release do with generated code, and it is the
baseline that benchmarks compare the sandbox against. Never use it for untrusted code: it gives the
code the whole interpreter (``np.f2py.os.system`` and friends). It warns every time it is used.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["load_unsafe"]


def load_unsafe(source: str, *, entry: str = "check") -> Callable[..., Any]:
    """Execute ``source`` with plain ``exec`` and return its entry function. UNSAFE.

    The vision helpers are bound as globals so that the same checker sources run unchanged.

    Args:
        source: trusted checker source.
        entry: the entry function's name.

    Returns:
        The entry function, unguarded.

    Raises:
        KeyError: when ``entry`` is not defined.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     fn = load_unsafe("def check(frame):\\n    return frame.sum() > 0\\n")
        >>> bool(fn(np.ones((2, 2, 3), np.uint8)))
        True
    """
    warnings.warn(
        "load_unsafe() runs code without any sandbox; use it for trusted code and baselines only",
        RuntimeWarning,
        stacklevel=2,
    )
    from sandbox.vision import VISION_HELPERS

    namespace: dict[str, Any] = {"np": np, "math": math, **VISION_HELPERS}
    exec(compile(source, "<unsafe>", "exec"), namespace)  # deliberate: the unsafe baseline
    fn: Callable[..., Any] = namespace[entry]
    return fn
