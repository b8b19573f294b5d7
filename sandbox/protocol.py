"""The wire protocol between the parent and a sandbox worker: length-prefixed bytes, no pickle.

Provides:
    STATUSES: status names by wire code.
    ProtocolError: a worker said something malformed (the parent then kills it).
    send_message, recv_message: framed messages over a stream socket, with a deadline.
    MessageReader: the same reads through a per-connection buffer (one ``recv`` can bring several
        results; the parent's side of every worker connection).
    encode_eval / decode_eval: the parent's "evaluate this batch" request.
    encode_result / decode_result: one checker's outcome for one batch: status, one byte per frame
        (0 / 1, or 2 where that frame failed when only some did), detail.

Everything a worker sends is parsed with :mod:`struct` into ints, bools and bounded UTF-8 text,
never unpickled (smolagents CVE-2025-14931 was a host RCE through pickled sandbox output). Only the
ready message is JSON, size-capped and schema-checked by the pool.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time

from sandbox.errors import SandboxError, Status

__all__ = [
    "MAX_DETAIL",
    "MAX_FROM_WORKER",
    "STATUSES",
    "MessageReader",
    "ProtocolError",
    "decode_eval",
    "decode_result",
    "encode_eval",
    "encode_result",
    "recv_message",
    "send_message",
]

STATUSES: tuple[Status, ...] = (
    "ok",
    "error",
    "violation",
    "budget",
    "contract",
    "timeout",
    "memory",
    "crash",
)
_CODES = {name: i for i, name in enumerate(STATUSES)}
_HEADER = struct.Struct("<cI")  # kind, payload length
_EVAL = struct.Struct("<IHHBH")  # n frames, height, width, has_first, n checkers
_RESULT = struct.Struct("<HBIH")  # checker index, status code, n results, detail length
MAX_DETAIL = 1000
MAX_FROM_WORKER = 4 * 2**20


class ProtocolError(SandboxError):
    """A message from a worker was malformed, oversized or of an unexpected kind."""


def send_message(sock: socket.socket, kind: bytes, payload: bytes = b"") -> None:
    """Send one framed message.

    Args:
        sock: a connected stream socket.
        kind: one byte naming the message type.
        payload: the message body.
    """
    sock.sendall(_HEADER.pack(kind, len(payload)) + payload)


def _recv_exact(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            # A past deadline still gets a non-blocking look: a spare worker's ready message
            # may have been waiting long before anyone asked for it.
            left = max(0.0, deadline - time.monotonic())
            if not select.select([sock], [], [], left)[0]:
                raise TimeoutError("deadline passed while waiting for the worker")
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("the worker closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_message(
    sock: socket.socket, *, deadline: float | None = None, max_size: int = MAX_FROM_WORKER
) -> tuple[bytes, bytes]:
    """Receive one framed message.

    Args:
        sock: a connected stream socket.
        deadline: :func:`time.monotonic` time after which to give up, or None to wait forever.
        max_size: the largest payload accepted.

    Returns:
        ``(kind, payload)``.

    Raises:
        TimeoutError: the deadline passed.
        EOFError: the other side closed the connection (a worker that died).
        ProtocolError: the payload is larger than ``max_size``.
    """
    kind, size = _HEADER.unpack(_recv_exact(sock, _HEADER.size, deadline))
    if size > max_size:
        raise ProtocolError(f"message of {size:,} bytes exceeds the limit of {max_size:,}")
    return kind, _recv_exact(sock, size, deadline)


class MessageReader:
    """Framed messages from one connection, read through a buffer.

    A worker sends one result message per checker in quick succession; reading whatever the
    socket holds at once turns K header + payload reads (each a ``select`` and a ``recv``) into
    about one. Bytes past the current message stay in the buffer for the next call, so every read
    on the connection must go through the same reader.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = bytearray()

    def recv(
        self, *, deadline: float | None = None, max_size: int = MAX_FROM_WORKER
    ) -> tuple[bytes, bytes]:
        """Receive one framed message (same contract as :func:`recv_message`)."""
        buf = self._buf
        while True:
            if len(buf) >= _HEADER.size:
                kind, size = _HEADER.unpack_from(buf)
                if size > max_size:
                    raise ProtocolError(
                        f"message of {size:,} bytes exceeds the limit of {max_size:,}"
                    )
                end = _HEADER.size + size
                if len(buf) >= end:
                    payload = bytes(buf[_HEADER.size : end])
                    del buf[:end]
                    return kind, payload
            self._fill(deadline)

    def poll(self, until: float) -> None:
        """Read whatever arrives without blocking until a whole message is buffered or ``until``.

        ``until`` is a :func:`time.perf_counter` time. Waiting in ``select`` lets this CPU go idle,
        and waking it for the answer costs tens of µs on a virtual machine; a caller that expects
        an answer within a few hundred µs polls first, then :meth:`recv` waits as usual. A closed
        connection ends the poll (the next :meth:`recv` reports it).

        Each empty look yields the CPU: the scheduler often wakes the worker on the CPU of the
        process that woke it (this one), where a plain spin kept it from running until the poll
        ran out, so about one batch in ten took 1 ms longer (up to 5 ms with other load).
        """
        buf = self._buf
        while time.perf_counter() < until:
            if len(buf) >= _HEADER.size and len(buf) >= _HEADER.size + _HEADER.unpack_from(buf)[1]:
                return
            try:
                chunk = self.sock.recv(1 << 16, socket.MSG_DONTWAIT)
            except BlockingIOError:
                os.sched_yield()
                continue
            if not chunk:
                return
            buf += chunk

    def _fill(self, deadline: float | None) -> None:
        try:  # data already waiting: no select needed
            chunk = self.sock.recv(1 << 16, socket.MSG_DONTWAIT)
        except BlockingIOError:
            if deadline is not None:
                # A past deadline still gets a non-blocking look (see _recv_exact).
                left = max(0.0, deadline - time.monotonic())
                if not select.select([self.sock], [], [], left)[0]:
                    raise TimeoutError("deadline passed while waiting for the worker") from None
            chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("the worker closed the connection")
        self._buf += chunk


def encode_eval(n: int, height: int, width: int, has_first: bool, checkers: list[int]) -> bytes:
    """Encode "evaluate checkers ``checkers`` on the ``n`` frames now in shared memory"."""
    head = _EVAL.pack(n, height, width, int(has_first), len(checkers))
    return head + struct.pack(f"<{len(checkers)}H", *checkers)


def decode_eval(payload: bytes) -> tuple[int, int, int, bool, list[int]]:
    """Decode an eval request (worker side; the parent is trusted)."""
    n, h, w, has_first, k = _EVAL.unpack_from(payload)
    checkers = list(struct.unpack_from(f"<{k}H", payload, _EVAL.size))
    return n, h, w, bool(has_first), checkers


def encode_result(index: int, status: Status, results: bytes, detail: str) -> bytes:
    """Encode one checker's outcome (worker side)."""
    text = detail.encode("utf-8", errors="replace")[:MAX_DETAIL]
    return _RESULT.pack(index, _CODES[status], len(results), len(text)) + results + text


def decode_result(
    payload: bytes, *, expected_n: int, n_checkers: int
) -> tuple[int, Status, bytes, str]:
    """Decode and validate one checker's outcome (parent side: the worker is untrusted).

    Raises:
        ProtocolError: on any inconsistency (sizes, codes, indices, non-0/1 result bytes).
    """
    if len(payload) < _RESULT.size:
        raise ProtocolError("result message too short")
    index, code, n, detail_len = _RESULT.unpack_from(payload)
    if code >= len(STATUSES) or index >= n_checkers or detail_len > MAX_DETAIL:
        raise ProtocolError(f"result header out of range: {index=}, {code=}, {detail_len=}")
    status = STATUSES[code]
    if len(payload) != _RESULT.size + n + detail_len or (status == "ok" and n != expected_n):
        raise ProtocolError("result message has the wrong length")
    if n not in (0, expected_n):
        raise ProtocolError("a result covers either no frame or every frame of the batch")
    results = payload[_RESULT.size : _RESULT.size + n]
    allowed = b"\x00\x01" if status == "ok" else b"\x00\x01\x02"
    if results.strip(allowed):
        raise ProtocolError("result bytes must be 0 or 1 (or 2: this frame failed)")
    detail = payload[_RESULT.size + n :].decode("utf-8", errors="replace")
    return index, status, results, detail
