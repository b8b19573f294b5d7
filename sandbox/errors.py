"""Exception types raised by :mod:`sandbox`.

Provides:
    SandboxError: base class of every error this package raises on purpose.
    AuditError: a checker's source was rejected by the static audit (carries the findings).
    FrameError: a frame or frame batch has the wrong type, dtype or shape.
    FileRefused: a user-supplied file was refused unread or unparsed (not regular, too large, hostile).
    CheckerRuntimeError: base of the errors a checker can cause while it runs; each has a ``status``.
    CapabilityViolation: the checker reached for something outside its capability surface.
    MemoryExceeded: the checker ran out of memory (status ``memory``).
    BudgetExceeded: an in-process budget (iterations, calls, allocation, integer or string size) ran out.
    ContractViolation: the checker returned something other than ``bool`` / ``numpy.bool_``.
    CheckerFailed: the checker raised an ordinary exception (IndexError, ZeroDivisionError, ...).
    IsolationUnavailable: an isolation level was asked for that this machine cannot provide.
    WorkerError: a worker process died, overran its deadline or spoke out of protocol.

Every exception carries its facts as attributes and builds its text in ``__str__``, so no caller ever
parses a message. Checker run-time errors are *data* for the engine: the pool turns them into per-checker
statuses, and they never reach a trainer as an exception unless its failure policy says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from sandbox.diagnostics import Finding

__all__ = [
    "AuditError",
    "BudgetError",
    "BudgetExceeded",
    "CapabilityViolation",
    "CheckerFailed",
    "CheckerRuntimeError",
    "ContractViolation",
    "Denied",
    "FileRefused",
    "FrameError",
    "IsolationUnavailable",
    "JitDeferred",
    "MemoryExceeded",
    "SandboxError",
    "Status",
    "WorkerError",
]

#: Outcome of one checker over one batch. ``ok`` is the only status that carries results.
Status = Literal["ok", "error", "violation", "budget", "contract", "timeout", "memory", "crash"]


class SandboxError(Exception):
    """Base class of every error raised on purpose by :mod:`sandbox`."""


class AuditError(SandboxError):
    """The static audit rejected a checker's source.

    Attributes:
        path: where the source came from (a file path or a label such as ``<checker>``).
        findings: every finding of the audit, sorted by position.
    """

    def __init__(self, path: str, findings: Sequence[Finding]) -> None:
        super().__init__(path, tuple(findings))
        self.path = path
        self.findings = tuple(findings)

    def __str__(self) -> str:
        lines = [f"{self.path}: checker rejected by the audit ({len(self.findings)} finding(s)):"]
        lines += [f"  {f.format_text()}" for f in self.findings[:20]]
        if len(self.findings) > 20:
            lines.append(f"  ... and {len(self.findings) - 20} more")
        lines.append("Fix the code so it follows the checker contract (`vlmcar audit --rules`).")
        return "\n".join(lines)


class FrameError(SandboxError, ValueError):
    """A frame (H×W×3 uint8) or a batch of frames (N×H×W×3 uint8) is not usable.

    Attributes:
        what: which argument was wrong (``frame``, ``frames``, ``first``, ``firsts``).
        problem: what was wrong with it, including the value's type, dtype and shape.
    """

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(what, problem)
        self.what = what
        self.problem = problem

    def __str__(self) -> str:
        return (
            f"{self.what}: {self.problem}. Checkers take RGB frames as numpy uint8 arrays shaped "
            f"(H, W, 3), batches as (N, H, W, 3); convert with np.asarray(x, dtype=np.uint8)."
        )


class FileRefused(SandboxError, ValueError):
    """A user-supplied file was refused before (or while) it was read or parsed.

    Raised by :mod:`sandbox.safeio` for anything that is not a regular file (a FIFO, a device, a
    directory, a symbolic link where none is followed), a file larger than its kind allows, and
    content that exceeds a parse limit (JSON depth, integer digits, non-finite numbers, a ``.npy``
    header that does not match the file). Command-line tools turn it into exit code 2.

    Attributes:
        path: the file, as the user gave it.
        problem: what was wrong with it.
        advice: what to do about it.
        label: which argument or role the file had (``--frames``, ``checker``), or empty.
    """

    def __init__(self, path: str, problem: str, advice: str, *, label: str = "") -> None:
        super().__init__(path, problem, advice)
        self.path = path
        self.problem = problem
        self.advice = advice
        self.label = label

    def __str__(self) -> str:
        label = f"{self.label} " if self.label else ""
        return f"{label}{self.path}: {self.problem}; {self.advice}"


class CheckerRuntimeError(SandboxError):
    """Base of the errors a checker can cause while it runs.

    Attributes:
        status: the per-checker status this error maps to (see :data:`Status`).
        checker: the checker's label (file path or name), if known.
        detail: what happened, in words.
        line: the line of the checker's source involved, if known.
    """

    status: Status = "error"

    def __init__(self, detail: str, *, checker: str = "<checker>", line: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.checker = checker
        self.line = line

    def where(self) -> str:
        """Return ``checker:line`` or ``checker`` when the line is unknown."""
        return f"{self.checker}:{self.line}" if self.line else self.checker

    def __str__(self) -> str:
        return f"{self.where()}: {self.status}: {self.detail}"


class CapabilityViolation(CheckerRuntimeError):
    """The checker reached for an attribute, item, call or write outside its capability surface."""

    status: Status = "violation"


class ContractViolation(CheckerRuntimeError):
    """The checker returned a value that is not exactly ``bool`` or ``numpy.bool_``."""

    status: Status = "contract"


class CheckerFailed(CheckerRuntimeError):
    """The checker raised an ordinary exception (``IndexError``, ``ZeroDivisionError``, ...)."""

    status: Status = "error"


class BudgetExceeded(BaseException):
    """An in-process budget ran out: iterations, calls, allocation, integer or string size.

    Derives from :class:`BaseException` on purpose, so that ``except Exception:`` in checker code
    cannot swallow it (the audit also refuses bare ``except:`` and ``except BaseException``). Budgets
    are sticky: once exhausted, every further budgeted operation in the same call raises again.
    :func:`sandbox.compile_checker` converts it to :class:`BudgetError` at the checker boundary.

    Attributes:
        budget: which budget ran out (``iterations``, ``calls``, ``allocation``, ``int_bits``, ...).
        limit: the limit that was exceeded.
        requested: what the checker asked for, when known.
    """

    def __init__(self, budget: str, limit: int, requested: int | None = None) -> None:
        super().__init__(budget, limit, requested)
        self.budget = budget
        self.limit = limit
        self.requested = requested

    def __str__(self) -> str:
        if self.budget == "int64":
            bits = f" (needs {abs(self.requested):,} bits)" if self.requested is not None else ""
            return f"integer outside the 64-bit range{bits}; checker integers are 64-bit"
        asked = f" (asked for {self.requested:,})" if self.requested is not None else ""
        return f"budget {self.budget!r} of {self.limit:,} exceeded{asked}"


class Denied(BaseException):
    """Raised *inside* checker code by the guards when it reaches outside its capability surface.

    Like :class:`BudgetExceeded` it derives from :class:`BaseException`, so a checker cannot probe
    the surface with ``try/except Exception`` and carry on; :class:`sandbox.Checker` converts it to
    :class:`CapabilityViolation` at the checker boundary.

    Attributes:
        detail: what was refused and what to use instead.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


class BudgetError(CheckerRuntimeError):
    """A checker exhausted an in-process budget; the :class:`CheckerRuntimeError` form of it."""

    status: Status = "budget"


class MemoryExceeded(CheckerRuntimeError):
    """A checker ran out of memory (``MemoryError`` under the worker's address-space limit)."""

    status: Status = "memory"


class JitDeferred(Exception):
    """Raised by a JIT kernel where it cannot promise the interpreter's exact answer.

    :meth:`sandbox.Checker.batch_immutable` then evaluates that batch on the interpreter path,
    the reference semantics: the answer is the interpreter's, only slower. Defined here (not in
    :mod:`sandbox.jit_helpers`) so that catching it needs no numba import.
    """


class IsolationUnavailable(SandboxError):
    """An isolation level or layer was required that this machine cannot provide.

    Attributes:
        level: the isolation level asked for.
        missing: the layers that are missing, each with the reason.
    """

    def __init__(self, level: str, missing: Sequence[str]) -> None:
        super().__init__(level, tuple(missing))
        self.level = level
        self.missing = tuple(missing)

    def __str__(self) -> str:
        lacks = "; ".join(self.missing)
        return (
            f"isolation {self.level!r} is not available on this machine: {lacks}. "
            "Run `vlmcar doctor` to see what is supported, or choose a weaker level explicitly."
        )


class WorkerError(SandboxError):
    """A worker process failed outside any single checker (start-up, protocol, repeated crashes).

    Attributes:
        detail: what happened.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return f"sandbox worker: {self.detail}"
