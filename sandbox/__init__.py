"""vlm-car's safety engine: audit, restricted compile, capability surface, budgets, result contract.

Public API:
    audit(source) -> AuditReport                  static audit (L1), never raises on bad input
    compile_checker(source) -> Checker            audit + RestrictedPython + facades (L1–L5)
    Checker(frame, first=None) -> bool            one frame; Checker.batch(frames) -> bool array
    Sandbox(sources) -> .evaluate(frames)         isolated, killable workers (L0) around all of it
    fuzz_checker(source) -> FuzzReport            admission fuzzing inside the sandbox (L6)
    Budgets                                       per-call iteration/call/allocation budgets
    read_text, load_json, load_npy, ...           user-supplied files: regular only, bounded (safeio)
    RULES                                         the audit's documented rule table

Errors are :class:`SandboxError` subclasses; see :mod:`sandbox.errors`. ``import sandbox`` loads
numpy, RestrictedPython and this package; Hypothesis loads on first use of the fuzzer's names
(``fuzz_checker``, ``FuzzReport``, ``Problem``, ``frames``), so sandbox workers, which import this
package on every start, never load it.
"""

from typing import TYPE_CHECKING, Any

from sandbox.audit import AuditLimits, audit
from sandbox.budgets import Budgets
from sandbox.checker import Checker, compile_checker
from sandbox.diagnostics import AuditReport, Finding
from sandbox.errors import (
    AuditError,
    BudgetError,
    CapabilityViolation,
    CheckerFailed,
    CheckerRuntimeError,
    ContractViolation,
    FileRefused,
    FrameError,
    IsolationUnavailable,
    SandboxError,
    Status,
    WorkerError,
)
from sandbox.pool import BatchResult, FrameStage, Isolation, Sandbox, strongest_isolation
from sandbox.rules import RULES, Rule
from sandbox.safeio import (
    MAX_BYTES,
    FileKind,
    load_json,
    load_npy,
    open_regular,
    parse_json,
    read_bytes,
    read_text,
)

__version__ = "0.1.0"

__all__ = [
    "MAX_BYTES",
    "RULES",
    "AuditError",
    "AuditLimits",
    "AuditReport",
    "BatchResult",
    "BudgetError",
    "Budgets",
    "CapabilityViolation",
    "Checker",
    "CheckerFailed",
    "CheckerRuntimeError",
    "ContractViolation",
    "FileKind",
    "FileRefused",
    "Finding",
    "FrameError",
    "FrameStage",
    "FuzzReport",
    "Isolation",
    "IsolationUnavailable",
    "Problem",
    "Rule",
    "Sandbox",
    "SandboxError",
    "Status",
    "WorkerError",
    "__version__",
    "audit",
    "compile_checker",
    "frames",
    "fuzz_checker",
    "load_json",
    "load_npy",
    "open_regular",
    "parse_json",
    "read_bytes",
    "read_text",
    "strongest_isolation",
]

_LAZY = {"FuzzReport", "Problem", "frames", "fuzz_checker"}

if TYPE_CHECKING:
    from sandbox.fuzz import FuzzReport, Problem, frames, fuzz_checker


def __getattr__(name: str) -> Any:
    """The fuzzer's names, imported on first use (they need Hypothesis)."""
    if name in _LAZY:
        from sandbox import fuzz

        return getattr(fuzz, name)
    raise AttributeError(f"module 'sandbox' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
