"""L0, the process boundary: :class:`Sandbox`, a pool of isolated, killable checker workers.

Provides:
    Isolation: the closed set of isolation levels (``strict``, ``process``, ``inprocess``).
    BatchResult: per-checker results (bool array), statuses and details for one batch.
    Sandbox: context manager that starts workers, evaluates batches, watches deadlines, respawns.
    strongest_isolation: the strongest level this machine supports (what ``isolation=None`` picks).

Each worker is a fresh ``python -I`` process (never a fork of the trainer) that loads the checkers
once and isolates itself (:mod:`sandbox.worker`). Frames go in through shared memory; results come
back as bytes parsed with :mod:`struct` (:mod:`sandbox.protocol`). The parent enforces a deadline per
checker per batch: on overrun or crash it SIGKILLs the worker, swaps in a pre-warmed spare, reports
which checker failed and why, and re-runs the checkers of the batch that had not answered yet, so
no other checker's result is lost. Workers are recycled after ``recycle_after`` batches.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing import shared_memory
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
from sandbox.frames import FrameBatch, validate_batch
from sandbox.oslimits import LAYERS, LayerReport, Limits, pinned_thread_env, probe
from sandbox.protocol import (
    MessageReader,
    ProtocolError,
    decode_result,
    encode_eval,
    send_message,
)
from sandbox.worker import BOOT

__all__ = ["BatchResult", "Isolation", "Sandbox", "strongest_isolation"]

log = logging.getLogger(__name__)

Isolation = Literal["strict", "process", "inprocess"]
_LEVELS: tuple[Isolation, ...] = ("strict", "process", "inprocess")
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


def strongest_isolation() -> tuple[Isolation, tuple[LayerReport, ...]]:
    """Return the strongest isolation level this machine supports, with the probe's reports.

    ``strict`` needs every layer of :data:`sandbox.oslimits.LAYERS`; otherwise ``process``.
    """
    reports = probe()
    level: Isolation = "strict" if all(r.available for r in reports) else "process"
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


@dataclass
class _Process:
    """One worker process and its end of the socket."""

    proc: subprocess.Popen[bytes]
    sock: socket.socket
    started: float
    reader: MessageReader
    ready: bool = False
    batches: int = 0
    layers: tuple[LayerReport, ...] = ()
    load_status: list[tuple[str, str, str, str]] = field(default_factory=list)

    def kill(self) -> None:
        if self.proc.poll() is None:
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
        isolation: ``strict`` (every layer this project knows: process, rlimits, network
            namespace, seccomp, no file writes, thread pinning; refuses to start if one is
            missing), ``process`` (process + rlimits + thread pinning) or ``inprocess`` (no
            boundary: trusted code and baselines only; warns). None picks the strongest available.
        timeout: seconds one checker may take over one batch before its worker is killed.
        start_timeout: seconds a worker may take to start and load the checkers.
        recycle_after: batches after which a worker is replaced by a fresh one.
        max_failures: timeouts/crashes after which a checker is disabled (then it answers with
            its last failure status without running).
        spare: keep a pre-warmed spare worker so that a kill costs no start-up time.
        limits: OS limits for workers.
        budgets: in-process budgets for each checker call.
        shm_bytes: shared-memory size for frames; larger batches are split.
        jit: compile checkers that fit the numeric subset with Numba (in the worker, cached on
            disk) and use the kernel once it agrees with the interpreter on probe frames; see
            :attr:`jit_modes`. Ignored for ``inprocess``.
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
        for label, value in (("timeout", timeout), ("start_timeout", start_timeout)):
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
        self.recycle_after = recycle_after
        self.max_failures = max_failures
        self.spare_enabled = spare
        self.limits = limits or Limits(cpu_seconds=3600)
        self.budgets = budgets or Budgets()
        self.shm_bytes = shm_bytes
        self.jit = jit
        self.failures = [0] * len(self.sources)
        self.last_failure: list[tuple[Status, str]] = [("ok", "")] * len(self.sources)
        self.respawns = 0
        self.recycled = 0
        self.probe_reports: tuple[LayerReport, ...] = ()
        if isolation is None:
            isolation, self.probe_reports = strongest_isolation()
        elif isolation == "strict":
            self.probe_reports = probe()
            missing = [f"{r.name}: {r.detail}" for r in self.probe_reports if not r.available]
            if missing:
                raise IsolationUnavailable("strict", missing)
        self.isolation: Isolation = isolation
        self._inprocess: list[Checker] = []
        self._shm: shared_memory.SharedMemory | None = None
        self._active: _Process | None = None
        self._spare: _Process | None = None
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
            self._shm = shared_memory.SharedMemory(create=True, size=shm_bytes)
            self._active = self._ensure_ready(self._spawn())
            if self.spare_enabled:
                self._spare = self._spawn()
        log.info("sandbox started: isolation=%s, %d checker(s)", self.isolation, len(self.sources))

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()

    def close(self) -> None:
        """Stop every worker and release the shared memory. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for proc in (self._active, self._spare):
            if proc is not None:
                with contextlib.suppress(OSError):
                    send_message(proc.sock, b"Q")
                proc.kill()
        self._active = self._spare = None
        if self._shm is not None:
            self._shm.close()
            self._shm.unlink()
            self._shm = None

    @property
    def layers(self) -> tuple[LayerReport, ...]:
        """The isolation layers the active worker applied (empty for ``inprocess``)."""
        return self._active.layers if self._active is not None else ()

    @property
    def jit_modes(self) -> tuple[tuple[str, str], ...]:
        """Per checker: ``("jit", "")`` or ``("interpreter", why)``, as the active worker loaded it."""
        if self._active is None:
            return tuple(("interpreter", "in-process sandbox") for _ in self.sources)
        return tuple((mode, why) for _, _, mode, why in self._active.load_status)

    @property
    def worker_pid(self) -> int | None:
        """The active worker's process id (None for ``inprocess``)."""
        return self._active.proc.pid if self._active is not None else None

    def _spawn(self) -> _Process:
        assert self._shm is not None
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
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", BOOT, str(child_end.fileno()), _PACKAGE_ROOT],
            pass_fds=(child_end.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        child_end.close()
        config = {
            "shm": self._shm.name,
            "shm_size": self.shm_bytes,
            "isolation": self.isolation,
            "jit": self.jit,
            "limits": asdict(self.limits),
            "budgets": asdict(self.budgets),
            "checkers": [
                {"source": s, "path": n, "entry": self.entry}
                for s, n in zip(self.sources, self.names, strict=True)
            ],
        }
        send_message(parent_end, b"C", json.dumps(config).encode())
        return _Process(
            proc=proc, sock=parent_end, started=time.monotonic(), reader=MessageReader(parent_end)
        )

    def _ensure_ready(self, proc: _Process) -> _Process:
        if proc.ready:
            return proc
        deadline = proc.started + self.start_timeout
        try:
            kind, payload = proc.reader.recv(deadline=deadline, max_size=1 << 20)
        except (TimeoutError, EOFError, ProtocolError, OSError) as err:
            proc.kill()
            raise WorkerError(
                f"worker failed to start ({type(err).__name__}: {err}); exit code "
                f"{proc.proc.returncode}"
            ) from None
        if kind == b"X":
            proc.kill()
            raise IsolationUnavailable(self.isolation, [payload.decode("utf-8", "replace")[:500]])
        if kind != b"R":
            proc.kill()
            raise WorkerError(f"worker sent {kind!r} instead of ready")
        ready = _parse_ready(payload, len(self.sources))
        proc.layers = ready[0]
        proc.load_status = ready[1]
        proc.ready = True
        for i, (status, detail, _, _) in enumerate(proc.load_status):
            if status != "ok":
                raise SandboxError(f"{self.names[i]}: failed to load in the worker: {detail}")
        return proc

    def _replace_active(self, reason: str, *, failure: bool = True) -> None:
        """Kill the active worker and put the spare (or a new worker) in its place."""
        old = self._active
        if old is not None:
            old.kill()
        if failure:
            self.respawns += 1
            log.warning("sandbox worker replaced: %s", reason)
        else:
            self.recycled += 1
            log.info("sandbox worker recycled: %s", reason)
        fresh = self._spare if self._spare is not None else self._spawn()
        self._spare = None
        self._active = self._ensure_ready(fresh)
        if self.spare_enabled:
            self._spare = self._spawn()

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
        frames = validate_batch(frames, "frames")
        if firsts is not None:
            firsts = validate_batch(firsts, "firsts")
            if firsts.shape != frames.shape:
                from sandbox.errors import FrameError

                raise FrameError(
                    "firsts", f"shape {firsts.shape} differs from frames {frames.shape}"
                )
        k, n = len(self.sources), frames.shape[0]
        results = np.zeros((k, n), dtype=np.bool_)
        valid = np.ones((k, n), dtype=np.bool_)
        statuses: list[Status] = ["ok"] * k
        details = [""] * k
        per_frame = frames[0].nbytes * (2 if firsts is not None else 1) if n else 1
        chunk = max(1, self.shm_bytes // per_frame)
        if per_frame > self.shm_bytes:
            raise SandboxError(f"one frame needs {per_frame:,} bytes; raise shm_bytes above that")
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

    def _run_inprocess(self, frames: FrameBatch, firsts: FrameBatch | None, rows: _Rows) -> None:
        for i, checker in enumerate(self._inprocess):
            try:
                rows.out[i] = checker.batch(frames, firsts)
            except CheckerRuntimeError as err:
                per_frame = []
                for j in range(frames.shape[0]):  # which frames fail, which still answer
                    try:
                        one = None if firsts is None else firsts[j : j + 1]
                        per_frame.append(int(checker.batch(frames[j : j + 1], one)[0]))
                    except CheckerRuntimeError:
                        per_frame.append(2)
                rows.partial(i, err.status, str(err), bytes(per_frame))

    def _run_workers(self, frames: FrameBatch, firsts: FrameBatch | None, rows: _Rows) -> None:
        assert self._shm is not None
        n, h, w = frames.shape[0], frames.shape[1], frames.shape[2]
        size = frames.nbytes
        buf = np.ndarray((self.shm_bytes,), np.uint8, buffer=self._shm.buf)
        buf[:size] = frames.reshape(-1)
        if firsts is not None:
            buf[size : 2 * size] = firsts.reshape(-1)
        del buf
        pending = []
        for i in range(len(self.sources)):
            if i in rows.dead:
                continue
            if self.failures[i] >= self.max_failures:
                status, detail = self.last_failure[i]
                rows.whole(
                    i,
                    status,
                    f"{self.names[i]}: disabled after {self.failures[i]} failures; last: {detail}",
                )
                continue
            pending.append(i)
        while pending:
            if self._active is None or self._active.batches >= self.recycle_after:
                self._replace_active(f"after {self.recycle_after} batches", failure=False)
            proc = self._ensure_ready(self._active)  # type: ignore[arg-type]
            proc.batches += 1
            try:
                send_message(proc.sock, b"E", encode_eval(n, h, w, firsts is not None, pending))
            except OSError:
                self._replace_active("worker connection lost before the batch")
                continue
            pending = self._collect(proc, pending, n, rows)

    def _collect(self, proc: _Process, pending: list[int], n: int, rows: _Rows) -> list[int]:
        """Read one message per pending checker; on failure return the checkers still owed."""
        remaining = list(pending)
        while remaining:
            current = remaining[0]
            deadline = time.monotonic() + self.timeout
            try:
                kind, payload = proc.reader.recv(deadline=deadline, max_size=1 << 20)
                if kind != b"K":
                    raise ProtocolError(f"unexpected message kind {kind!r}")
                index, status, raw, detail = decode_result(
                    payload, expected_n=n, n_checkers=len(self.sources)
                )
                if index != current:
                    raise ProtocolError(f"result for checker {index}, expected {current}")
            except TimeoutError:
                self._fail(
                    current,
                    "timeout",
                    f"{self.names[current]}: timeout: no answer within "
                    f"{self.timeout:g} s; worker killed and replaced",
                    rows,
                )
                self._replace_active(f"{self.names[current]} timed out")
                return remaining[1:]
            except (EOFError, OSError, ProtocolError) as err:
                code = proc.proc.poll()
                if code is None:
                    proc.proc.kill()
                    code = proc.proc.wait()
                signal_name = _signal_name(code)
                self._fail(
                    current,
                    "crash",
                    f"{self.names[current]}: crash: the worker died "
                    f"({signal_name or f'exit code {code}'}; {type(err).__name__}: {err}); "
                    "worker replaced",
                    rows,
                )
                self._replace_active(f"{self.names[current]} crashed the worker")
                return remaining[1:]
            remaining.pop(0)
            if status == "ok":
                rows.out[index] = np.frombuffer(raw, np.uint8).astype(np.bool_)
            else:
                rows.partial(index, status, detail, raw)
        return []

    def _fail(self, index: int, status: Status, detail: str, rows: _Rows) -> None:
        rows.whole(index, status, detail)
        self.failures[index] += 1
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


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return ""
    import signal

    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _parse_ready(
    payload: bytes, n_checkers: int
) -> tuple[tuple[LayerReport, ...], list[tuple[str, str, str, str]]]:
    """Parse and schema-check the worker's ready message (JSON of primitives only)."""
    try:
        data = json.loads(payload)
        layers = tuple(
            LayerReport(name=str(name), available=bool(ok), detail=str(detail)[:500])
            for name, ok, detail in data["layers"]
            if name in LAYERS
        )
        compiled = [
            (str(s), str(d)[:1000], str(mode), str(why)[:300])
            for s, d, mode, why in data["compiled"]
        ]
    except (ValueError, KeyError, TypeError) as err:
        raise ProtocolError(f"malformed ready message: {err}") from None
    if len(compiled) != n_checkers:
        raise ProtocolError("ready message lists the wrong number of checkers")
    return layers, compiled
