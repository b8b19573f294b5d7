"""Run a short Python program in a fresh child interpreter and read back its one ``RESULT`` line.

Isolation is irreversible, so every test of :mod:`sandbox.oslimits`, :mod:`sandbox.landlock`,
:mod:`sandbox.privileges` and :mod:`sandbox.seccomp_policy` applies its layers in a child: the child
runs :data:`PREAMBLE` (``report(**facts)`` prints the result, ``attempt(call)`` turns an exception
into data), the sandbox imports unless asked not to, then the test's body.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from sandbox.oslimits import LayerReport, pinned_thread_env

ROOT = Path(__file__).resolve().parents[2]
LINUX = sys.platform.startswith("linux")

IMPORTS = """\
from sandbox.oslimits import Limits, apply_isolation, default_read_paths, seal
from sandbox.errors import IsolationUnavailable
"""

# Loads sandbox.* modules without the package's __init__ (which imports numpy), as the probe does.
BARE_PACKAGE = f"""\
import types
_package = types.ModuleType("sandbox")
_package.__path__ = [{str(ROOT / "sandbox")!r}]
sys.modules["sandbox"] = _package
"""

PREAMBLE = """\
import errno, json, os, sys

def report(**facts):
    print("RESULT " + json.dumps(facts), flush=True)

def attempt(call):
    try:
        value = call()
    except BaseException as exc:
        return {"ok": False, "type": type(exc).__name__, "errno": getattr(exc, "errno", None)}
    return {"ok": True, "value": value if isinstance(value, (int, float, str, bool)) else None}
"""


def child_env(*, pinned: bool = True, **extra: str) -> dict[str, str]:
    """The test's environment with the project on ``PYTHONPATH`` and thread pools pinned."""
    env = {k: v for k, v in os.environ.items() if k not in pinned_thread_env()}
    env["PYTHONPATH"] = str(ROOT)
    if pinned:
        env.update(pinned_thread_env())
    env.update(extra)
    return env


def run_child(
    body: str,
    *,
    timeout: float = 60,
    pinned: bool = True,
    import_sandbox: bool = True,
    bare: bool = False,
    executable: str = sys.executable,
    **extra: str,
) -> subprocess.CompletedProcess[str]:
    """Run ``PREAMBLE`` + imports + ``body`` (dedented) in a child; stdout is a pipe.

    Args:
        body: the program.
        timeout: seconds before the child is killed (the test then fails).
        pinned: put :func:`pinned_thread_env` into the child's environment.
        import_sandbox: import ``apply_isolation`` and friends first.
        bare: load ``sandbox.*`` without the package ``__init__`` (no numpy).
        executable: the interpreter.
        **extra: more environment variables.

    Returns:
        The finished process, output as text.
    """
    script = PREAMBLE + (BARE_PACKAGE if bare else "")
    script += IMPORTS if import_sandbox else ""
    script += textwrap.dedent(body)
    return subprocess.run(
        [executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(pinned=pinned, **extra),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def result_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The child's last ``RESULT`` line as a dict; fails the test if it exited badly."""
    assert done.returncode == 0, f"child failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"child printed no result:\n{done.stdout}\n{done.stderr}"
    out: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    return out


def unavailable_layer_is_refused(name: str, layers: dict[str, LayerReport]) -> bool:
    """When ``name`` is unavailable here, check that requiring it fails loudly; return True then."""
    if layers[name].available:
        return False
    done = run_child(
        f"""
        try:
            apply_isolation(limits=Limits(), network=True, seccomp=True, required=[{name!r}])
        except IsolationUnavailable as exc:
            report(raised=True, missing=list(exc.missing))
        else:
            report(raised=False, missing=[])
        """
    )
    out = result_of(done)
    assert out["raised"], f"{name} is reported unavailable but requiring it did not raise"
    assert any(m.startswith(name) for m in out["missing"])
    return True
