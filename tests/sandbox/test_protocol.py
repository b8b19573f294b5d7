"""The parent/worker wire protocol: framing, buffered reads, deadlines, hostile sizes."""

from __future__ import annotations

import socket
import time

import pytest

from sandbox.protocol import (
    MessageReader,
    ProtocolError,
    decode_result,
    encode_result,
    recv_message,
    send_message,
)


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_reader_returns_back_to_back_messages_in_order(pair) -> None:
    a, b = pair
    for i in range(5):
        send_message(a, b"K", encode_result(i, "ok", b"\x01\x00", ""))
    reader = MessageReader(b)
    got = []
    for _ in range(5):
        kind, payload = reader.recv(deadline=time.monotonic() + 1)
        assert kind == b"K"
        got.append(decode_result(payload, expected_n=2, n_checkers=5)[0])
    assert got == [0, 1, 2, 3, 4]


def test_reader_keeps_the_rest_of_a_message_split_across_reads(pair) -> None:
    a, b = pair
    whole = b"K" + (3).to_bytes(4, "little") + b"abc" + b"R" + (0).to_bytes(4, "little")
    reader = MessageReader(b)
    a.sendall(whole[:2])
    with pytest.raises(TimeoutError):
        reader.recv(deadline=time.monotonic() + 0.05)
    a.sendall(whole[2:])
    assert reader.recv(deadline=time.monotonic() + 1) == (b"K", b"abc")
    assert reader.recv(deadline=time.monotonic() + 1) == (b"R", b"")


def test_a_waiting_message_is_read_even_after_the_deadline(pair) -> None:
    a, b = pair
    send_message(a, b"R", b"{}")
    time.sleep(0.01)
    assert MessageReader(b).recv(deadline=time.monotonic() - 5) == (b"R", b"{}")
    send_message(a, b"R", b"{}")
    assert recv_message(b, deadline=time.monotonic() - 5) == (b"R", b"{}")


def test_oversized_header_is_refused_before_the_payload_arrives(pair) -> None:
    a, b = pair
    a.sendall(b"K" + (10**9).to_bytes(4, "little"))
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        MessageReader(b).recv(deadline=time.monotonic() + 1, max_size=1 << 20)


def test_closed_connection_is_eof(pair) -> None:
    a, b = pair
    a.sendall(b"K\x05\x00")
    a.close()
    with pytest.raises(EOFError):
        MessageReader(b).recv(deadline=time.monotonic() + 1)


def test_result_bytes_other_than_0_1_2_are_refused() -> None:
    bad = encode_result(0, "ok", b"\x01\x07", "")
    with pytest.raises(ProtocolError, match="0 or 1"):
        decode_result(bad, expected_n=2, n_checkers=1)


def test_poll_buffers_an_answer_that_arrives_while_it_polls(pair) -> None:
    a, b = pair
    reader = MessageReader(a)
    reader.poll(time.perf_counter() + 0.002)  # nothing sent: returns at its deadline
    send_message(b, b"K", b"abc")
    started = time.perf_counter()
    reader.poll(started + 5.0)  # returns as soon as the whole message is buffered
    assert time.perf_counter() - started < 2.0
    assert reader.recv(deadline=time.monotonic()) == (b"K", b"abc")


def test_poll_leaves_a_closed_connection_for_recv_to_report(pair) -> None:
    a, b = pair
    reader = MessageReader(a)
    b.close()
    started = time.perf_counter()
    reader.poll(started + 5.0)
    assert time.perf_counter() - started < 2.0
    with pytest.raises(EOFError):
        reader.recv(deadline=time.monotonic() + 1)
