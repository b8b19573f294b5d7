"""L0, the process boundary: :class:`Sandbox`, isolated, killable workers, one per checker.

Provides:
    Isolation: the closed set of isolation levels (``strict``, ``process``, ``inprocess``).
    BatchResult: per-checker results (bool array), statuses and details for one batch.
    FrameStage: frame slots in the workers' shared memory, written in place (no copy per batch).
    Sandbox: context manager that starts workers, evaluates batches, watches deadlines, respawns.
    strongest_isolation: the strongest level this machine supports (what ``isolation=None`` picks).

Each checker runs in its own fresh ``python -I`` process (never a fork of the trainer): its own
memory, its own socket, its own kernel directory, so one checker can neither corrupt another's
state nor speak for it. The worker isolates itself before it compiles anything of its checker
(:mod:`sandbox.worker`). Frames go in through one anonymous, size-sealed memfd that every worker maps
read-only (:mod:`sandbox.framebuf`: nothing is ever created in ``/dev/shm``, so nothing can leak
there); results come back as bytes parsed with :mod:`struct` (:mod:`sandbox.protocol`).

Workers evaluate a batch concurrently. The parent gives each checker ``timeout`` seconds per batch,
each JIT build ``jit_timeout`` seconds and the probe that compares a kernel with the interpreter
``PROBE_TIMEOUT_FACTOR`` times ``timeout``: past any of them, it SIGKILLs that worker (its whole
process group), reports which checker failed and why, and starts a replacement (for a build, one without the
JIT). Every failure kind (error, violation, budget, contract, memory, timeout, crash) counts toward
disabling the checker that caused it. Workers set a parent-death signal and run in their own
process group, so none outlives the trainer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from sandbox.audit import audit
from sandbox.budgets import Budgets
from sandbox.checker import Checker, compile_checker
from sandbox.errors import (
    AuditError,
    CheckerRuntimeError,
    IsolationUnavailable,
    SandboxError,
    Status,
    WorkerError,
)
from sandbox.framebuf import FrameBuffer
from sandbox.frames import MAX_SIDE, FrameBatch, validate_batch
from sandbox.oslimits import LayerReport, Limits, pinned_thread_env, probe, required_layers
from sandbox.protocol import (
    MessageReader,
    ProtocolError,
    decode_result,
    encode_eval,
    send_message,
)
from sandbox.worker import BOOT

__all__ = ["BatchResult", "FrameStage", "Isolation", "Sandbox", "strongest_isolation"]

log = logging.getLogger(__name__)

Isolation = Literal["strict", "process", "inprocess"]
_LEVELS: tuple[Isolation, ...] = ("strict", "process", "inprocess")
#: An ``ok`` answer whose detail starts with this says the worker detached its kernel (the paths
#: disagreed on real frames, :meth:`sandbox.checker.Checker.attach_kernel`); it runs no JIT again.
DETACHED = "kernel detached: "
PROBE_TIMEOUT_FACTOR = 4.0
"""The agreement probe (both paths, frame by frame) gets this many times the per-batch timeout."""
#: How long the parent polls a worker's socket for its answer before it sleeps in ``select``
#: (seconds), when it has a CPU to spare beside the workers it waits for (``benchmarks/frame_path.py``
#: measures what it saves). ``Sandbox.poll_seconds`` may change it per sandbox; 0 turns it off.
POLL_SECONDS = 1e-3
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


def strongest_isolation() -> tuple[Isolation, tuple[LayerReport, ...]]:
    """Return the strongest isolation level this machine supports, with the probe's reports.

    ``strict`` needs every layer :func:`sandbox.oslimits.required_layers` names for this kernel;
    otherwise ``process``.
    """
    reports = probe()
    available = {r.name for r in reports if r.available}
    level: Isolation = "strict" if set(required_layers(reports)) <= available else "process"
    return level, reports


@dataclass(frozen=True)
class BatchResult:
    """The outcome of one batch.

    Attributes:
        results: bool array (n_checkers, n_frames); False wherever ``valid`` is False.
        statuses: one status per checker (``ok``, or why it failed on at least one frame).
        details: one message per checker (empty when ok), naming what happened.
        seconds: wall-clock time of the whole evaluation.
        valid: bool array (n_checkers, n_frames) of usable answers (see :meth:`usable`).
    """

    results: NDArray[np.bool_]
    statuses: tuple[Status, ...]
    details: tuple[str, ...]
    seconds: float = 0.0
    valid: NDArray[np.bool_] | None = None

    def usable(self) -> NDArray[np.bool_]:
        """Bool array (n_checkers, n_frames): True where the answer can be used.

        When a checker fails on some frames only (say one environment's frame), its answers on
        the other frames are still usable; a timeout or crash makes the whole row unusable.
        """
        if self.valid is not None:
            return self.valid
        ok = np.array([s == "ok" for s in self.statuses], dtype=np.bool_)
        return np.repeat(ok[:, None], self.results.shape[1], axis=1)

    @property
    def ok(self) -> bool:
        """True when every checker answered."""
        return all(s == "ok" for s in self.statuses)


class FrameStage:
    """Frame slots where the workers read them: write a batch in place, then evaluate it.

    :meth:`Sandbox.evaluate` copies its frames (and the first frames, when given) into the
    shared memory on every call. A caller that steps the same envs batch after batch (the
    vectorised reward wrapper) writes each step's frames straight into :attr:`frames`, the first
    frames into :attr:`firsts` only when an episode starts, and calls
    :meth:`Sandbox.evaluate_stage`: the frames are then copied once, from where the env put them,
    and validated once (their dtype and shape are the slots'). Workers map the memory read-only,
    as for :meth:`Sandbox.evaluate`; only the parent writes it, and never while a batch is out.

    A stage is *current* until its sandbox hands out another one or :meth:`Sandbox.evaluate`
    writes the shared memory (a shared sandbox used for something else between two steps); a
    stale stage is refused, and its owner asks for a new one and writes the first frames again.

    Attributes:
        frames: (n, H, W, 3) uint8, writable: the batch to evaluate.
        firsts: (n, H, W, 3) uint8, writable (the episodes' first frames), or None when the
            stage was made without them.
    """

    def __init__(
        self,
        owner: Sandbox,
        generation: int,
        frames: NDArray[np.uint8],
        firsts: NDArray[np.uint8] | None,
        shared: bool,
    ) -> None:
        self._owner = owner
        self._generation = generation
        self.frames = frames
        self.firsts = firsts
        self.shared = shared

    @property
    def current(self) -> bool:
        """True while the slots still hold what was written into them (see the class doc)."""
        return not self._owner._closed and self._owner._stage_generation == self._generation


@dataclass
class _Worker:
    """One worker process (for one checker) and the parent's end of its socket."""

    index: int
    proc: subprocess.Popen[bytes]
    sock: socket.socket
    started: float
    reader: MessageReader
    jit: bool
    phase: str = "starting"  # starting -> building -> probing (JIT) -> ready
    deadline: float = 0.0
    batches: int = 0
    layers: tuple[LayerReport, ...] = ()
    load: tuple[str, str, str, str] = ("", "", "interpreter", "")

    def kill(self) -> None:
        """SIGKILL the worker's process group (it and anything it could have started)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        self.proc.wait()
        self.sock.close()


class Sandbox:
    """Evaluate untrusted checkers on frame batches behind an OS process boundary.

    Example:
        >>> import numpy as np
        >>> src = "def check(frame):\\n    return bool(frame.mean() > 10)\\n"
        >>> with Sandbox([src], isolation="process") as box:
        ...     box.evaluate(np.full((2, 8, 8, 3), 50, np.uint8)).results.tolist()
        [[True, True]]

    Args:
        sources: checker sources (each audited in the parent first: a rejected source raises
            :class:`AuditError` before any process starts).
        names: labels for the checkers (default ``checker0``, ...), used in statuses and errors.
        entry: the entry function name.
        isolation: ``strict`` (every layer this kernel supports: process, rlimits, network and IPC
            namespaces, Landlock, no capabilities, seccomp allow-list, no file writes, thread
            pinning; refuses to start if one is missing), ``process`` (process + rlimits + thread
            pinning) or ``inprocess`` (no boundary: trusted code and baselines only; warns). None
            picks the strongest available.
        timeout: seconds one checker may take over one batch before its worker is killed.
        start_timeout: seconds a worker may take to start, isolate and load its checker (the JIT
            build excluded).
        jit_timeout: seconds a worker may spend building its checker's JIT kernel; past it the
            worker is killed and replaced by one that runs the checker on the interpreter.
        recycle_after: batches after which a worker is replaced by a fresh one.
        max_failures: a checker is disabled (it then answers with its last failure status without
            running) after this many timeouts or crashes in all, or after this many consecutive
            batches that failed in any other way (error, violation, budget, contract, memory):
            every failure kind counts, but a checker that fails on the odd frame keeps running.
        spare: after a checker's worker has been killed once, keep a pre-warmed spare for it, so
            that the next kill costs no start-up time.
        limits: OS limits for workers.
        budgets: in-process budgets for each checker call.
        shm_bytes: frame-buffer size; larger batches are split.
        jit: compile checkers that fit the numeric subset with Numba (inside the worker's wall,
            cached on disk in a directory of that checker's own) and use the kernel once it agrees
            with the interpreter on probe frames; see :attr:`jit_modes`. Ignored for ``inprocess``.
    """

    def __init__(
        self,
        sources: Sequence[str],
        *,
        names: Sequence[str] | None = None,
        entry: str = "check",
        isolation: Isolation | None = None,
        timeout: float = 5.0,
        start_timeout: float = 60.0,
        jit_timeout: float = 60.0,
        recycle_after: int = 10_000,
        max_failures: int = 3,
        spare: bool = True,
        limits: Limits | None = None,
        budgets: Budgets | None = None,
        shm_bytes: int = 64 * 2**20,
        jit: bool = True,
    ) -> None:
        if isinstance(sources, str):
            raise TypeError("sources must be a sequence of checker sources, not one str")
        self.names = (
            list(names) if names is not None else [f"checker{i}" for i in range(len(sources))]
        )
        if len(self.names) != len(sources):
            raise ValueError(f"names has {len(self.names)} entries for {len(sources)} sources")
        if isolation is not None and isolation not in _LEVELS:
            raise ValueError(f"isolation={isolation!r}: choose one of {', '.join(_LEVELS)}")
        for label, value in (
            ("timeout", timeout),
            ("start_timeout", start_timeout),
            ("jit_timeout", jit_timeout),
        ):
            if not value > 0:
                raise ValueError(f"{label}={value!r}: must be a positive number of seconds")
        self.sources = list(sources)
        for name, source in zip(self.names, self.sources, strict=True):
            report = audit(source, path=name, entry=entry)
            if not report.ok:
                raise AuditError(name, report.findings)
        self.entry = entry
        self.timeout = float(timeout)
        self.start_timeout = float(start_timeout)
        self.jit_timeout = float(jit_timeout)
        self.probe_timeout = PROBE_TIMEOUT_FACTOR * self.timeout
        self.recycle_after = recycle_after
        self.poll_seconds = POLL_SECONDS
        self._cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        self.max_failures = max_failures
        self.spare_enabled = spare
        self.limits = limits or Limits(cpu_seconds=3600)
        self.budgets = budgets or Budgets()
        self.shm_bytes = shm_bytes
        self.jit = jit
        k = len(self.sources)
        self.failures = [0] * k
        self.streaks = [0] * k
        self.last_failure: list[tuple[Status, str]] = [("ok", "")] * k
        self.respawns = 0
        self.recycled = 0
        self.probe_reports: tuple[LayerReport, ...] = ()
        self._required: tuple[str, ...] = ()
        if isolation is None:
            isolation, self.probe_reports = strongest_isolation()
        elif isolation == "strict":
            self.probe_reports = probe()
        if isolation == "strict":
            available = {r.name for r in self.probe_reports if r.available}
            self._required = tuple(required_layers(self.probe_reports))
            missing = [
                f"{r.name}: {r.detail}"
                for r in self.probe_reports
                if r.name in self._required and r.name not in available
            ]
            if missing:
                raise IsolationUnavailable("strict", missing)
        self.isolation: Isolation = isolation
        self._inprocess: list[Checker] = []
        self._buffer: FrameBuffer | None = None
        self._stage_generation = 0  # bumped whenever the shared frame memory changes hands
        self._workers: list[_Worker | None] = [None] * k
        self._spares: list[_Worker | None] = [None] * k
        self._jit_refused: list[str] = [""] * k
        self._kernel_dirs: list[str] = [""] * k
        self._closed = False
        if isolation == "inprocess":
            warnings.warn(
                "Sandbox(isolation='inprocess') runs checker code inside this process with no OS "
                "boundary: use it for trusted code and baselines only",
                RuntimeWarning,
                stacklevel=2,
            )
            self._inprocess = [
                compile_checker(s, path=n, entry=entry, budgets=self.budgets)
                for s, n in zip(self.sources, self.names, strict=True)
            ]
        else:
            try:
                self._buffer = FrameBuffer(shm_bytes)
                if jit:
                    self._kernel_dirs = [self._prepare_kernel_dir(s) for s in self.sources]
                self._workers = [self._spawn(i) for i in range(k)]
                for i in range(k):
                    self._ensure_ready(i)
            except BaseException:
                self.close()
                raise
        log.info("sandbox started: isolation=%s, %d checker(s)", self.isolation, k)

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()

    def close(self) -> None:
        """Stop every worker and release the frame buffer. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for group in (self._workers, self._spares):
            for i, worker in enumerate(group):
                if worker is not None:
                    with contextlib.suppress(OSError):
                        send_message(worker.sock, b"Q")
                    worker.kill()
                    group[i] = None
        if self._buffer is not None:
            self._buffer.close()
            self._buffer = None

    @property
    def layers(self) -> tuple[LayerReport, ...]:
        """The isolation layers the first checker's worker applied (empty for ``inprocess``)."""
        for worker in self._workers:
            if worker is not None and worker.layers:
                return worker.layers
        return ()

    @property
    def jit_modes(self) -> tuple[tuple[str, str], ...]:
        """Per checker: ``("jit", "")`` or ``("interpreter", why)``, as its worker loaded it."""
        if self.isolation == "inprocess":
            return tuple(("interpreter", "in-process sandbox") for _ in self.sources)
        modes = []
        for worker in self._workers:
            if worker is None or worker.phase != "ready":
                modes.append(("interpreter", "worker not started"))
            else:
                modes.append((worker.load[2], worker.load[3]))
        return tuple(modes)

    @property
    def worker_pids(self) -> tuple[int | None, ...]:
        """Each checker's worker process id (None for ``inprocess`` or while none runs)."""
        return tuple(None if w is None else w.proc.pid for w in self._workers)

    @property
    def worker_pid(self) -> int | None:
        """The first checker's worker process id (None for ``inprocess``)."""
        pids = self.worker_pids
        return pids[0] if pids else None

    def _prepare_kernel_dir(self, source: str) -> str:
        """Create the checker's kernel directory: the one place its worker may write."""
        from sandbox.jit import kernel_dir

        path = kernel_dir(source, entry=self.entry)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            log.warning("JIT cache directory %s is not usable (%s): JIT off", path, err)
            return ""
        return str(path)

    def _spawn(self, index: int) -> _Worker:
        buffer = self._buffer
        if buffer is None:  # pragma: no cover - only inprocess has no buffer
            raise SandboxError("this Sandbox has no frame buffer")
        parent_end, child_end = socket.socketpair()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            **pinned_thread_env(),
        }
        for key in ("NUMBA_CACHE_DIR", "VLMCAR_CACHE_DIR", "XDG_CACHE_HOME", "HOME", "TMPDIR"):
            if key in os.environ:
                env[key] = os.environ[key]
        jit = self.jit and bool(self._kernel_dirs[index]) and not self._jit_refused[index]
        try:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-c",
                    BOOT,
                    str(child_end.fileno()),
                    str(buffer.reader_fd),
                    str(os.getpid()),
                    _PACKAGE_ROOT,
                ],
                pass_fds=(child_end.fileno(), buffer.reader_fd),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                close_fds=True,
                start_new_session=True,  # its own process group: killpg reaches all of it
            )
        except OSError as err:
            parent_end.close()
            raise WorkerError(f"cannot start a worker process: {err}") from None
        finally:
            child_end.close()
        config = worker_config(
            source=self.sources[index],
            name=self.names[index],
            entry=self.entry,
            isolation=self.isolation,
            required=self._required,
            jit=jit,
            kernel_dir=self._kernel_dirs[index],
            jit_reason=self._jit_refused[index],
            limits=self.limits,
            budgets=self.budgets,
            shm_bytes=self.shm_bytes,
        )
        worker = _Worker(
            index=index,
            proc=proc,
            sock=parent_end,
            started=time.monotonic(),
            reader=MessageReader(parent_end),
            jit=jit,
        )
        worker.deadline = worker.started + self.start_timeout
        try:
            send_message(parent_end, b"C", json.dumps(config).encode())
        except OSError as err:
            worker.kill()
            raise WorkerError(f"cannot configure the worker: {err}") from None
        return worker

    def _ensure_ready(self, index: int) -> _Worker:
        """Wait until checker ``index``'s worker has said ready (starting it if need be)."""
        worker = self._workers[index]
        if worker is None:
            worker = self._workers[index] = self._spawn(index)
        while worker.phase != "ready":
            try:
                kind, payload = worker.reader.recv(deadline=worker.deadline, max_size=1 << 20)
            except TimeoutError:
                if worker.phase in ("building", "probing"):
                    worker = self._refuse_jit(index, worker)
                    continue
                self._discard(index, worker)
                raise WorkerError(
                    f"{self.names[index]}: the worker did not start within "
                    f"{self.start_timeout:g} s (start_timeout)"
                ) from None
            except (EOFError, ProtocolError, OSError) as err:
                code = worker.proc.poll()
                self._discard(index, worker)
                raise WorkerError(
                    f"{self.names[index]}: the worker failed to start ({type(err).__name__}: "
                    f"{err}); exit code {code}"
                ) from None
            if kind == b"B" and worker.phase == "starting":
                worker.phase = "building"
                worker.deadline = time.monotonic() + self.jit_timeout
            elif kind == b"P" and worker.phase == "building":
                # Kernel and interpreter on the probe frames: a checker answers a batch within
                # `timeout`; the probe runs both paths frame by frame, so it gets a few times that.
                worker.phase = "probing"
                worker.deadline = time.monotonic() + self.probe_timeout
            elif kind == b"X":
                self._discard(index, worker)
                raise IsolationUnavailable(
                    self.isolation, [payload.decode("utf-8", "replace")[:500]]
                )
            elif kind == b"R":
                try:
                    worker.layers, worker.load = _parse_ready(payload)
                except ProtocolError:
                    self._discard(index, worker)
                    raise
                worker.phase = "ready"
            else:
                self._discard(index, worker)
                raise WorkerError(f"{self.names[index]}: the worker sent {kind!r} while starting")
        status, detail, _, _ = worker.load
        if status != "ok":
            raise SandboxError(f"{self.names[index]}: failed to load in the worker: {detail}")
        return worker

    def _refuse_jit(self, index: int, worker: _Worker) -> _Worker:
        """A JIT build overran ``jit_timeout``: kill it and start the checker without the JIT."""
        worker.kill()
        overran = (
            f"the JIT build took longer than {self.jit_timeout:g} s (jit_timeout)"
            if worker.phase == "building"
            else f"the JIT agreement probe took longer than {self.probe_timeout:g} s "
            f"({PROBE_TIMEOUT_FACTOR:g} x timeout)"
        )
        self._jit_refused[index] = (
            f"{overran}; the worker was killed and the checker runs on the interpreter"
        )
        log.warning("%s: %s", self.names[index], self._jit_refused[index])
        spare = self._spares[index]
        if spare is not None:  # it was started with the JIT on: it would build again
            spare.kill()
            self._spares[index] = None
        fresh = self._workers[index] = self._spawn(index)
        return fresh

    def _kernel_detached(self, index: int, worker: _Worker, detail: str) -> None:
        """The worker's kernel disagreed with the interpreter on real frames: never use it again."""
        self._jit_refused[index] = detail[:300]
        worker.load = (*worker.load[:2], "interpreter", detail[:300])
        log.warning("%s: %s", self.names[index], detail[:300])
        spare = self._spares[index]
        if spare is not None:  # it was started with the JIT on: it would attach the kernel
            spare.kill()
            self._spares[index] = None

    def _discard(self, index: int, worker: _Worker) -> None:
        worker.kill()
        if self._workers[index] is worker:
            self._workers[index] = None

    def _replace(self, index: int, reason: str, *, failure: bool = True) -> None:
        """Kill checker ``index``'s worker and put its spare (or a fresh worker) in its place."""
        old = self._workers[index]
        if old is not None:
            old.kill()
        if failure:
            self.respawns += 1
            log.warning("sandbox worker of %s replaced: %s", self.names[index], reason)
        else:
            self.recycled += 1
            log.info("sandbox worker of %s recycled: %s", self.names[index], reason)
        fresh = self._spares[index] or self._spawn(index)
        self._spares[index] = None
        self._workers[index] = fresh
        if self.spare_enabled and failure:
            self._spares[index] = self._spawn(index)

    # -- evaluation ---------------------------------------------------------------------------

    def evaluate(self, frames: FrameBatch, firsts: FrameBatch | None = None) -> BatchResult:
        """Evaluate every checker on every frame.

        Args:
            frames: (N, H, W, 3) uint8 frames.
            firsts: (N, H, W, 3) first frame of each frame's episode, or None.

        Returns:
            A :class:`BatchResult`; failures are statuses, never exceptions.

        Raises:
            FrameError: for malformed frames (a caller's error, not a checker's).
            SandboxError: when the sandbox is closed or workers cannot be started at all.
        """
        if self._closed:
            raise SandboxError("this Sandbox is closed")
        t0 = time.perf_counter()
        self._stage_generation += 1  # the shared memory is about to be overwritten
        frames = validate_batch(frames, "frames")
        if firsts is not None:
            firsts = validate_batch(firsts, "firsts")
            if firsts.shape != frames.shape:
                from sandbox.errors import FrameError

                raise FrameError(
                    "firsts", f"shape {firsts.shape} differs from frames {frames.shape}"
                )
        n = frames.shape[0]
        results, valid, statuses, details = self._blank(n)
        per_frame = frames[0].nbytes * (2 if firsts is not None else 1) if n else 1
        if per_frame > self.shm_bytes:
            raise SandboxError(f"one frame needs {per_frame:,} bytes; raise shm_bytes above that")
        chunk = max(1, self.shm_bytes // per_frame)
        for start in range(0, max(n, 1), chunk):
            stop = min(n, start + chunk)
            part = frames[start:stop]
            part_first = None if firsts is None else firsts[start:stop]
            rows = _Rows(results[:, start:stop], valid[:, start:stop], statuses, details)
            if self.isolation == "inprocess":
                self._run_inprocess(part, part_first, rows)
            else:
                self._run_workers(part, part_first, rows)
        return BatchResult(
            results, tuple(statuses), tuple(details), time.perf_counter() - t0, valid
        )

    def stage(self, n: int, shape: tuple[int, int], *, firsts: bool = False) -> FrameStage:
        """Frame slots for batches of ``n`` frames of ``shape`` (H, W), written in place.

        The slots lie in the workers' shared memory when a whole batch (and its first frames)
        fits in ``shm_bytes``; otherwise, and for ``inprocess``, they are ordinary arrays and
        :meth:`evaluate_stage` goes through :meth:`evaluate` (split into chunks as it is). Every
        call makes the stages handed out before stale.

        Args:
            n: frames per batch (at least 1).
            shape: (height, width) of every frame.
            firsts: also hold each frame's episode-first frame (checkers that take ``first``).

        Raises:
            FrameError: for a bad ``n`` or ``shape``.
            SandboxError: when the sandbox is closed.
        """
        from sandbox.errors import FrameError

        if self._closed:
            raise SandboxError("this Sandbox is closed")
        h, w = (int(x) for x in shape)
        if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE):
            raise FrameError("stage", f"height and width must be in 1..{MAX_SIDE}, got {h}×{w}")
        if n < 1:
            raise FrameError("stage", f"needs at least one frame per batch, got n={n}")
        self._stage_generation += 1
        size = n * h * w * 3
        total = 2 * size if firsts else size
        shape4 = (n, h, w, 3)
        if self._buffer is not None and total <= self.shm_bytes:
            view = self._buffer.view(total)
            slots = view[:size].reshape(shape4)
            first_slots = view[size:].reshape(shape4) if firsts else None
            return FrameStage(self, self._stage_generation, slots, first_slots, True)
        first_private = np.zeros(shape4, np.uint8) if firsts else None
        return FrameStage(
            self, self._stage_generation, np.zeros(shape4, np.uint8), first_private, False
        )

    def evaluate_stage(self, stage: FrameStage) -> BatchResult:
        """Evaluate every checker on the frames written into ``stage`` (no copy, no re-check).

        Returns:
            A :class:`BatchResult`, as :meth:`evaluate`.

        Raises:
            SandboxError: when the stage is not this sandbox's or is stale (see
                :class:`FrameStage`), or the sandbox is closed.
        """
        if self._closed:
            raise SandboxError("this Sandbox is closed")
        if stage._owner is not self:
            raise SandboxError("this FrameStage belongs to another Sandbox")
        if not stage.current:
            raise SandboxError(
                "this FrameStage is stale: the sandbox's frame memory was used since it was made "
                "(another stage or evaluate()); ask Sandbox.stage() for a new one and write the "
                "first frames again"
            )
        if not stage.shared:
            result = self.evaluate(stage.frames, stage.firsts)
            self._stage_generation = stage._generation  # private slots: nothing was clobbered
            return result
        t0 = time.perf_counter()
        results, valid, statuses, details = self._blank(stage.frames.shape[0])
        rows = _Rows(results, valid, statuses, details)
        self._dispatch(stage.frames.shape, stage.firsts is not None, rows)
        return BatchResult(
            results, tuple(statuses), tuple(details), time.perf_counter() - t0, valid
        )

    def _blank(
        self, n: int
    ) -> tuple[NDArray[np.bool_], NDArray[np.bool_], list[Status], list[str]]:
        """A batch's result arrays before any checker answered: all False, all valid, all ok."""
        k = len(self.sources)
        statuses: list[Status] = ["ok"] * k
        return np.zeros((k, n), np.bool_), np.ones((k, n), np.bool_), statuses, [""] * k

    def _run_inprocess(self, frames: FrameBatch, firsts: FrameBatch | None, rows: _Rows) -> None:
        for i, checker in enumerate(self._inprocess):
            if self._is_disabled(i):
                self._disabled(i, rows)
                continue
            try:
                rows.out[i] = checker.batch(frames, firsts)
                self.streaks[i] = 0
            except CheckerRuntimeError as err:
                per_frame = []
                for j in range(frames.shape[0]):  # which frames fail, which still answer
                    try:
                        one = None if firsts is None else firsts[j : j + 1]
                        per_frame.append(int(checker.batch(frames[j : j + 1], one)[0]))
                    except CheckerRuntimeError:
                        per_frame.append(2)
                rows.partial(i, err.status, str(err), bytes(per_frame))
                self._count(i, err.status, str(err), kill=False)

    def _is_disabled(self, index: int) -> bool:
        return max(self.failures[index], self.streaks[index]) >= self.max_failures

    def _disabled(self, index: int, rows: _Rows) -> None:
        status, detail = self.last_failure[index]
        if self.failures[index] >= self.max_failures:
            why = f"{self.failures[index]} failures"
        else:
            why = f"{self.streaks[index]} failures in a row"
        rows.whole(index, status, f"{self.names[index]}: disabled after {why}; last: {detail}")

    def _run_workers(self, frames: FrameBatch, firsts: FrameBatch | None, rows: _Rows) -> None:
        buffer = self._buffer
        if buffer is None:  # pragma: no cover - only inprocess has no buffer
            raise SandboxError("this Sandbox has no frame buffer")
        size = frames.nbytes
        view = buffer.view(2 * size if firsts is not None else size)
        view[:size] = frames.reshape(-1)
        if firsts is not None:
            view[size:] = firsts.reshape(-1)
        del view
        self._dispatch(frames.shape, firsts is not None, rows)

    def _dispatch(self, shape: tuple[int, ...], with_firsts: bool, rows: _Rows) -> None:
        """Send the batch now in the shared memory to every worker and collect the answers."""
        n, h, w = shape[0], shape[1], shape[2]
        request = encode_eval(n, h, w, with_firsts, [0])
        sent: list[int] = []
        for i in range(len(self.sources)):
            if self._is_disabled(i):
                self._disabled(i, rows)
                continue
            worker = self._workers[i]
            if worker is not None and worker.batches >= self.recycle_after:
                self._replace(i, f"after {self.recycle_after} batches", failure=False)
            worker = self._ensure_ready(i)
            worker.batches += 1
            try:
                send_message(worker.sock, b"E", request)
            except OSError as err:
                self._crash(i, worker, err, rows)
                continue
            sent.append(i)
        # Every worker now computes concurrently; each gets `timeout` from now.
        deadline = time.monotonic() + self.timeout
        # Polling uses this process's CPU: only while the workers it waits for leave one free.
        poll_until = time.perf_counter() + self.poll_seconds if len(sent) < self._cpus else 0.0
        for i in sent:
            worker = self._workers[i]
            if worker is None:  # pragma: no cover - replaced above only on failure
                continue
            try:
                worker.reader.poll(poll_until)
                kind, payload = worker.reader.recv(deadline=deadline, max_size=1 << 20)
                if kind != b"K":
                    raise ProtocolError(f"unexpected message kind {kind!r}")
                _, status, raw, detail = decode_result(payload, expected_n=n, n_checkers=1)
            except TimeoutError:
                self._fail(
                    i,
                    "timeout",
                    f"{self.names[i]}: timeout: no answer within {self.timeout:g} s; worker "
                    "killed and replaced",
                    rows,
                )
                self._replace(i, f"{self.names[i]} timed out")
                continue
            except (EOFError, OSError, ProtocolError) as err:
                self._crash(i, worker, err, rows)
                continue
            if status == "ok":
                rows.out[i] = np.frombuffer(raw, np.uint8).astype(np.bool_)
                self.streaks[i] = 0
                if detail.startswith(DETACHED):
                    self._kernel_detached(i, worker, detail)
            else:
                rows.partial(i, status, detail, raw)
                self._count(i, status, detail, kill=False)

    def _crash(self, index: int, worker: _Worker, err: BaseException, rows: _Rows) -> None:
        code = worker.proc.poll()
        if code is None:
            worker.kill()
            code = worker.proc.returncode
        signal_name = _signal_name(code)
        self._fail(
            index,
            "crash",
            f"{self.names[index]}: crash: the worker died "
            f"({signal_name or f'exit code {code}'}; {type(err).__name__}: {err}); "
            "worker replaced",
            rows,
        )
        self._replace(index, f"{self.names[index]} crashed the worker")

    def _fail(self, index: int, status: Status, detail: str, rows: _Rows) -> None:
        rows.whole(index, status, detail)
        self._count(index, status, detail, kill=True)

    def _count(self, index: int, status: Status, detail: str, *, kill: bool) -> None:
        """Every failure kind counts toward disabling the checker that caused it.

        Kills (timeouts, crashes) cost a worker each and count in total; other failures count
        while they come in a row.
        """
        if kill:
            self.failures[index] += 1
        self.streaks[index] += 1
        self.last_failure[index] = (status, detail)


@dataclass
class _Rows:
    """The part of a batch's result arrays one chunk writes, plus the per-checker verdicts."""

    out: NDArray[np.bool_]
    valid: NDArray[np.bool_]
    statuses: list[Status]
    details: list[str]
    dead: set[int] = field(default_factory=set)

    def whole(self, index: int, status: Status, detail: str) -> None:
        """The checker gave no answer at all (timeout, crash, disabled)."""
        self.valid[index] = False
        self.out[index] = False
        self.dead.add(index)
        self._record(index, status, detail)

    def partial(self, index: int, status: Status, detail: str, per_frame: bytes) -> None:
        """The checker failed on some frames; ``per_frame`` holds 0/1 answers and 2 for failures."""
        if len(per_frame) == self.out.shape[1]:
            codes = np.frombuffer(per_frame, np.uint8)
            self.out[index] = codes == 1
            self.valid[index] = codes != 2
        else:
            self.out[index] = False
            self.valid[index] = False
        self._record(index, status, detail)

    def _record(self, index: int, status: Status, detail: str) -> None:
        if self.statuses[index] == "ok":
            self.statuses[index], self.details[index] = status, detail


def worker_config(
    *,
    source: str,
    name: str,
    entry: str,
    isolation: str,
    required: Sequence[str],
    jit: bool,
    kernel_dir: str,
    jit_reason: str,
    limits: Limits,
    budgets: Budgets,
    shm_bytes: int,
) -> dict[str, object]:
    """The configuration message a worker receives first (JSON; see :mod:`sandbox.worker`)."""
    return {
        "shm_size": shm_bytes,
        "isolation": isolation,
        "required": list(required),
        "jit": jit,
        "limits": asdict(limits),
        "budgets": asdict(budgets),
        "checker": {
            "source": source,
            "path": name,
            "entry": entry,
            "kernel_dir": kernel_dir,
            "jit_reason": jit_reason,
        },
    }


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return ""
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _parse_ready(payload: bytes) -> tuple[tuple[LayerReport, ...], tuple[str, str, str, str]]:
    """Parse and schema-check a worker's ready message (JSON of primitives only)."""
    try:
        data = json.loads(payload)
        layers = tuple(
            LayerReport(name=str(name), available=bool(ok), detail=str(detail)[:500])
            for name, ok, detail in data["layers"]
        )
        status, detail, mode, why = data["compiled"]
        load = (str(status), str(detail)[:1000], str(mode), str(why)[:300])
    except (ValueError, KeyError, TypeError) as err:
        raise ProtocolError(f"malformed ready message: {err}") from None
    if load[2] not in ("jit", "interpreter"):
        raise ProtocolError(f"malformed ready message: mode {load[2]!r}")
    return layers, load
