"""The sandbox worker process: one checker per process, isolated before anything of it is compiled.

Provides:
    BOOT: the ``python -I -c`` program the pool starts (puts the package on ``sys.path``, runs main).
    CHECKER_STACK_BYTES: stack size of the thread that runs the checker.
    main: the worker's entry point (``argv``: socket fd, frame-buffer fd, parent pid).

The wall comes first. :func:`main` runs these steps in this order, and nothing derived from the
checker's source is compiled, imported, evaluated or executed before step 6:

1. the parent-death signal is set (SIGKILL when the parent goes; exit at once if it already went);
   stdin, stdout and stderr go to /dev/null;
2. the configuration arrives over the socket (JSON from the trusted parent; the checker's source is
   carried as text and not even parsed yet);
3. the frame buffer (a memfd the parent opened read-only for us) is mapped read-only;
4. trusted code is imported and warmed: numpy, RestrictedPython, the guards and facades, the vision
   kernels and, with the JIT on, numba and the JIT helpers (from Numba's cache where possible);
5. :func:`sandbox.oslimits.apply_isolation`: every layer of the level (``strict``: network and IPC
   namespaces, Landlock read/write allow-lists, no capabilities, no_new_privs, rlimits, the seccomp
   allow-list; fail closed). The only writable directory is this checker's own kernel directory;
6. with the JIT on, the parent is told "building" (so its build deadline starts) and the kernel is
   generated from the rebuilt, allow-listed tree and compiled by Numba, inside the wall;
7. :func:`sandbox.oslimits.seal` (``strict``): no new executable memory, no file writes at all;
8. the checker is compiled for the interpreter path (RestrictedPython; module constants folded, not
   executed), and the kernel is attached once both paths agree on probe frames (the parent is
   told "probing" first: the probe has its own deadline, a few times the per-batch timeout);
9. the worker answers "ready", then one message per batch, as primitives only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import mmap
import os
import socket
import sys
import threading
from typing import Any

__all__ = ["BOOT", "CHECKER_STACK_BYTES", "main"]

#: Stack of the thread that runs checkers (see :func:`main`).
CHECKER_STACK_BYTES = 256 * 2**20
#: File-size limit while the JIT kernel builds (Numba's cache files for one checker).
_BUILD_FILE_BYTES = 64 * 2**20

BOOT = (
    "import sys; sys.path.insert(0, sys.argv[4]); from sandbox.worker import main; "
    "main(sys.argv[1:4])"
)


def _lower_file_size(limit: int) -> None:
    """Put ``RLIMIT_FSIZE`` back to the configured limit once the JIT build is done.

    Lowering a limit needs no privilege; under ``strict`` the seccomp filter may refuse the call,
    and :func:`sandbox.oslimits.seal` then stops every file write instead.
    """
    import resource

    with contextlib.suppress(OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _silence_stdio() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _warm_trusted(jit: bool) -> None:
    """Step 4: import and warm trusted code, so isolation never has to allow it later."""
    import numpy as np  # noqa: F401 - imported for its side effect (extension modules loaded)

    from sandbox import checker, facade, guards, vision  # noqa: F401

    vision.warm_up()
    if jit:
        import numba

        import sandbox.jit
        import sandbox.jit_helpers  # noqa: F401

        # Kernels built from checkers go beneath their own kernel directory only (Numba's
        # in-tree cache locator), never into a shared NUMBA_CACHE_DIR.
        setattr(numba.config, "CACHE_DIR", "")  # noqa: B010 - numba.config is untyped
        vision.memory_only_cache()


def main(argv: list[str]) -> None:
    """Run a worker; ``argv`` is ``[socket fd, frame-buffer fd, parent pid]``."""
    from sandbox.oslimits import set_parent_death_signal

    set_parent_death_signal(int(argv[2]))
    sock = socket.socket(fileno=int(argv[0]))
    _silence_stdio()
    from sandbox.protocol import recv_message, send_message

    kind, payload = recv_message(sock, max_size=1 << 30)
    if kind != b"C":
        return
    config: dict[str, Any] = json.loads(payload)
    frames_fd = int(argv[1])
    frames_map = mmap.mmap(frames_fd, config["shm_size"], prot=mmap.PROT_READ)
    os.close(frames_fd)

    spec = config["checker"]
    jit = bool(config.get("jit"))
    _warm_trusted(jit)

    from pathlib import Path

    from sandbox.budgets import Budgets
    from sandbox.checker import Checker, compile_checker
    from sandbox.errors import SandboxError
    from sandbox.oslimits import Limits, apply_isolation, seal

    kernel_dir = Path(spec["kernel_dir"]) if jit and spec.get("kernel_dir") else None
    level = config["isolation"]
    limits = Limits(**config["limits"])
    if kernel_dir is not None:
        # Numba writes its cache while the kernel builds (beneath kernel_dir only, where Landlock
        # is applied); the file-size limit goes back down right after the build.
        limits = dataclasses.replace(
            limits, file_size_bytes=max(limits.file_size_bytes, _BUILD_FILE_BYTES)
        )
    try:
        if level == "strict":
            reports = apply_isolation(
                limits=limits,
                network=True,
                seccomp=True,
                required=tuple(config["required"]),
                deny_file_writes=True,
                level=level,
                write_paths=[str(kernel_dir)] if kernel_dir is not None else [],
            )
        else:
            reports = apply_isolation(
                limits=limits,
                network=False,
                seccomp=False,
                required=("rlimits",),
                deny_file_writes=False,
                level=level,
                landlock=False,
                privileges=False,
                ipc=False,
            )
    except Exception as err:  # fail closed: tell the parent, load nothing
        send_message(sock, b"X", f"isolation failed: {err}".encode()[:2000])
        return

    # -- inside the wall from here on --------------------------------------------------------
    kernel: Any = "JIT disabled"
    if jit:
        from sandbox.jit import build_kernel

        send_message(sock, b"B")
        try:
            kernel = build_kernel(spec["source"], entry=spec["entry"], directory=kernel_dir)
        except Exception as err:  # the interpreter path still works: never fail the start
            detail = " ".join(str(err).split())[:200]  # one line: numba's errors span many
            kernel = f"JIT build failed: {type(err).__name__}" + (f": {detail}" if detail else "")
        _lower_file_size(config["limits"]["file_size_bytes"])
    else:
        kernel = spec.get("jit_reason") or "JIT disabled"
    if level == "strict":
        try:
            reports = (*reports, seal(level=level))
        except Exception as err:
            send_message(sock, b"X", f"isolation failed: seal: {err}".encode()[:2000])
            return

    budgets = Budgets(**config["budgets"])
    checker: Checker | None
    try:
        checker = compile_checker(
            spec["source"], path=spec["path"], entry=spec["entry"], budgets=budgets
        )
    except SandboxError as err:
        checker = None
        compiled = ["error", str(err)[:1000], "interpreter", "failed to load"]
    else:
        if not isinstance(kernel, str):
            send_message(sock, b"P")  # the agreement probe runs both paths: the parent times it
        reason = kernel if isinstance(kernel, str) else (checker.attach_kernel(kernel) or "")
        compiled = ["ok", "", "jit" if checker.kernel else "interpreter", reason[:300]]
    ready = {"layers": [[r.name, r.available, r.detail] for r in reports], "compiled": compiled}
    send_message(sock, b"R", json.dumps(ready).encode())

    def serve() -> None:
        _serve(sock, frames_map, checker)

    # C code recurses without Python frames (hashing a 500,000-deep tuple, for one): give the
    # thread that runs checkers a stack deeper than any structure the budgets let a checker build.
    threading.stack_size(CHECKER_STACK_BYTES)
    thread = threading.Thread(target=serve, name="vlmcar-checker", daemon=True)
    thread.start()
    thread.join()


def _serve(sock: socket.socket, frames_map: mmap.mmap, checker: Any) -> None:
    """Answer eval requests until the parent says anything else."""
    import gc

    import numpy as np

    from sandbox.errors import CheckerRuntimeError
    from sandbox.protocol import decode_eval, encode_result, recv_message, send_message

    while True:
        kind, payload = recv_message(sock, max_size=1 << 20)
        if kind != b"E":
            return
        n, h, w, has_first, _ = decode_eval(payload)
        size = n * h * w * 3
        frames = np.frombuffer(frames_map, np.uint8, count=size).reshape(n, h, w, 3)
        firsts = (
            np.frombuffer(frames_map, np.uint8, count=size, offset=size).reshape(n, h, w, 3)
            if has_first
            else frames
        )
        if checker is None:
            message = encode_result(0, "error", b"", "checker failed to load")
        else:
            try:
                had_kernel = checker.kernel is not None
                out = checker.batch_immutable(frames, firsts)
                detached = checker.jit_reason if had_kernel and checker.kernel is None else ""
                message = encode_result(0, "ok", out.astype(np.uint8).tobytes(), detached[:500])
            except CheckerRuntimeError as err:
                per_frame = _frame_by_frame(checker, frames, firsts) if n > 1 else b""
                message = encode_result(0, err.status, per_frame, str(err))
                gc.collect()  # whatever the failed call left behind goes before the next batch
            except BaseException as err:  # never format a foreign exception's text
                message = encode_result(0, "error", b"", f"worker: {type(err).__name__}")
                gc.collect()
        send_message(sock, b"K", message)


def _frame_by_frame(checker: Any, frames: Any, firsts: Any) -> bytes:
    """After a failed batch: one byte per frame, 0/1 for the answer, 2 where the frame fails.

    A checker that fails on one environment's frame still answers for the others.
    """
    from sandbox.errors import CheckerRuntimeError

    out = bytearray()
    for i in range(frames.shape[0]):
        try:
            answer = checker.batch_immutable(frames[i : i + 1], firsts[i : i + 1])
            out.append(int(answer[0]))
        except CheckerRuntimeError:
            out.append(2)
    return bytes(out)


if __name__ == "__main__":
    main(sys.argv[1:4])
