"""VLM client tests: PNG encoding, messages, the litellm client (via litellm's own mock hooks),
the scripted stand-in. No test touches the network: an autouse fixture makes any socket connect
or DNS lookup fail loudly."""

from __future__ import annotations

import base64
import importlib
import os
import socket
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from synth.errors import ScriptExhausted, VLMError
from synth.replay import RecordingClient, ReplayClient, ReplayStore
from synth.scripted import ScriptedClient
from synth.vlm import (
    Completion,
    ImagePart,
    LiteLLMClient,
    Message,
    VLMClient,
    encode_png,
    to_litellm_messages,
)


class _LazyLitellm:
    """litellm, imported on first use (~3-8 s): only the xdist worker that runs these tests pays."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module("litellm"), name)


litellm: Any = _LazyLitellm()

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    attempts: list[object] = []

    def connect(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError(f"test tried to connect to {address!r}")

    def getaddrinfo(*args: object, **kwargs: object) -> list[object]:
        attempts.append(args[:2])
        raise OSError(f"test tried to resolve {args[:2]!r}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts


def frame(seed: int = 0, shape: tuple[int, ...] = (16, 12, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def decode_png(data: bytes) -> np.ndarray:
    """A minimal decoder for what encode_png writes (8-bit, filters 0 and 2), checking CRCs."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    idat = b""
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n : pos + 12 + n])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        if tag == b"IDAT":
            idat += body
        chunks[tag] = body
        pos += 12 + n
    w, h, depth, ctype, *_ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8 and b"IEND" in chunks
    c = {0: 1, 2: 3, 6: 4}[ctype]
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * c)
    out = np.zeros((h, w * c), np.uint8)
    for y in range(h):
        f, row = raw[y, 0], raw[y, 1:]
        prior = out[y - 1] if y else np.zeros(w * c, np.uint8)
        out[y] = row if f == 0 else row + prior  # uint8 wraps, as PNG's Up filter does
        assert f in (0, 2)
    return out.reshape(h, w, c) if c > 1 else out.reshape(h, w)


# -- PNG and messages ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(16, 12, 3), (5, 7, 4), (9, 3), (1, 1, 3), (3, 2, 1)])
def test_png_round_trip(shape: tuple[int, ...]) -> None:
    a = frame(1, shape)
    back = decode_png(encode_png(a))
    assert np.array_equal(back.reshape(a.shape), a)


def test_png_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 3), np.float32))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        encode_png(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(TypeError):
        encode_png([[0]])  # type: ignore[arg-type]


def test_image_part_hash_is_of_pixels_and_deterministic() -> None:
    a = frame(2)
    p, q = ImagePart.from_array(a), ImagePart.from_array(a.copy())
    assert p.sha256 == q.sha256 and p.png == q.png and p.shape == (16, 12, 3)
    b = a.copy()
    b[0, 0, 0] ^= 1
    assert ImagePart.from_array(b).sha256 != p.sha256
    # same bytes, other shape: other hash
    assert ImagePart.from_array(a.reshape(12, 16, 3)).sha256 != p.sha256
    # non-contiguous views hash their pixels
    view = np.asfortranarray(a)
    assert ImagePart.from_array(view).sha256 == p.sha256
    assert p.data_url.startswith("data:image/png;base64,")
    assert base64.b64decode(p.data_url.split(",", 1)[1]) == p.png


def test_messages_and_litellm_format() -> None:
    m = Message.user("look", frame(3), "and tell")
    assert [type(x).__name__ for x in m.parts] == ["str", "ImagePart", "str"]
    assert m.text == "look\n\nand tell" and len(m.images) == 1
    out = to_litellm_messages([Message.system("sys"), m], detail="high")
    assert out[0] == {"role": "system", "content": "sys"}
    parts = out[1]["content"]
    assert parts[0] == {"type": "text", "text": "look"}
    assert parts[1]["type"] == "image_url"
    assert parts[1]["image_url"]["detail"] == "high"
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    with pytest.raises(ValueError, match="only user messages"):
        Message("system", (ImagePart.from_array(frame()),))
    with pytest.raises(TypeError, match=r"ImagePart\.from_array"):
        Message("user", (b"bytes",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="role"):
        Message("tool", ("x",))  # type: ignore[arg-type]


def test_importing_synth_does_not_import_litellm() -> None:
    code = (
        "import sys, synth.vlm, synth.replay, synth.scripted, synth.prompts, synth.parse, "
        "synth.errors\n"
        "assert 'litellm' not in sys.modules, 'litellm imported eagerly'\n"
        "import os; assert os.environ['LITELLM_LOCAL_MODEL_COST_MAP'] == 'True'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env, timeout=60)


# -- LiteLLMClient through litellm's mock hooks ------------------------------------------------


def messages() -> list[Message]:
    return [Message.system("You write checkers."), Message.user("Start:", frame(4), "Go.")]


def rate_limit() -> Exception:
    return litellm.RateLimitError(message="slow down", llm_provider="openai", model="gpt-4o")


def test_litellm_mock_reply_tokens_and_cost() -> None:
    client = LiteLLMClient(
        "gpt-4o", mock_response="```python\ndef check(frame):\n    return True\n```"
    )
    c = client.complete(messages(), purpose="checker:key")
    assert c.text.startswith("```python") and c.model == "gpt-4o" and not c.cached
    assert (c.prompt_tokens, c.completion_tokens) == (10, 20)  # litellm's fixed mock usage
    assert c.cost_usd == pytest.approx(10 * 2.5e-6 + 20 * 10e-6)  # bundled gpt-4o prices
    assert c.finish_reason == "stop" and c.seconds >= 0
    client.complete(messages(), purpose="checker:key")
    u = client.usage
    assert (u.calls, u.attempts, u.failures, u.cached_calls) == (2, 2, 0, 0)
    assert (u.prompt_tokens, u.completion_tokens) == (20, 40)
    assert u.cost_usd == pytest.approx(2 * c.cost_usd) and u.unpriced_calls == 0
    assert client.params == {"detail": "low", "max_tokens": 4096, "temperature": 0.0}
    assert isinstance(client, VLMClient)


def test_litellm_payload_has_images_and_no_inner_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, object]] = []
    real = litellm.completion

    def spy(**kwargs: object) -> object:
        seen.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(importlib.import_module("litellm"), "completion", spy)
    LiteLLMClient("gpt-4o", mock_response="ok", temperature=0, detail="high").complete(
        messages(), purpose="p"
    )
    (kw,) = seen
    assert kw["num_retries"] == 0 and kw["max_retries"] == 0 and kw["temperature"] == 0.0
    user = kw["messages"][1]["content"]  # type: ignore[index]
    assert user[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert user[1]["image_url"]["detail"] == "high"


def test_unknown_model_costs_zero_and_is_counted() -> None:
    client = LiteLLMClient("openai/no-such-model-for-tests", mock_response="ok")
    c = client.complete(messages(), purpose="p")
    assert c.text == "ok" and c.cost_usd == 0.0
    assert client.usage.unpriced_calls == 1


def test_retry_then_success() -> None:
    sleeps: list[float] = []
    client = LiteLLMClient(
        "gpt-4o", mock_response=[rate_limit(), rate_limit(), "fine"], sleep=sleeps.append
    )
    c = client.complete(messages(), purpose="decompose")
    assert c.text == "fine"
    assert sleeps == [2.0, 4.0]
    assert client.usage.attempts == 3 and client.usage.calls == 1


def test_failure_after_retries_raises_vlm_error() -> None:
    sleeps: list[float] = []
    client = LiteLLMClient(
        "gpt-4o", retries=3, backoff=0.5, mock_response=rate_limit(), sleep=sleeps.append
    )
    with pytest.raises(VLMError) as info:
        client.complete(messages(), purpose="decompose")
    err = info.value
    assert err.attempts == 4 and err.model == "gpt-4o" and err.transient
    assert isinstance(err.__cause__, litellm.RateLimitError)
    assert sleeps == [0.5, 1.0, 2.0]
    text = str(err)
    assert "'gpt-4o'" in text and "4 attempt" in text and "RateLimitError" in text
    assert "decompose" in text and "retry later" in text
    assert client.usage.failures == 1 and client.usage.attempts == 4


def test_backoff_is_capped() -> None:
    client = LiteLLMClient("gpt-4o", backoff=10, max_backoff=25)
    assert [client.delay(i) for i in range(4)] == [10.0, 20.0, 25.0, 25.0]


def test_mock_timeout_is_retried() -> None:
    client = LiteLLMClient(
        "gpt-4o",
        retries=1,
        timeout=0.01,
        mock_response="x",
        mock_timeout=True,
        sleep=lambda s: None,
    )
    with pytest.raises(VLMError) as info:
        client.complete(messages(), purpose="p")
    assert info.value.attempts == 2
    assert isinstance(info.value.__cause__, litellm.Timeout)


def test_non_transient_error_is_not_retried() -> None:
    sleeps: list[float] = []
    auth = litellm.AuthenticationError(message="bad key", llm_provider="openai", model="gpt-4o")
    client = LiteLLMClient("gpt-4o", mock_response=auth, sleep=sleeps.append)
    with pytest.raises(VLMError) as info:
        client.complete(messages(), purpose="p")
    assert info.value.attempts == 1 and not info.value.transient and sleeps == []
    assert "retrying will not help" in str(info.value) and "API key" in str(info.value)


def test_model_without_provider_fails_fast_without_network(no_network: list[object]) -> None:
    client = LiteLLMClient("no-provider-model", mock_response="ok")
    with pytest.raises(VLMError) as info:
        client.complete(messages(), purpose="p")
    assert not info.value.transient and no_network == []


def test_constructor_validates() -> None:
    with pytest.raises(ValueError, match="detail"):
        LiteLLMClient("gpt-4o", detail="medium")
    with pytest.raises(ValueError, match="retries"):
        LiteLLMClient("gpt-4o", retries=-1)
    with pytest.raises(ValueError, match="mock_response"):
        LiteLLMClient("gpt-4o", mock_response=[])


def test_litellm_client_records_and_replays(tmp_path: Path) -> None:
    store = ReplayStore(tmp_path / "r.json")
    live = RecordingClient(LiteLLMClient("gpt-4o", mock_response="recorded"), store)
    a = live.complete(messages(), purpose="p")
    b = ReplayClient(ReplayStore(tmp_path / "r.json"), model="gpt-4o", params=live.params).complete(
        messages(), purpose="p"
    )
    assert (b.text, b.model, b.prompt_tokens, b.completion_tokens, b.cost_usd) == (
        a.text, a.model, a.prompt_tokens, a.completion_tokens, a.cost_usd,
    )  # fmt: skip
    assert b.cached and not a.cached


# -- ScriptedClient -----------------------------------------------------------------------------


def test_scripted_in_order_and_records_prompts() -> None:
    client = ScriptedClient(["one", lambda msgs: f"saw {len(msgs)} messages"])
    assert isinstance(client, VLMClient)
    assert client.complete(messages(), purpose="a").text == "one"
    c = client.complete([Message.user("feedback: line 3 A502")], purpose="b")
    assert c.text == "saw 1 messages" and c.cached and c.cost_usd == 0.0
    assert [x.purpose for x in client.calls] == ["a", "b"]
    assert "A502" in client.prompts("b")[0]
    assert client.remaining == 0 and client.usage.calls == 2
    with pytest.raises(ScriptExhausted) as info:
        client.complete(messages(), purpose="c")
    assert info.value.used == 2
    assert "ran out" in str(info.value) and "add replies" in str(info.value)


def test_scripted_by_purpose_with_prefix_fallback() -> None:
    client = ScriptedClient({"decompose": ["{}"], "checker": ["k1", "k2"], "checker:door": ["d"]})
    assert client.complete(messages(), purpose="checker:door").text == "d"
    assert client.complete(messages(), purpose="checker:key").text == "k1"
    assert client.complete(messages(), purpose="decompose").text == "{}"
    assert client.complete(messages(), purpose="checker:goal").text == "k2"
    with pytest.raises(ScriptExhausted, match="purpose 'checker:more'"):
        client.complete(messages(), purpose="checker:more")
    with pytest.raises(ScriptExhausted, match="no replies for purpose 'refine:x'"):
        client.complete(messages(), purpose="refine:x")
    with pytest.raises(TypeError):
        ScriptedClient("just one string")  # type: ignore[arg-type]


def test_completion_is_frozen() -> None:
    c = Completion("t", "m", 1, 2, 0.0, 0.0, False)
    with pytest.raises(AttributeError):
        c.text = "x"  # type: ignore[misc]
