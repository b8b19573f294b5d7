"""Talking to a vision-language model: messages with images, completions, usage, a litellm client.

Provides:
    ImagePart: an image in a message (PNG bytes encoded here, plus a content hash).
    Message: one chat message, text and image parts (``Message.user(...)`` and friends).
    Completion: one reply with its token counts, cost, time and whether it came from a recording.
    Usage: running totals of a client (calls, tokens, dollars, seconds).
    VLMClient: the protocol every client follows (litellm, recording, replay, scripted).
    LiteLLMClient: a real model through litellm, with retries, timeouts and cost accounting.
    CallRecord: tokens, cost and latency of one model call, by purpose.
    MeteredClient: wraps any client and keeps one :class:`CallRecord` per call (the CLI prints
        each and stores them in the bundle).
    encode_png: H x W x 3 (or 4, or H x W) uint8 array -> PNG bytes, stdlib only.
    to_litellm_messages: messages in the OpenAI content-part format that litellm translates.

litellm takes ~3 s to import and is only needed when a real model is called, so it is imported
lazily inside :class:`LiteLLMClient`. Importing this module sets ``LITELLM_LOCAL_MODEL_COST_MAP=True``
(unless the environment already says otherwise) so litellm uses its bundled price map and fetches
nothing at import; nothing here touches the network unless a remote model is named.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import logging
import os
import struct
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from synth.errors import CredentialsError, UnknownModelError, VLMError

__all__ = [
    "CallRecord",
    "Completion",
    "ImagePart",
    "LiteLLMClient",
    "Message",
    "MeteredClient",
    "Part",
    "Role",
    "Usage",
    "VLMClient",
    "complete_many",
    "encode_png",
    "to_litellm_messages",
]

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

_log = logging.getLogger(__name__)

Role = Literal["system", "user", "assistant"]
_ROLES = ("system", "user", "assistant")

#: Largest image side (pixels) accepted in a message.
MAX_SIDE = 4096

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(tag + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)


def _image_array(frame: object) -> npt.NDArray[np.uint8]:
    """Validate an image array (H x W, H x W x 1/3/4 uint8) and return it C-contiguous."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"an image must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise ValueError(f"an image must have dtype uint8, got {frame.dtype}")
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in _COLOR_TYPES):
        raise ValueError(f"an image must be H x W or H x W x 1/3/4, got shape {frame.shape}")
    h, w = frame.shape[:2]
    if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE):
        raise ValueError(f"image sides must be 1..{MAX_SIDE} pixels, got {h} x {w}")
    return np.ascontiguousarray(frame)


def encode_png(frame: npt.NDArray[np.uint8]) -> bytes:
    """Encode a uint8 image as PNG with the standard library only (zlib, struct).

    Every row uses PNG filter 2 ("Up"), which suits rendered frames with large flat areas.

    Args:
        frame: H x W (grey), H x W x 1, H x W x 3 (RGB) or H x W x 4 (RGBA) uint8 array.

    Returns:
        The PNG file's bytes.

    Raises:
        TypeError: if ``frame`` is not a numpy array.
        ValueError: if its dtype, shape or size is not supported.

    Example:
        >>> encode_png(np.zeros((2, 2, 3), np.uint8))[:8]
        b'\\x89PNG\\r\\n\\x1a\\n'
    """
    a = _image_array(frame)
    h, w = a.shape[:2]
    channels = 1 if a.ndim == 2 else a.shape[2]
    rows = a.reshape(h, w * channels)
    raw = np.empty((h, w * channels + 1), np.uint8)
    raw[:, 0] = 2  # filter "Up": each byte minus the byte above it (modulo 256)
    raw[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])  # uint8 arithmetic wraps modulo 256
    header = struct.pack(">IIBBBBB", w, h, 8, _COLOR_TYPES[channels], 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + _png_chunk(b"IEND", b"")
    )


@dataclass(frozen=True)
class ImagePart:
    """An image inside a message.

    Attributes:
        png: the PNG bytes sent to the model.
        sha256: hex digest of the image's *pixels* (shape and raw bytes), so the hash, and every
            replay key built from it, does not depend on the PNG compressor.
        shape: the array's shape, e.g. ``(256, 256, 3)``.
    """

    png: bytes = field(repr=False)
    sha256: str
    shape: tuple[int, ...]

    @classmethod
    def from_array(cls, frame: npt.NDArray[np.uint8]) -> ImagePart:
        """Build an image part from a uint8 array (H x W x 3 RGB frames, usually).

        Raises:
            TypeError: if ``frame`` is not a numpy array.
            ValueError: if its dtype, shape or size is not supported.
        """
        a = _image_array(frame)
        digest = hashlib.sha256("x".join(map(str, a.shape)).encode() + b":" + a.tobytes())
        return cls(png=encode_png(a), sha256=digest.hexdigest(), shape=tuple(a.shape))

    @property
    def data_url(self) -> str:
        """The image as a ``data:image/png;base64,...`` URL."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


#: A message part: text, or an image.
Part = str | ImagePart


@dataclass(frozen=True)
class Message:
    """One chat message made of text and image parts, in order.

    Attributes:
        role: ``system``, ``user`` or ``assistant``.
        parts: the parts, in order; system and assistant messages carry text only.
    """

    role: Role
    parts: tuple[Part, ...]

    def __post_init__(self) -> None:
        if self.role not in _ROLES:
            raise ValueError(f"role {self.role!r}: use one of {', '.join(_ROLES)}")
        for part in self.parts:
            if not isinstance(part, str | ImagePart):
                raise TypeError(
                    f"a message part must be str or ImagePart, got {type(part).__name__} "
                    "(wrap frames with ImagePart.from_array)"
                )
            if isinstance(part, ImagePart) and self.role != "user":
                raise ValueError(f"only user messages may carry images, not {self.role!r}")

    @classmethod
    def system(cls, text: str) -> Message:
        """A system message."""
        return cls("system", (text,))

    @classmethod
    def user(cls, *parts: Part | npt.NDArray[np.uint8]) -> Message:
        """A user message; numpy arrays among ``parts`` become PNG image parts."""
        return cls(
            "user",
            tuple(ImagePart.from_array(p) if isinstance(p, np.ndarray) else p for p in parts),
        )

    @classmethod
    def assistant(cls, text: str) -> Message:
        """An assistant message (an earlier reply, for multi-turn prompts)."""
        return cls("assistant", (text,))

    @property
    def text(self) -> str:
        """The text parts joined by blank lines."""
        return "\n\n".join(p for p in self.parts if isinstance(p, str))

    @property
    def images(self) -> tuple[ImagePart, ...]:
        """The image parts, in order."""
        return tuple(p for p in self.parts if isinstance(p, ImagePart))


def to_litellm_messages(messages: Sequence[Message], detail: str = "low") -> list[dict[str, Any]]:
    """Convert messages to the OpenAI chat format that litellm accepts for every provider.

    Args:
        messages: the messages.
        detail: the OpenAI image ``detail`` (``low``, ``high`` or ``auto``).

    Returns:
        A list of ``{"role", "content"}`` dicts; content is a string for a single text part,
        else a list of ``{"type": "text"}`` / ``{"type": "image_url"}`` parts with data URLs.
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        if len(m.parts) == 1 and isinstance(m.parts[0], str):
            out.append({"role": m.role, "content": m.parts[0]})
            continue
        content: list[dict[str, Any]] = []
        for p in m.parts:
            if isinstance(p, str):
                content.append({"type": "text", "text": p})
            else:
                content.append(
                    {"type": "image_url", "image_url": {"url": p.data_url, "detail": detail}}
                )
        out.append({"role": m.role, "content": content})
    return out


@dataclass(frozen=True)
class Completion:
    """One model reply.

    Attributes:
        text: the reply's text ("" when the model returned no content).
        model: the model that answered (as the provider names it).
        prompt_tokens: input tokens billed (as recorded, for a replayed reply).
        completion_tokens: output tokens billed (as recorded, for a replayed reply).
        cost_usd: dollars, from litellm's bundled price map; 0.0 when the model is not in it.
        seconds: wall time of this call, retries and back-off included (replay: lookup time).
        cached: True when the reply came from a recording or a script, not from a model call.
        finish_reason: ``stop``, ``length`` (cut off by max_tokens) ... or None when unknown.
    """

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    seconds: float
    cached: bool
    finish_reason: str | None = None


@dataclass
class Usage:
    """Running totals of one client. Tokens and dollars count fresh (billed) calls only.

    Attributes:
        calls: completions returned, fresh and cached.
        cached_calls: completions served from a recording or a script.
        attempts: model calls made, retries included.
        failures: ``complete`` calls that raised.
        prompt_tokens: input tokens of fresh calls.
        completion_tokens: output tokens of fresh calls.
        cost_usd: dollars spent on fresh calls.
        unpriced_calls: fresh calls whose model is not in the price map (counted as $0).
        seconds: wall time spent in ``complete``.
    """

    calls: int = 0
    cached_calls: int = 0
    attempts: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def add(self, completion: Completion, *, attempts: int = 1, priced: bool = True) -> None:
        """Count one returned completion."""
        with self._lock:
            self.calls += 1
            self.seconds += completion.seconds
            if completion.cached:
                self.cached_calls += 1
                return
            self.attempts += attempts
            self.prompt_tokens += completion.prompt_tokens
            self.completion_tokens += completion.completion_tokens
            self.cost_usd += completion.cost_usd
            self.unpriced_calls += 0 if priced else 1

    def add_failure(self, *, attempts: int, seconds: float) -> None:
        """Count one ``complete`` call that raised."""
        with self._lock:
            self.failures += 1
            self.attempts += attempts
            self.seconds += seconds

    def as_dict(self) -> dict[str, int | float]:
        """The totals as a plain dict (for reports and provenance)."""
        with self._lock:
            return {
                "calls": self.calls,
                "cached_calls": self.cached_calls,
                "attempts": self.attempts,
                "failures": self.failures,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cost_usd": self.cost_usd,
                "unpriced_calls": self.unpriced_calls,
                "seconds": self.seconds,
            }


@runtime_checkable
class VLMClient(Protocol):
    """What the pipeline needs from a model: one completion per call, and running totals.

    ``params`` are the settings that change the reply (temperature, max_tokens, image detail);
    together with ``model`` and the messages they make a request's replay key.
    """

    @property
    def model(self) -> str:
        """The model's name."""
        ...

    @property
    def params(self) -> Mapping[str, Any]:
        """Settings that change the reply (part of the replay key)."""
        ...

    @property
    def usage(self) -> Usage:
        """Running totals."""
        ...

    def complete(self, messages: Sequence[Message], *, purpose: str) -> Completion:
        """Return the model's reply to ``messages``; ``purpose`` labels the call in records."""
        ...


def _litellm() -> Any:
    """Import litellm on first use (≈3 s), offline-safe and quiet."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    module: Any = importlib.import_module("litellm")
    module.suppress_debug_info = True  # else it prints "Provider List: ..." to stdout on errors
    # litellm 1.110's first call builds pydantic schemas that warn about its own TypedDicts.
    warnings.filterwarnings(
        "ignore",
        message=r"Items? .* on TypedDict class '.*' (is|are) using the `ReadOnly` qualifier",
        category=UserWarning,
    )
    return module


def _transient_errors(litellm: Any) -> tuple[type[BaseException], ...]:
    names = (
        "RateLimitError",
        "Timeout",
        "APIConnectionError",
        "ServiceUnavailableError",
        "InternalServerError",
        "BadGatewayError",
    )
    return tuple(getattr(litellm.exceptions, n) for n in names if hasattr(litellm.exceptions, n))


_NO_MOCK = object()

#: What the ``mock_response`` test hook accepts: a reply, an exception for litellm to raise, or a
#: sequence of those consumed one per attempt (the last one repeats).
MockResponse = str | BaseException | Sequence[str | BaseException]


class LiteLLMClient:
    """A real vision-language model reached through litellm (any provider litellm supports).

    Images travel as base64 PNG data URLs in OpenAI content parts. Transient failures (rate limit,
    timeout, connection, 5xx) are retried with exponential back-off; other failures raise
    :class:`~synth.errors.VLMError` at once. Costs come from litellm's bundled price map
    (``litellm.completion_cost``); a model that is not in it costs 0.0 and is counted in
    ``usage.unpriced_calls``. litellm's own retries are turned off so that attempts are counted
    here, and ``drop_params=True`` lets litellm drop settings a model does not support (some
    reasoning models refuse ``temperature``).

    Example (no network: litellm's own mock hook answers)::

        client = LiteLLMClient("gpt-4o", mock_response="```python\\n...\\n```")
        reply = client.complete([Message.user("hi", frame)], purpose="demo")
    """

    def __init__(
        self,
        model: str,
        *,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 2.0,
        max_backoff: float = 60.0,
        temperature: float = 0.0,
        max_tokens: int = 4096,
        detail: str = "low",
        api_base: str | None = None,
        extra: Mapping[str, Any] | None = None,
        mock_response: MockResponse | None = None,
        mock_timeout: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Configure the client; nothing is imported or called yet.

        Args:
            model: litellm model name, e.g. ``gpt-4o``, ``anthropic/claude-...``,
                ``ollama/llava`` (a provider prefix is needed for models litellm cannot infer).
            timeout: seconds per attempt.
            retries: extra attempts after a transient failure (``retries=3``: up to 4 calls).
            backoff: seconds before the first retry; doubles each retry, capped at ``max_backoff``.
            max_backoff: the longest wait between attempts.
            temperature: sampling temperature.
            max_tokens: the reply's token limit (a reply cut off here ends ``finish_reason=length``).
            detail: OpenAI image detail, ``low`` (fixed ~85 tokens per image), ``high`` or ``auto``.
            api_base: an OpenAI-compatible endpoint (e.g. a local server), else the provider's.
            extra: further litellm ``completion`` keyword arguments (not part of the replay key).
            mock_response: **tests only** — passed to litellm's ``mock_response`` hook so no
                request leaves the machine: a reply text, an exception instance for litellm to
                raise, or a sequence of those used one per attempt (the last one repeats).
            mock_timeout: **tests only** — litellm's ``mock_timeout`` hook (raises its Timeout).
            sleep: the back-off sleep (tests pass a no-op).
        """
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        if detail not in ("low", "high", "auto"):
            raise ValueError(f"detail must be low, high or auto, got {detail!r}")
        self._model = model
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.temperature = float(temperature)  # 0 and 0.0 must give one replay key
        self.max_tokens = int(max_tokens)
        self.detail = detail
        self.api_base = api_base
        self.extra = dict(extra or {})
        self.mock_timeout = mock_timeout
        self._mocks: list[str | BaseException] | None
        if mock_response is None:
            self._mocks = None
        elif isinstance(mock_response, str | BaseException):
            self._mocks = [mock_response]
        else:
            self._mocks = list(mock_response)
            if not self._mocks:
                raise ValueError("mock_response: give at least one reply or exception")
        self._sleep = sleep
        self._usage = Usage()
        self._mock_lock = threading.Lock()
        self._warned_unpriced = False
        self._credentials_checked = False

    def __repr__(self) -> str:
        mock = ", mock" if self._mocks is not None or self.mock_timeout else ""
        return f"LiteLLMClient({self._model!r}, temperature={self.temperature}{mock})"

    @property
    def model(self) -> str:
        """The litellm model name."""
        return self._model

    @property
    def params(self) -> Mapping[str, Any]:
        """Settings that change the reply: temperature, max_tokens and image detail."""
        return {
            "detail": self.detail,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }

    @property
    def usage(self) -> Usage:
        """Running totals of this client."""
        return self._usage

    def missing_credentials(self) -> tuple[str, ...]:
        """The environment variables this model's provider needs and that are not set.

        Asks litellm (``validate_environment``, no network). Empty when the call does not depend
        on the environment: a mocked client, an ``api_base`` or an ``api_key`` in ``extra``, or a
        provider that needs only an endpoint with a local default (``ollama``). Only variables
        that hold a secret (``*KEY*``, ``*TOKEN*``) make the list non-empty; the others a
        provider also needs (``AZURE_API_BASE``) are then listed with them.
        """
        if (
            self._mocks is not None
            or self.mock_timeout
            or self.api_base is not None
            or "api_key" in self.extra
        ):
            return ()
        litellm = _litellm()
        try:
            report = litellm.validate_environment(model=self._model)
        except Exception:  # an unknown provider: the call itself will say what is wrong
            return ()
        missing = tuple(str(m) for m in (report or {}).get("missing_keys", ()) or ())
        secret = any("KEY" in m.upper() or "TOKEN" in m.upper() for m in missing)
        return missing if secret else ()

    def routable(self) -> bool:
        """Whether litellm knows which provider serves this model name (offline)."""
        if self._mocks is not None or self.mock_timeout or self.api_base is not None:
            return True
        litellm = _litellm()
        try:
            litellm.get_llm_provider(model=self._model)
        except Exception:  # litellm.BadRequestError: "LLM Provider NOT provided"
            return False
        return True

    def check_credentials(self) -> None:
        """Refuse at once, before any work or call, when the provider's API key is not set.

        Raises:
            UnknownModelError: the name routes to no provider (``gpt-4oo``).
            CredentialsError: naming the environment variables to set (never retried).
        """
        self._credentials_checked = True
        if not self.routable():
            raise UnknownModelError(self._model)
        missing = self.missing_credentials()
        if missing:
            raise CredentialsError(self._model, missing)

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        return float(min(self.backoff * (2.0**retry), self.max_backoff))

    def _next_mock(self) -> object:
        if self._mocks is None:
            return _NO_MOCK
        with self._mock_lock:
            return self._mocks.pop(0) if len(self._mocks) > 1 else self._mocks[0]

    def _kwargs(self, payload: list[dict[str, Any]]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            **self.extra,
            "model": self._model,
            "messages": payload,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "timeout": self.timeout,
            "num_retries": 0,  # retried here, where attempts are counted
            "max_retries": 0,  # the OpenAI SDK's own retries
            "drop_params": True,
        }
        if self.api_base is not None:
            kwargs["api_base"] = self.api_base
        mock = self._next_mock()
        if mock is not _NO_MOCK:
            kwargs["mock_response"] = mock
        if self.mock_timeout:
            kwargs["mock_timeout"] = True
        return kwargs

    def complete(self, messages: Sequence[Message], *, purpose: str) -> Completion:
        """Ask the model; retry transient failures.

        Args:
            messages: the conversation.
            purpose: a label for logs and records (``decompose``, ``checker:key_picked`` ...).

        Returns:
            The reply.

        Raises:
            VLMError: every attempt failed with a transient error, or one failed with an error
                that retrying cannot fix (the error is chained as ``__cause__``).
            CredentialsError: on the first call, when the provider's API key is not set
                (:meth:`check_credentials`; no attempt is made).
        """
        if not self._credentials_checked:
            self.check_credentials()
        litellm = _litellm()
        transient = _transient_errors(litellm)
        payload = to_litellm_messages(messages, self.detail)
        start = time.perf_counter()
        attempts = 0
        while True:
            attempts += 1
            try:
                response = litellm.completion(**self._kwargs(payload))
                break
            except transient as err:
                if attempts > self.retries:
                    self._usage.add_failure(attempts=attempts, seconds=time.perf_counter() - start)
                    raise VLMError(self._model, attempts, err, purpose=purpose) from err
                wait = self.delay(attempts - 1)
                _log.warning(
                    "%s (%s): %s; retry %d/%d in %.1f s",
                    self._model,
                    purpose,
                    type(err).__name__,
                    attempts,
                    self.retries,
                    wait,
                )
                self._sleep(wait)
            except Exception as err:
                self._usage.add_failure(attempts=attempts, seconds=time.perf_counter() - start)
                raise VLMError(
                    self._model, attempts, err, purpose=purpose, transient=False
                ) from err
        cost, priced = self._cost(litellm, response)
        completion = _completion_from(response, self._model, cost, time.perf_counter() - start)
        self._usage.add(completion, attempts=attempts, priced=priced)
        return completion

    def _cost(self, litellm: Any, response: Any) -> tuple[float, bool]:
        """Dollars for ``response`` from the bundled price map; (0.0, False) when unknown."""
        try:
            cost = litellm.completion_cost(completion_response=response)
            return float(cost or 0.0), True
        except Exception as err:  # ModelNotMappedError and friends: never fail a good reply
            if not self._warned_unpriced:
                self._warned_unpriced = True
                _log.warning("no price for %s (%s); counting $0", self._model, type(err).__name__)
            return 0.0, False


def _completion_from(response: Any, model: str, cost: float, seconds: float) -> Completion:
    """Read a litellm ``ModelResponse`` defensively (providers leave fields out)."""
    choices = getattr(response, "choices", None) or []
    text = ""
    finish: str | None = None
    if choices:
        message = getattr(choices[0], "message", None)
        text = str(getattr(message, "content", None) or "")
        reason = getattr(choices[0], "finish_reason", None)
        finish = str(reason) if reason is not None else None
    usage = getattr(response, "usage", None)
    return Completion(
        text=text,
        model=str(getattr(response, "model", None) or model),
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cost_usd=cost,
        seconds=seconds,
        cached=False,
        finish_reason=finish,
    )


@dataclass(frozen=True)
class CallRecord:
    """Tokens, cost and latency of one model call.

    Attributes:
        index: 1-based position of the call in the run.
        purpose: what it was for (``decompose``, ``checker:key_picked``, ``refine:door_open``).
        model: the model that answered (the recorded one, for a replayed reply).
        prompt_tokens: input tokens (as recorded, for a replayed reply).
        completion_tokens: output tokens (as recorded, for a replayed reply).
        cost_usd: dollars (as recorded, for a replayed reply; 0.0 when the model is unpriced).
        seconds: wall time of the call, retries included (replay: lookup time).
        cached: True when the reply came from a recording or a script: nothing was billed.
    """

    index: int
    purpose: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    seconds: float
    cached: bool

    def to_json(self, *, timing: bool = True) -> dict[str, Any]:
        """A JSON-ready dict; ``timing=False`` leaves out ``seconds`` (it differs run to run)."""
        out: dict[str, Any] = {
            "index": self.index,
            "purpose": self.purpose,
            "model": self.model,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 8),
            "cached": self.cached,
        }
        if timing:
            out["seconds"] = round(self.seconds, 4)
        return out

    def describe(self) -> str:
        """One line: ``call 3 refine:door_open: 1,200 + 310 tokens, $0.0041, 2.31 s``.

        Example:
            >>> CallRecord(2, "decompose", "gpt-4o", 1200, 310, 0.0041, 2.312, False).describe()
            'call 2 decompose (gpt-4o): 1,200 + 310 tokens, $0.0041, 2.31 s'
        """
        billed = ", replayed: not billed" if self.cached else ""
        return (
            f"call {self.index} {self.purpose} ({self.model}): {self.prompt_tokens:,} + "
            f"{self.completion_tokens:,} tokens, ${self.cost_usd:.4f}, {self.seconds:.2f} s{billed}"
        )


class MeteredClient:
    """Wrap any :class:`VLMClient` and keep a :class:`CallRecord` of every completion it returns.

    ``model``, ``params`` and ``usage`` are the wrapped client's, so replay keys and running totals
    are unchanged. Failed calls raise as before and leave no record (``usage.failures`` counts them).

    Example:
        >>> from synth.scripted import ScriptedClient
        >>> seen = []
        >>> client = MeteredClient(ScriptedClient(["hello"]), on_call=seen.append)
        >>> client.complete([Message.user("hi")], purpose="greet").text
        'hello'
        >>> seen[0].purpose, client.totals()["calls"]
        ('greet', 1)

    Args:
        client: the client to wrap.
        on_call: called with each new record (the CLI prints it).
    """

    def __init__(
        self, client: VLMClient, *, on_call: Callable[[CallRecord], None] | None = None
    ) -> None:
        self.client = client
        self._on_call = on_call
        self._records: list[CallRecord] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MeteredClient({self.client!r}, {len(self._records)} call(s))"

    @property
    def model(self) -> str:
        """The wrapped client's model."""
        return self.client.model

    @property
    def params(self) -> Mapping[str, Any]:
        """The wrapped client's params (part of the replay key)."""
        return self.client.params

    @property
    def usage(self) -> Usage:
        """The wrapped client's running totals."""
        return self.client.usage

    @property
    def records(self) -> tuple[CallRecord, ...]:
        """One record per returned completion, in call order."""
        with self._lock:
            return tuple(self._records)

    def complete(self, messages: Sequence[Message], *, purpose: str) -> Completion:
        """Ask the wrapped client and record the call's tokens, cost and latency."""
        return self._record(purpose, self.client.complete(messages, purpose=purpose))

    def complete_many(self, requests: Sequence[tuple[Sequence[Message], str]]) -> list[Completion]:
        """Ask several requests at once (:func:`complete_many`); record them in request order.

        The records, and so a bundle's ``extra.usage``, do not depend on which reply came first.
        """
        completions = complete_many(self.client, requests)
        return [self._record(p, c) for (_, p), c in zip(requests, completions, strict=True)]

    def _record(self, purpose: str, completion: Completion) -> Completion:
        with self._lock:
            record = CallRecord(
                index=len(self._records) + 1,
                purpose=purpose,
                model=completion.model,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                cost_usd=completion.cost_usd,
                seconds=completion.seconds,
                cached=completion.cached,
            )
            self._records.append(record)
        if self._on_call is not None:
            self._on_call(record)
        return completion

    def totals(self, *, timing: bool = True) -> dict[str, Any]:
        """Sums over the recorded calls; ``billed_usd`` counts only calls a model answered now."""
        records = self.records
        out: dict[str, Any] = {
            "calls": len(records),
            "cached_calls": sum(r.cached for r in records),
            "prompt_tokens": sum(r.prompt_tokens for r in records),
            "completion_tokens": sum(r.completion_tokens for r in records),
            "cost_usd": round(float(sum(r.cost_usd for r in records)), 8),
            "billed_usd": round(float(sum(r.cost_usd for r in records if not r.cached)), 8),
        }
        if timing:
            out["seconds"] = round(sum(r.seconds for r in records), 4)
        return out

    def describe_totals(self) -> str:
        """One line with the totals, for the end of a run."""
        t = self.totals()
        replayed = f" ({t['cached_calls']} replayed, not billed)" if t["cached_calls"] else ""
        return (
            f"{t['calls']} model call(s){replayed}: {t['prompt_tokens']:,} + "
            f"{t['completion_tokens']:,} tokens, ${t['cost_usd']:.4f} "
            f"(billed now: ${t['billed_usd']:.4f}), {t['seconds']:.2f} s in model calls"
        )

    def to_json(self, *, timing: bool = True) -> dict[str, Any]:
        """Every call and the totals; ``timing=False`` is identical across identical replays."""
        return {
            "calls": [r.to_json(timing=timing) for r in self.records],
            "totals": self.totals(timing=timing),
        }


def complete_many(
    client: VLMClient,
    requests: Sequence[tuple[Sequence[Message], str]],
    *,
    workers: int = 8,
) -> list[Completion]:
    """Ask ``client`` several ``(messages, purpose)`` requests at once; replies in request order.

    Calls run on up to ``workers`` threads (a model call waits on the network, not the CPU); a
    client with its own ``complete_many`` (:class:`MeteredClient`) is asked through it. The first
    failure is raised after every call has returned, so no call is left running.

    Example:
        >>> from synth.scripted import ScriptedClient
        >>> client = ScriptedClient({"a": ["one"], "b": ["two"]})
        >>> [c.text for c in complete_many(client, [([Message.user("x")], "a"), ([Message.user("y")], "b")])]
        ['one', 'two']
    """
    own = getattr(client, "complete_many", None)
    if own is not None:
        return list(own(requests))
    if len(requests) <= 1 or workers <= 1:
        return [client.complete(m, purpose=p) for m, p in requests]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(workers, len(requests))) as pool:
        futures = [pool.submit(client.complete, m, purpose=p) for m, p in requests]
    return [f.result() for f in futures]
