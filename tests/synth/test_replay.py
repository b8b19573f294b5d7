"""Replay store tests: keys, record -> replay round trips, byte-identical re-recording, misses."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from synth.errors import ReplayMiss, ReplayStoreError
from synth.replay import (
    REPLAY_FORMAT,
    RecordingClient,
    ReplayClient,
    ReplayStore,
    canonical_messages,
    request_key,
)
from synth.scripted import ScriptedClient
from synth.vlm import Completion, Message, Usage, VLMClient


class FakeModel:
    """A deterministic stand-in with real-looking usage (tokens, cost, finish reason)."""

    def __init__(self, replies: Sequence[str], model: str = "fake-vlm", temperature: float = 0.0):
        self.replies = list(replies)
        self._model = model
        self._usage = Usage()
        self.temperature = temperature

    @property
    def model(self) -> str:
        return self._model

    @property
    def params(self) -> Mapping[str, Any]:
        return {"detail": "low", "max_tokens": 256, "temperature": self.temperature}

    @property
    def usage(self) -> Usage:
        return self._usage

    def complete(self, messages: Sequence[Message], *, purpose: str) -> Completion:
        text = self.replies.pop(0)
        c = Completion(
            text,
            self._model + "-2024",
            100 + len(messages),
            len(text),
            1.25e-4,
            0.01,
            False,
            "stop",
        )
        self._usage.add(c)
        return c


def frame(value: int) -> np.ndarray:
    f = np.zeros((8, 8, 3), np.uint8)
    f[2:4, 2:4] = (value, 255 - value, 7)
    return f


def conversation(value: int, text: str = "Which sub-tasks?") -> list[Message]:
    return [Message.system("sys"), Message.user(text, frame(value), "goal:", frame(value + 1))]


REQUESTS = [
    (conversation(10), "decompose"),
    (conversation(20, "checker please"), "checker:key"),
    (conversation(20, "checker please"), "checker:key"),  # same request again: a second sample
    (conversation(30), "refine:key"),
]
REPLIES = ['{"subtasks": []}', "```python\nA\n```", "```python\nB\n```", "fixed"]


def record(path: Path) -> list[Completion]:
    client = RecordingClient(FakeModel(REPLIES), ReplayStore(path))
    assert isinstance(client, VLMClient)
    return [client.complete(m, purpose=p) for m, p in REQUESTS]


def fields(c: Completion) -> tuple[object, ...]:
    return (c.text, c.model, c.prompt_tokens, c.completion_tokens, c.cost_usd, c.finish_reason)


def test_round_trip_gives_identical_completions(tmp_path: Path) -> None:
    recorded = record(tmp_path / "replay.json")
    store = ReplayStore(tmp_path / "replay.json")
    assert len(store) == 3  # the repeated request is one key with two replies
    for client in (
        ReplayClient(store),
        ReplayClient(store, model="fake-vlm", params=FakeModel([]).params),
        ReplayClient(store, model="fake-vlm"),
    ):
        replayed = [client.complete(m, purpose=p) for m, p in REQUESTS]
        assert [fields(c) for c in replayed] == [fields(c) for c in recorded]
        assert all(c.cached for c in replayed)
        assert client.usage.calls == 4 and client.usage.cached_calls == 4
        assert client.usage.cost_usd == 0.0


def test_rerecording_is_byte_identical(tmp_path: Path) -> None:
    record(tmp_path / "a.json")
    record(tmp_path / "b.json")
    first = (tmp_path / "a.json").read_bytes()
    assert first == (tmp_path / "b.json").read_bytes()
    record(tmp_path / "a.json")  # re-record over the same file: replaced, not appended
    assert (tmp_path / "a.json").read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]  # no temp files left


def test_file_format_is_documented_json(tmp_path: Path) -> None:
    record(tmp_path / "r.json")
    text = (tmp_path / "r.json").read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["format"] == REPLAY_FORMAT and data["version"] == 1
    assert text == json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    entry = data["entries"][request_key("fake-vlm", REQUESTS[1][0], FakeModel([]).params)]
    assert [r["text"] for r in entry["replies"]] == REPLIES[1:3]
    assert [r["purpose"] for r in entry["replies"]] == ["checker:key", "checker:key"]
    content = entry["request"]["messages"][1]["content"]
    assert content[0] == {"text": "checker please", "type": "text"}
    assert content[1]["type"] == "image" and content[1]["shape"] == [8, 8, 3]
    assert len(content[1]["sha256"]) == 64
    assert "base64" not in text and "seconds" not in text  # no image bytes, no timings


def test_key_depends_on_pixels_model_params_not_purpose() -> None:
    params = {"temperature": 0.0}
    k = request_key("m", conversation(1), params)
    assert k == request_key("m", conversation(1), dict(params))
    assert k != request_key("m", conversation(2), params)
    assert k != request_key("m2", conversation(1), params)
    assert k != request_key("m", conversation(1), {"temperature": 0.5})
    assert k != request_key("m", conversation(1, "other text"), params)
    assert canonical_messages(conversation(1))[1]["content"][1]["type"] == "image"


def test_miss_on_unknown_request_is_helpful(tmp_path: Path) -> None:
    record(tmp_path / "r.json")
    client = ReplayClient(ReplayStore(tmp_path / "r.json"))
    with pytest.raises(ReplayMiss) as info:
        client.complete(conversation(99), purpose="checker:door")
    err = info.value
    text = str(err)
    assert str(tmp_path / "r.json") in text and err.store == str(tmp_path / "r.json")
    assert "'checker:door'" in text and "no recorded reply" in text
    assert "frames" in text and "re-record" in text and "ScriptedClient" in text
    assert err.key[:16] in text


def test_miss_when_run_asks_more_often_than_recorded(tmp_path: Path) -> None:
    record(tmp_path / "r.json")
    client = ReplayClient(ReplayStore(tmp_path / "r.json"))
    for _ in range(2):
        client.complete(REQUESTS[1][0], purpose="checker:key")
    with pytest.raises(ReplayMiss) as info:
        client.complete(REQUESTS[1][0], purpose="checker:key")
    assert info.value.recorded == 2 and info.value.occurrence == 2
    assert "request #3" in str(info.value)


def test_miss_with_other_model_or_params_names_the_recording(tmp_path: Path) -> None:
    record(tmp_path / "r.json")
    store = ReplayStore(tmp_path / "r.json")
    with pytest.raises(ReplayMiss) as info:
        ReplayClient(store, model="gpt-4o", params={"temperature": 0.0}).complete(
            REQUESTS[0][0], purpose="decompose"
        )
    assert info.value.candidates and "fake-vlm" in str(info.value)
    assert "temperature=0.0" in str(info.value)


def test_ambiguous_replay_without_model(tmp_path: Path) -> None:
    store = ReplayStore(tmp_path / "r.json")
    RecordingClient(FakeModel(["a"], model="m1"), store).complete(conversation(5), purpose="p")
    RecordingClient(FakeModel(["b"], model="m2"), store).complete(conversation(5), purpose="p")
    with pytest.raises(ReplayMiss) as info:
        ReplayClient(store).complete(conversation(5), purpose="p")
    assert info.value.ambiguous and "pass model=" in str(info.value)
    assert ReplayClient(store, model="m2").complete(conversation(5), purpose="p").text == "b"


def test_recording_a_scripted_run(tmp_path: Path) -> None:
    store = ReplayStore(tmp_path / "r.json")
    rec = RecordingClient(ScriptedClient(["x", "y"]), store)
    assert rec.complete(conversation(1), purpose="a").text == "x"
    assert rec.usage is rec.inner.usage and rec.model == "scripted" and rec.params == {}
    replay = ReplayClient(ReplayStore(tmp_path / "r.json"), model="scripted", params={})
    assert replay.complete(conversation(1), purpose="a").text == "x"


def test_bad_store_files(tmp_path: Path) -> None:
    p = tmp_path / "r.json"
    p.write_text("{not json", encoding="utf-8")
    with pytest.raises(ReplayStoreError, match="cannot read"):
        ReplayStore(p)
    p.write_text('{"format": "litellm-cache"}', encoding="utf-8")
    with pytest.raises(ReplayStoreError, match="not a vlm-car-replay file"):
        ReplayStore(p)
    p.write_text('{"format": "vlm-car-replay", "version": 99, "entries": {}}', encoding="utf-8")
    with pytest.raises(ReplayStoreError, match="version 99"):
        ReplayStore(p)
    p.unlink()
    record(p)
    data = json.loads(p.read_text(encoding="utf-8"))
    key = next(iter(data["entries"]))
    data["entries"][key]["request"]["model"] = "edited"
    p.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ReplayStoreError, match="does not match its request"):
        ReplayStore(p)


def test_store_created_lazily_in_new_directory(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "r.json"
    store = ReplayStore(path)
    assert len(store) == 0 and not path.exists()
    RecordingClient(FakeModel(["a"]), store).complete(conversation(1), purpose="p")
    assert path.exists() and len(ReplayStore(path)) == 1
    assert "1 request" in repr(store)


# --------------------------------------------------------------------------------------------
# Hostile or malformed store files: refused at load time, naming the entry and the field
# --------------------------------------------------------------------------------------------

DEMO_ENV = "MiniGrid-DoorKey-5x5-v0"


def _first(data: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = next(iter(data["entries"].values()))
    return entry


def _set(path: Sequence[str | int], value: object) -> Any:
    def edit(data: dict[str, Any]) -> None:
        target: Any = _first(data)
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return edit


def _drop(*path: str) -> Any:
    def edit(data: dict[str, Any]) -> None:
        target: Any = _first(data)
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return edit


def _rekey(data: dict[str, Any]) -> None:
    key = next(iter(data["entries"]))
    data["entries"]["not-a-sha256"] = data["entries"].pop(key)


# name -> (edit of the parsed file, or of its text, fragment of the refusal)
MALFORMED_STORES: dict[str, tuple[Any, str]] = {
    "missing_messages_sha256": (
        _drop("request", "messages_sha256"),
        "request lacks 'messages_sha256'",
    ),
    "missing_params": (_drop("request", "params"), "request lacks 'params'"),
    "replies_not_a_list": (_set(["replies"], "x"), "replies must be a non-empty array"),
    "no_replies": (_set(["replies"], []), "replies must be a non-empty array"),
    "reply_text_mistyped": (_set(["replies", 0, "text"], 5), "replies[0].text must be a string"),
    "reply_without_text": (_drop("replies", 0, "text"), "replies[0] lacks 'text'"),
    "prompt_tokens_mistyped": (
        _set(["replies", 0, "prompt_tokens"], "12"),
        "replies[0].prompt_tokens must be an integer >= 0",
    ),
    "negative_cost": (
        _set(["replies", 0, "cost_usd"], -1.0),
        "replies[0].cost_usd must be a finite number >= 0",
    ),
    "unknown_reply_field": (_set(["replies", 0, "seconds"], 1.0), "unknown field(s) 'seconds'"),
    "model_mistyped": (_set(["request", "model"], ["gpt"]), "request.model must be a string"),
    "part_type_unknown": (
        _set(["request", "messages", 0, "content", 0, "type"], "audio"),
        'request.messages[0].content[0].type must be "text" or "image"',
    ),
    "image_shape_mistyped": (
        _set(["request", "messages", 1, "content", 1, "shape"], "8x8"),
        "request.messages[1].content[1].shape must be",
    ),
    "messages_hash_wrong": (
        _set(["request", "messages_sha256"], "0" * 64),
        "messages_sha256 does not match the messages",
    ),
    "entry_not_an_object": (
        lambda d: d["entries"].update({k: 1 for k in d["entries"]}),
        "the entry must be an object",
    ),
    "key_not_a_sha256": (_rekey, "the key must be 64 lowercase hex digits"),
    "nan_cost": (('"cost_usd": 0.000125', '"cost_usd": NaN'), "NaN"),
    "huge_integer": (('"prompt_tokens": 102', '"prompt_tokens": ' + "7" * 5000), "5,000 digits"),
    "deep_params": (('"params": {', '"params": {"x": ' + "[" * 200 + "]" * 200 + ", "), "nested"),
}


def _malformed_store(tmp_path: Path, case: str) -> tuple[Path, str]:
    edit, fragment = MALFORMED_STORES[case]
    path = tmp_path / "r.json"
    record(path)
    if isinstance(edit, tuple):
        old, new = edit
        text = path.read_text(encoding="utf-8").replace(old, new, 1)
        assert text != path.read_text(encoding="utf-8"), case
        path.write_text(text, encoding="utf-8")
    else:
        data = json.loads(path.read_text(encoding="utf-8"))
        edit(data)
        path.write_text(json.dumps(data), encoding="utf-8")
    return path, fragment


@pytest.mark.parametrize("case", sorted(MALFORMED_STORES))
def test_malformed_store_is_refused_at_load_time(case: str, tmp_path: Path) -> None:
    path, fragment = _malformed_store(tmp_path, case)
    with pytest.raises(ReplayStoreError, match=re.escape(fragment)) as info:
        ReplayStore(path)
    assert info.value.path == str(path)


@pytest.mark.parametrize("case", sorted(MALFORMED_STORES))
def test_synth_replay_refuses_a_malformed_store_with_exit_2(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vlmcar.cli import main

    path, fragment = _malformed_store(tmp_path, case)
    argv = ["synth", "--env", DEMO_ENV, "--replay", str(path), "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_synth_replay_refuses_a_sparse_huge_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vlmcar.cli import main

    path = tmp_path / "huge.json"
    with path.open("wb") as fh:
        fh.truncate(3 << 30)
    argv = ["synth", "--env", DEMO_ENV, "--replay", str(path), "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    assert "3,221,225,472 bytes" in capsys.readouterr().err


@pytest.mark.slow
def test_synth_replay_does_not_hang_on_a_fifo(tmp_path: Path) -> None:
    from tests.sandbox.test_safeio import run_cli

    os.mkfifo(tmp_path / "pipe")
    done = run_cli(
        "synth", "--env", DEMO_ENV, "--replay", str(tmp_path / "pipe"), "--out", str(tmp_path / "o")
    )
    assert done.returncode == 2, done.stderr
    assert "named pipe" in done.stderr and "Traceback" not in done.stderr


def test_the_recorded_demo_replay_still_loads() -> None:
    store = ReplayStore(Path(__file__).resolve().parents[2] / "synth" / "data" / "demo_replay.json")
    assert len(store) == 6
    keys = store.keys()
    for key in keys:
        assert store.replies(key) and store.request(key) is not None
