"""What every benchmark script shares: its command line and the machine description it records.

Provides:
    parse_dataclass_args: a ``--kebab-case`` option per field of an ``Args`` dataclass, with the
        docstring under each field as its help (booleans get ``--x/--no-x``).
    machine_info: the facts a result needs to be read later: Python and package versions, CPUs,
        load average, platform, time.

The scripts stay self-contained otherwise (CleanRL style): one file holds a benchmark's whole logic.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib.metadata
import inspect
import itertools
import os
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

__all__ = ["field_docs", "machine_info", "parse_dataclass_args"]

T = TypeVar("T")


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each dataclass field (read from the source, as tyro does)."""
    try:
        node = ast.parse(inspect.getsource(cls)).body[0]
    except (OSError, TypeError):  # source not available (frozen, interactive)
        return {}
    body = node.body if isinstance(node, ast.ClassDef) else []
    docs: dict[str, str] = {}
    for field, nxt in itertools.pairwise(body):
        if (
            isinstance(field, ast.AnnAssign)
            and isinstance(field.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[field.target.id] = nxt.value.value.strip()
    return docs


def parse_dataclass_args(
    cls: type[T], argv: Sequence[str] | None = None, doc: str | None = None
) -> T:
    """Build a ``cls`` instance from the command line (one ``--kebab-case`` option per field).

    Args:
        cls: a dataclass whose fields all have defaults of type bool, int, float or str.
        argv: the arguments (default: ``sys.argv[1:]``).
        doc: the script's docstring; its first line is the ``--help`` description.
    """
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0] if doc else None)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        if isinstance(default, bool):
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=default, help=docs.get(f.name)
            )
        else:
            help_text = f"{docs.get(f.name, '')} (default: {default!r})"
            parser.add_argument(flag, type=type(default), default=default, help=help_text)
    ns = parser.parse_args(list(argv) if argv is not None else None)
    return cls(**vars(ns))


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info(dists: Sequence[str] = (), **extra: Any) -> dict[str, Any]:
    """Describe this machine and run.

    Args:
        dists: distributions whose installed versions to record (key: the name with ``-`` as
            ``_``, e.g. ``stable_baselines3``); None when one is not installed.
        extra: more keys (e.g. the sandbox's isolation level), recorded as given.
    """
    import numpy as np

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "vlm_car": _version("vlm-car"),
    }
    info.update({dist.replace("-", "_"): _version(dist) for dist in dists})
    info.update(
        {
            "cpu_count": os.cpu_count(),
            "cpu_affinity": affinity,
            "load_avg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "platform": platform.platform(),
            "machine": platform.machine(),
            "processor": platform.processor(),
        }
    )
    info.update(extra)
    info["timestamp"] = datetime.now(UTC).isoformat(timespec="seconds")
    return info
