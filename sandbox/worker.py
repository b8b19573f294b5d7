"""The sandbox worker process: loads audited checkers once, isolates itself, evaluates batches.

Provides:
    BOOT: the ``python -I -c`` program the pool starts (puts the package on ``sys.path``, runs main).
    main: the worker's entry point (``argv``: the socket's file descriptor).

Start-up order matters and is irreversible:

1. stdout/stderr go to /dev/null (with ``RLIMIT_FSIZE=0`` a file there would fail anyway);
2. the configuration arrives over the socket (JSON from the trusted parent);
3. the frame shared memory is mapped read-only (``shm_open`` is an ``openat`` that isolation denies);
4. numpy, RestrictedPython and the vision kernels are imported and warmed (no compiling later);
5. :func:`sandbox.oslimits.apply_isolation` (``strict``: every layer, fail closed; ``process``:
   rlimits and thread pinning);
6. only now are the checkers compiled and loaded, and each JIT kernel (built before step 5, since
   Numba writes its cache) is attached once it agrees with the interpreter on probe frames;
7. the worker answers "ready" and then one message per checker per batch, as primitives only.
"""

from __future__ import annotations

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

BOOT = "import sys; sys.path.insert(0, sys.argv[2]); from sandbox.worker import main; main(sys.argv[1:])"


def _silence_stdio() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def main(argv: list[str]) -> None:
    """Run a worker on the socket whose descriptor is ``argv[0]``; returns when told to quit."""
    sock = socket.socket(fileno=int(argv[0]))
    _silence_stdio()
    from sandbox.protocol import recv_message, send_message

    kind, payload = recv_message(sock, max_size=1 << 30)
    if kind != b"C":
        return
    config: dict[str, Any] = json.loads(payload)
    fd = os.open(f"/dev/shm/{config['shm']}", os.O_RDONLY)
    frames_map = mmap.mmap(fd, config["shm_size"], prot=mmap.PROT_READ)
    os.close(fd)

    from sandbox import vision
    from sandbox.budgets import Budgets
    from sandbox.checker import Checker, compile_checker
    from sandbox.errors import SandboxError
    from sandbox.oslimits import LAYERS, Limits, apply_isolation

    vision.warm_up()
    # JIT kernels are compiled (or loaded from Numba's cache) before isolation: compiling runs no
    # checker code, but it writes cache files, which isolation then forbids.
    kernels: list[Any] = [None] * len(config["checkers"])
    if config.get("jit"):
        from sandbox.jit import build_kernel

        for i, spec in enumerate(config["checkers"]):
            try:
                kernels[i] = build_kernel(spec["source"], entry=spec["entry"])
            except Exception as err:  # the interpreter path still works: never fail the start
                kernels[i] = f"JIT build failed: {type(err).__name__}"
    level = config["isolation"]
    try:
        if level == "strict":
            reports = apply_isolation(
                limits=Limits(**config["limits"]),
                network=True,
                seccomp=True,
                required=LAYERS,
                deny_file_writes=True,
                level=level,
            )
        else:
            reports = apply_isolation(
                limits=Limits(**config["limits"]),
                network=False,
                seccomp=False,
                required=("rlimits",),
                deny_file_writes=False,
                level=level,
            )
    except Exception as err:  # fail closed: tell the parent, load nothing
        send_message(sock, b"X", f"isolation failed: {err}".encode()[:2000])
        return

    budgets = Budgets(**config["budgets"])
    checkers: list[Checker | None] = []
    compiled: list[list[str]] = []
    for spec, kernel in zip(config["checkers"], kernels, strict=True):
        try:
            checker = compile_checker(
                spec["source"], path=spec["path"], entry=spec["entry"], budgets=budgets
            )
        except SandboxError as err:
            checkers.append(None)
            compiled.append(["error", str(err)[:1000], "interpreter", "failed to load"])
            continue
        if kernel is None:
            reason = "JIT disabled"
        elif isinstance(kernel, str):
            reason = kernel
        else:
            reason = checker.attach_kernel(kernel) or ""
        checkers.append(checker)
        compiled.append(["ok", "", "jit" if checker.kernel else "interpreter", reason[:300]])
    ready = {"layers": [[r.name, r.available, r.detail] for r in reports], "compiled": compiled}
    send_message(sock, b"R", json.dumps(ready).encode())

    def serve() -> None:
        _serve(sock, frames_map, checkers)

    # C code recurses without Python frames (hashing a 500,000-deep tuple, for one): give the
    # thread that runs checkers a stack deeper than any structure the budgets let a checker build.
    threading.stack_size(CHECKER_STACK_BYTES)
    thread = threading.Thread(target=serve, name="vlmcar-checkers", daemon=True)
    thread.start()
    thread.join()


def _serve(sock: socket.socket, frames_map: mmap.mmap, checkers: list[Any]) -> None:
    """Answer eval requests until the parent says anything else."""
    import numpy as np

    from sandbox.errors import CheckerRuntimeError
    from sandbox.protocol import decode_eval, encode_result, recv_message, send_message

    while True:
        kind, payload = recv_message(sock, max_size=1 << 20)
        if kind != b"E":
            return
        n, h, w, has_first, indices = decode_eval(payload)
        size = n * h * w * 3
        frames = np.frombuffer(frames_map, np.uint8, count=size).reshape(n, h, w, 3)
        firsts = (
            np.frombuffer(frames_map, np.uint8, count=size, offset=size).reshape(n, h, w, 3)
            if has_first
            else None
        )
        for index in indices:
            checker = checkers[index]
            if checker is None:
                message = encode_result(index, "error", b"", "checker failed to load")
            else:
                ref = frames if firsts is None else firsts
                try:
                    out = checker.batch_immutable(frames, ref)
                    message = encode_result(index, "ok", out.astype(np.uint8).tobytes(), "")
                except CheckerRuntimeError as err:
                    per_frame = _frame_by_frame(checker, frames, ref) if n > 1 else b""
                    message = encode_result(index, err.status, per_frame, str(err))
                except BaseException as err:  # never format a foreign exception's text
                    message = encode_result(index, "error", b"", f"worker: {type(err).__name__}")
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
    main(sys.argv[1:])
