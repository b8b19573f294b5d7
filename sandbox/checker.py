"""Compiling and calling checkers in the current process (layers L1–L5).

Provides:
    compile_checker: source -> :class:`Checker` (audit, restricted compile, namespace, load).
    Checker: a loaded checker; ``checker(frame, first=None) -> bool`` and
        ``checker.batch(frames, firsts=None) -> bool array``.

This runs checker code *in the calling process*, behind the language-level layers only. That is what
the worker processes of :class:`sandbox.Sandbox` do inside their OS boundary; a trainer should use
:class:`sandbox.Sandbox`, never a bare :class:`Checker`, for untrusted code.
"""

from __future__ import annotations

import ast
import hashlib
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sandbox.audit import AuditLimits, audit
from sandbox.budgets import Budgets, Meter
from sandbox.constants import fold_constants
from sandbox.contract import to_result
from sandbox.describe import describe
from sandbox.errors import (
    AuditError,
    BudgetError,
    BudgetExceeded,
    CapabilityViolation,
    CheckerFailed,
    CheckerRuntimeError,
    Denied,
    JitDeferred,
    MemoryExceeded,
    SandboxError,
)
from sandbox.facade import make_math_facade, make_numpy_facade
from sandbox.frames import Frame, FrameBatch, readonly_batch, validate_batch, validate_frame
from sandbox.guards import make_namespace
from sandbox.jit import Kernel
from sandbox.policy import restricted_compile

__all__ = [
    "AUDIT_EVERY",
    "AUDIT_FRAMES",
    "KERNEL_DEFERS",
    "KERNEL_DEFERS_IN_A_ROW",
    "KERNEL_RAISES",
    "Checker",
    "compile_checker",
    "probe_frames",
]

#: With a kernel attached, one real frame of every this many batches also runs on the interpreter.
AUDIT_EVERY = 64
#: Probe frames (and real frames) compared on the first batch of each new frame shape.
AUDIT_FRAMES = 8
#: A kernel that raises hands its batch to the interpreter; after this many such batches it is
#: detached (native code does not free what it allocated when it raises, and each such batch
#: runs twice).
KERNEL_RAISES = 16
#: A kernel that defers a batch (``JitDeferred``: a case it does not compute exactly) hands it to
#: the interpreter too; it is detached after this many deferred batches in a row (it would only
#: add its own run to the interpreter's: ``(frame / 255.0).mean(axis=2)`` defers every batch)...
KERNEL_DEFERS_IN_A_ROW = 16
#: ... or this many in all (each leaks what the kernel had allocated when it raised).
KERNEL_DEFERS = 256

_PALETTE = (
    (0, 0, 0),
    (100, 100, 100),
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (255, 255, 0),
    (112, 39, 195),
    (255, 255, 255),
    (76, 76, 76),
    (255, 76, 76),
)


def probe_frames(n: int = 24, size: tuple[int, int] = (48, 48), seed: int = 0) -> FrameBatch:
    """Diverse, deterministic frames for comparing the JIT and interpreter paths.

    Palette backgrounds with palette rectangles (MiniGrid colours among them), noise, and the
    constant extremes: bare ``arrays(uint8)`` draws would be near-constant.

    Example:
        >>> probe_frames(4).shape
        (4, 48, 48, 3)
    """
    rng = np.random.default_rng(seed)
    h, w = size
    frames = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        if i == 0:
            frames[i] = 0
        elif i == 1:
            frames[i] = 255
        elif i % 7 == 6:
            frames[i] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        else:
            frames[i] = _PALETTE[int(rng.integers(len(_PALETTE)))]
            for _ in range(int(rng.integers(1, 6))):
                y0, x0 = int(rng.integers(0, h - 2)), int(rng.integers(0, w - 2))
                y1, x1 = int(rng.integers(y0 + 1, h)), int(rng.integers(x0 + 1, w))
                frames[i, y0:y1, x0:x1] = _PALETTE[int(rng.integers(len(_PALETTE)))]
    return frames


def _vision_helpers() -> dict[str, Any]:
    from sandbox.vision import VISION_HELPERS

    return dict(VISION_HELPERS)


class Checker:
    """A compiled, loaded checker. Create it with :func:`compile_checker`.

    Not thread-safe: calls on one checker must not overlap (each worker owns its checkers).

    Attributes:
        path: where the source came from.
        entry: the entry function's name.
        arity: 1 for ``check(frame)``, 2 for ``check(frame, first)``.
        sha256: hex digest of the source text.
        budgets: the per-call budgets.
    """

    def __init__(
        self,
        *,
        source: str,
        path: str,
        entry: str,
        function: Callable[..., Any],
        arity: int,
        meter: Meter,
    ) -> None:
        self.source = source
        self.path = path
        self.entry = entry
        self.arity = arity
        self.sha256 = hashlib.sha256(source.encode("utf-8")).hexdigest()
        self.budgets = meter.budgets
        self.kernel: Kernel | None = None
        self.jit_reason = "not compiled for the JIT path"
        self._probed_shapes: set[tuple[int, int]] = set()
        self._batches = 0
        self._raised = 0
        self._deferred = 0  # batches the kernel deferred, in all and in a row
        self._deferred_in_a_row = 0
        self._function = function
        self._meter = meter

    def __repr__(self) -> str:
        return f"Checker(path={self.path!r}, entry={self.entry!r}, sha256={self.sha256[:12]})"

    def __call__(self, frame: Frame, first: Frame | None = None) -> bool:
        """Evaluate the checker on one frame.

        Args:
            frame: (H, W, 3) uint8 RGB frame. It is copied; the caller's array is never changed.
            first: the episode's first frame, same shape; defaults to ``frame`` when omitted.

        Returns:
            The checker's answer.

        Raises:
            FrameError: when ``frame`` or ``first`` is not an (H, W, 3) uint8 array.
            CheckerRuntimeError: when the checker breaks a guard, a budget or the result contract,
                or raises (subclasses say which; ``.status`` gives the per-checker status).
        """
        frame = validate_frame(frame, "frame")
        if first is not None:
            first = validate_frame(first, "first")
            if first.shape != frame.shape:
                from sandbox.errors import FrameError

                raise FrameError("first", f"shape {first.shape} differs from frame {frame.shape}")
        stacked = frame[None] if first is None else np.stack([frame, first])
        ro = readonly_batch(stacked)
        with np.errstate(all="ignore"):
            return self._run(ro[0], ro[0] if first is None else ro[1])

    def batch(self, frames: FrameBatch, firsts: FrameBatch | None = None) -> NDArray[np.bool_]:
        """Evaluate the checker on every frame of a batch.

        Args:
            frames: (N, H, W, 3) uint8 frames. Copied once; never changed.
            firsts: (N, H, W, 3) first frames of each frame's episode, or None (each frame is its
                own first frame).

        Returns:
            Bool array of shape (N,).

        Raises:
            FrameError: for a malformed batch.
            CheckerRuntimeError: on the first frame where the checker fails (with its status).
        """
        frames = validate_batch(frames, "frames")
        ro = readonly_batch(frames)
        ro_first = ro
        if firsts is not None:
            firsts = validate_batch(firsts, "firsts")
            if firsts.shape != frames.shape:
                from sandbox.errors import FrameError

                raise FrameError("firsts", f"shape {firsts.shape} differs from {frames.shape}")
            ro_first = readonly_batch(firsts)
        return self.batch_immutable(ro, ro_first)

    def batch_immutable(self, frames: FrameBatch, firsts: FrameBatch) -> NDArray[np.bool_]:
        """Evaluate a batch that is already validated and immutable (no copy is made).

        For callers that own truly read-only memory, such as a worker's read-only mapping of the
        frame shared memory. ``frames`` and ``firsts`` must be C-contiguous (N, H, W, 3) uint8
        arrays whose write flag cannot be turned on; anything else is refused.

        Raises:
            FrameError: when the arrays are writeable or malformed.
            CheckerRuntimeError: on the first frame where the checker fails (with its status).
        """
        for what, batch in (("frames", frames), ("firsts", firsts)):
            validate_batch(batch, what)
            if batch.flags.writeable or not batch.flags.c_contiguous:
                from sandbox.errors import FrameError

                raise FrameError(what, "batch_immutable() needs read-only C-contiguous memory")
        if self.kernel is not None:
            self._audit_kernel(frames, firsts)
        if self.kernel is not None:
            return self._run_kernel(frames, firsts)
        return self._interpreted(frames, firsts)

    def _run_kernel(self, frames: FrameBatch, firsts: FrameBatch) -> NDArray[np.bool_]:
        kernel = self.kernel
        if kernel is None:  # pragma: no cover - callers check
            raise SandboxError("no kernel attached")
        out = np.zeros(frames.shape[0], dtype=np.bool_)
        try:
            kernel.run(frames, firsts, out)
        except JitDeferred:
            # The kernel met a case where it cannot promise the interpreter's exact answer (an
            # integer mean past 2**53, an empty mean): the interpreter answers this batch.
            self._deferred += 1
            self._deferred_in_a_row += 1
            if self._deferred_in_a_row >= KERNEL_DEFERS_IN_A_ROW or self._deferred >= KERNEL_DEFERS:
                self.kernel = None
                self.jit_reason = (  # sandbox.pool.DETACHED
                    f"kernel detached: it deferred {self._deferred} batches to the interpreter "
                    f"({self._deferred_in_a_row} in a row), cases it does not compute exactly"
                )
            return self._interpreted(frames, firsts)
        except Exception:
            # The kernel raised where the interpreter raises too (a kernel answers only where
            # the interpreter would, which the probes check): the interpreter, the reference
            # semantics, answers the batch. It fails with the checker's own error, or runs the
            # ``except`` clause that a kernel leaves out (kernels follow a ``try`` body only).
            # A MemoryError too: the kernel's allocation limit is not the interpreter's budget
            # (``np.ones((10**9, 0))`` holds nothing), so the interpreter decides, budgets first.
            self._raised += 1
            if self._raised >= KERNEL_RAISES:
                self.kernel = None
                self.jit_reason = (  # sandbox.pool.DETACHED
                    f"kernel detached: it raised on {self._raised} batches (the interpreter "
                    "answered them; native code keeps what it allocated when it raises)"
                )
            return self._interpreted(frames, firsts)
        self._deferred_in_a_row = 0
        return out

    def _interpreted(self, frames: FrameBatch, firsts: FrameBatch) -> NDArray[np.bool_]:
        out = np.empty(frames.shape[0], dtype=np.bool_)
        with np.errstate(all="ignore"):
            for i in range(frames.shape[0]):
                out[i] = self._run(frames[i], firsts[i])
        return out

    def attach_kernel(self, kernel: Kernel, probes: FrameBatch | None = None) -> str | None:
        """Use a compiled kernel for batches once it agrees with the interpreter path.

        Both paths run on diverse probe frames (see :func:`probe_frames`); any difference in an
        answer, or a kernel answering where the interpreter fails, leaves the checker on the
        interpreter path (where the kernel raises, the interpreter answers that batch at run
        time). The
        agreement is checked again where a checker could tell probe frames from real ones: on
        the first batch of every new frame shape (probe frames of that shape plus the batch's
        own first frames), and on one real frame every :data:`AUDIT_EVERY` batches. A
        disagreement there detaches the kernel for good (:attr:`jit_reason` says where).

        Args:
            kernel: from :func:`sandbox.jit.build_kernel` for this checker's source.
            probes: (N, H, W, 3) frames to compare on; defaults to :func:`probe_frames`.

        Returns:
            None when the kernel is attached, else why not.
        """
        frames = readonly_batch(probes if probes is not None else probe_frames())
        firsts = readonly_batch(np.ascontiguousarray(frames[::-1]))
        why = self._disagreement(kernel, frames, firsts, "probe frame")
        if why is not None:
            self.jit_reason = why
            return why
        self.kernel = kernel
        self.jit_reason = ""
        # empty: the first real batch of the probes' own shape is compared as well
        self._probed_shapes = set()
        self._batches = 0
        self._raised = 0
        self._deferred = self._deferred_in_a_row = 0
        return None

    def _disagreement(
        self, kernel: Kernel, frames: FrameBatch, firsts: FrameBatch, what: str
    ) -> str | None:
        """Why the kernel and the interpreter differ on one of ``frames``, or None."""
        for i in range(frames.shape[0]):
            one, one_first = frames[i : i + 1], firsts[i : i + 1]
            try:
                with np.errstate(all="ignore"):
                    expected: bool | str = bool(self._run(one[0], one_first[0]))
            except BudgetError:
                # Native code has no budgets: running the kernel here could never return.
                return (
                    f"the interpreter exceeds its budgets on {what} {i}; the kernel would run "
                    "without them"
                )
            except CheckerRuntimeError as err:
                expected = err.status
            try:
                out = np.zeros(1, np.bool_)
                kernel.run(one, one_first, out)
                got: bool | str = bool(out[0])
            except Exception:
                # a deferral or an error: at run time the interpreter answers such a frame
                got = expected
            if expected != got and not (isinstance(expected, str) and isinstance(got, str)):
                return f"JIT and interpreter disagree on {what} {i} ({got!r} vs {expected!r})"
        return None

    def _audit_kernel(self, frames: FrameBatch, firsts: FrameBatch) -> None:
        """Compare the paths where probe frames cannot stand in for real ones; detach on a miss."""
        kernel = self.kernel
        if kernel is None:
            return
        h, w = frames.shape[1:3]
        self._batches += 1
        if (h, w) not in self._probed_shapes:
            self._probed_shapes.add((h, w))
            real = frames[:AUDIT_FRAMES]
            shaped = probe_frames(AUDIT_FRAMES, (h, w)) if min(h, w) >= 3 else real[:0]
            both = readonly_batch(np.concatenate([shaped, real]))
            starts = readonly_batch(np.concatenate([shaped[::-1], firsts[:AUDIT_FRAMES]]))
            where = f"a {h}x{w} frame (probe frames 0-{len(shaped) - 1}, then the first batch)"
            why = self._disagreement(kernel, both, starts, where + ":")
        elif self._batches % AUDIT_EVERY == 0:
            i = (self._batches // AUDIT_EVERY) % frames.shape[0]
            why = self._disagreement(
                kernel, frames[i : i + 1], firsts[i : i + 1], f"batch {self._batches}, frame"
            )
        else:
            return
        if why is not None:
            self.kernel = None
            self.jit_reason = f"kernel detached: {why}"  # sandbox.pool.DETACHED

    def _run(self, frame: Frame, first: Frame) -> bool:
        self._meter.reset()
        failure: CheckerRuntimeError
        try:
            value = self._function(frame) if self.arity == 1 else self._function(frame, first)
            return to_result(value, checker=self.path)
        except BudgetExceeded as err:
            failure = BudgetError(str(err), checker=self.path, line=self._line(err))
        except Denied as err:
            failure = CapabilityViolation(err.detail, checker=self.path, line=self._line(err))
        except CheckerRuntimeError as err:
            err.checker, err.line = self.path, err.line or self._line(err)
            failure = err
        except RecursionError as err:
            failure = BudgetError("recursion too deep", checker=self.path, line=self._line(err))
        except MemoryError as err:
            failure = MemoryExceeded("out of memory", checker=self.path, line=self._line(err))
        except Exception as err:
            failure = CheckerFailed(
                f"{type(err).__name__}: {_message(err)}", checker=self.path, line=self._line(err)
            )
        # Raised outside the handlers: nothing of the checker's exception (its arguments, its
        # traceback, its __context__) travels with the error into the host.
        failure.__traceback__ = None
        raise failure

    def _line(self, err: BaseException) -> int | None:
        line = None
        for entry in traceback.extract_tb(err.__traceback__):
            if entry.filename == self.path:
                line = entry.lineno
        return line


def _message(err: BaseException) -> str:
    """The exception's arguments, described without calling any method of theirs."""
    args = err.args
    if len(args) == 1:
        return describe(args[0]) if type(args[0]) is not str else describe(args[0])[1:-1]
    return ", ".join(describe(a) for a in args[:4])


def compile_checker(
    source: str,
    *,
    entry: str = "check",
    path: str = "<checker>",
    budgets: Budgets | None = None,
    limits: AuditLimits | None = None,
    jit: bool = False,
) -> Checker:
    r"""Audit, compile and load a checker in this process.

    Args:
        source: the checker module's text.
        entry: the function the engine calls.
        path: label used in findings, errors and tracebacks.
        budgets: per-call budgets; defaults to :class:`Budgets()`.
        limits: audit size limits.
        jit: also compile the checker with Numba when it fits the JIT subset, and use the kernel
            for batches once it agrees with the interpreter on :func:`probe_frames` (see
            ``checker.kernel`` / ``checker.jit_reason``). Native code ignores the in-process
            budgets: use it behind the process boundary (:class:`sandbox.Sandbox` does).

    Returns:
        The loaded :class:`Checker`.

    Raises:
        AuditError: when the audit rejects the source (``.findings`` lists why).
        SandboxError: when the restricted compiler or loading the module fails.

    Example:
        >>> c = compile_checker("def check(frame):\n    return bool(frame[..., 0].mean() > 100)\n")
        >>> c(np.full((4, 4, 3), 200, np.uint8))
        True
    """
    report = audit(source, path=path, entry=entry, limits=limits)  # strips a BOM itself
    if not report.ok:
        raise AuditError(path, report.findings)
    source = report.source  # what the audit saw: BOM stripped, private names renamed
    meter = Meter(budgets or Budgets())
    namespace = make_namespace(
        meter, make_numpy_facade(meter), make_math_facade(), _vision_helpers()
    )
    with warnings.catch_warnings():  # SyntaxWarnings were the audit's to report, not stderr's
        warnings.simplefilter("ignore", SyntaxWarning)
        tree = ast.parse(source, filename=path)
    # Module constants are folded from literals (bounded, frozen), never executed: the JIT path
    # builds its kernel from the same values, so both paths start from identical constants.
    constants = fold_constants(tree)
    tree.body = [s for s in tree.body if not isinstance(s, ast.Assign | ast.AnnAssign)]
    code = restricted_compile(tree, path)
    namespace.update(constants)
    try:
        exec(code, namespace)  # module level: defs and imports only (audited)
    except BaseException as err:  # even BudgetExceeded: the module must load cleanly
        from sandbox.errors import SandboxError

        raise SandboxError(f"{path}: loading the checker module failed: {err!r}") from None
    function = namespace.get(entry)
    if not callable(function):
        from sandbox.errors import SandboxError

        raise SandboxError(f"{path}: {entry!r} is not a function after loading")
    with warnings.catch_warnings():  # the compiled tree is RestrictedPython's: parse afresh
        warnings.simplefilter("ignore", SyntaxWarning)
        tree = ast.parse(source)
    arity = next(
        len(n.args.posonlyargs) + len(n.args.args)
        for n in tree.body
        if isinstance(n, ast.FunctionDef) and n.name == entry
    )
    checker = Checker(
        source=source, path=path, entry=entry, function=function, arity=arity, meter=meter
    )
    if jit:
        from sandbox.jit import build_kernel

        kernel = build_kernel(source, entry=entry)
        if isinstance(kernel, str):
            checker.jit_reason = kernel
        else:
            checker.attach_kernel(kernel)
    return checker
