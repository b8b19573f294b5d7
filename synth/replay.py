"""Record model replies once, replay them offline and byte for byte.

Provides:
    ReplayStore: a JSON file of recorded requests and replies, written atomically and
        deterministically (sorted keys, fixed indentation), so re-recording the same replies
        reproduces the same bytes.
    RecordingClient: wraps any client and records every completion it returns.
    ReplayClient: answers from a store only; raises :class:`~synth.errors.ReplayMiss` otherwise
        and never calls a model.
    canonical_messages: messages as JSON-ready data with every image replaced by its hash.
    request_key: sha256 of the canonical JSON of ``{model, messages, params}``.

This is the project's own format, not litellm's cache (whose disk backend is gone in litellm
1.110 and whose cache hits crash without the proxy extras). The file looks like::

    {
     "entries": {
      "<key>": {
       "replies": [{"completion_tokens": 20, "cost_usd": 0.000225, "finish_reason": "stop",
                    "model": "gpt-4o", "prompt_tokens": 10, "purpose": "decompose", "text": "..."}],
       "request": {"messages": [{"content": [{"text": "...", "type": "text"},
                                             {"sha256": "...", "shape": [256, 256, 3],
                                              "type": "image"}], "role": "user"}],
                   "messages_sha256": "...", "model": "gpt-4o",
                   "params": {"detail": "low", "max_tokens": 4096, "temperature": 0.0}}
      }
     },
     "format": "vlm-car-replay",
     "version": 1
    }

Loading reads the file through :mod:`sandbox.safeio` (a regular file of at most 64 MiB; JSON
without NaN, huge integers or deep nesting) and checks every entry's schema up front: the fields
of each request and reply, their types, the request key and the messages hash. A malformed entry
is refused at load time with a message naming it and the field, never mid-run.

Identical requests asked several times in one run (sampling several candidates at a non-zero
temperature) are kept in order: the n-th identical request of a replay gets the n-th recorded
reply. Wall times are not recorded (they would make the file differ from run to run).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sandbox.errors import FileRefused
from sandbox.safeio import load_json
from synth.errors import ReplayMiss, ReplayStoreError
from synth.vlm import Completion, Message, Usage, VLMClient

__all__ = [
    "REPLAY_FORMAT",
    "REPLAY_VERSION",
    "RecordingClient",
    "ReplayClient",
    "ReplayStore",
    "canonical_json",
    "canonical_messages",
    "request_key",
]

REPLAY_FORMAT = "vlm-car-replay"
REPLAY_VERSION = 1

_REPLY_FIELDS = (
    "completion_tokens",
    "cost_usd",
    "finish_reason",
    "model",
    "prompt_tokens",
    "purpose",
    "text",
)
_REQUEST_FIELDS = ("messages", "messages_sha256", "model", "params")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _kind(value: object) -> str:
    """``repr (type)`` of a JSON value, bounded, for messages."""
    text = repr(value)
    return f"{text[:40] + '...' if len(text) > 40 else text} ({type(value).__name__})"


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _exact_keys(
    obj: object, where: str, required: tuple[str, ...], known: tuple[str, ...]
) -> dict[str, Any]:
    """Return ``obj`` when it is an object with every required key and no unknown one."""
    if not isinstance(obj, dict):
        raise ValueError(f"{where} must be an object, got {_kind(obj)}")
    missing = [k for k in required if k not in obj]
    if missing:
        raise ValueError(f"{where} lacks {', '.join(map(repr, missing))}")
    unknown = sorted(set(obj) - set(known))
    if unknown:
        raise ValueError(f"{where} has unknown field(s) {', '.join(repr(k[:40]) for k in unknown)}")
    return obj


def _check_part(part: object, where: str) -> None:
    if not isinstance(part, dict):
        raise ValueError(f"{where} must be an object, got {_kind(part)}")
    if part.get("type") == "text":
        part = _exact_keys(part, where, ("text", "type"), ("text", "type"))
        if not isinstance(part["text"], str):
            raise ValueError(f"{where}.text must be a string, got {_kind(part['text'])}")
    elif part.get("type") == "image":
        _exact_keys(part, where, ("sha256", "shape", "type"), ("sha256", "shape", "type"))
        if not (isinstance(part["sha256"], str) and _HEX64.fullmatch(part["sha256"])):
            raise ValueError(f"{where}.sha256 must be 64 hex digits, got {_kind(part['sha256'])}")
        shape = part["shape"]
        if not (isinstance(shape, list) and len(shape) in (2, 3) and all(map(_is_count, shape))):
            raise ValueError(f"{where}.shape must be 2 or 3 integers >= 0, got {_kind(shape)}")
    else:
        raise ValueError(f'{where}.type must be "text" or "image", got {_kind(part.get("type"))}')


def _check_reply(reply: object, where: str) -> None:
    reply = _exact_keys(reply, where, ("text",), _REPLY_FIELDS)
    for name, ok, wanted in (
        ("text", lambda v: isinstance(v, str), "a string"),
        ("purpose", lambda v: isinstance(v, str), "a string"),
        ("model", lambda v: v is None or isinstance(v, str), "a string or null"),
        ("finish_reason", lambda v: v is None or isinstance(v, str), "a string or null"),
        ("prompt_tokens", _is_count, "an integer >= 0"),
        ("completion_tokens", _is_count, "an integer >= 0"),
        (
            "cost_usd",
            lambda v: (
                isinstance(v, int | float)
                and not isinstance(v, bool)
                and math.isfinite(v)
                and v >= 0
            ),
            "a finite number >= 0",
        ),
    ):
        if name in reply and not ok(reply[name]):
            raise ValueError(f"{where}.{name} must be {wanted}, got {_kind(reply[name])}")


def _check_entry(key: str, entry: object) -> None:
    """Check one entry's schema and its key; raise ValueError naming the wrong field."""
    if not _HEX64.fullmatch(key):
        raise ValueError("the key must be 64 lowercase hex digits (a sha256)")
    entry = _exact_keys(entry, "the entry", ("replies", "request"), ("replies", "request"))
    request = _exact_keys(entry["request"], "request", _REQUEST_FIELDS, _REQUEST_FIELDS)
    if not isinstance(request["model"], str):
        raise ValueError(f"request.model must be a string, got {_kind(request['model'])}")
    if not isinstance(request["params"], dict):
        raise ValueError(f"request.params must be an object, got {_kind(request['params'])}")
    messages = request["messages"]
    if not isinstance(messages, list):
        raise ValueError(f"request.messages must be an array, got {_kind(messages)}")
    for i, raw in enumerate(messages):
        where = f"request.messages[{i}]"
        message = _exact_keys(raw, where, ("content", "role"), ("content", "role"))
        if not isinstance(message["role"], str):
            raise ValueError(f"{where}.role must be a string, got {_kind(message['role'])}")
        if not isinstance(message["content"], list):
            raise ValueError(f"{where}.content must be an array, got {_kind(message['content'])}")
        for j, part in enumerate(message["content"]):
            _check_part(part, f"{where}.content[{j}]")
    replies = entry["replies"]
    if not isinstance(replies, list) or not replies:
        raise ValueError(f"replies must be a non-empty array, got {_kind(replies)}")
    for i, reply in enumerate(replies):
        _check_reply(reply, f"replies[{i}]")
    if request["messages_sha256"] != _messages_sha256(messages):
        raise ValueError("request.messages_sha256 does not match the messages")


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys and no NaN: the text that request keys hash."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages as JSON-ready data, each image replaced by its pixel hash and shape.

    Example:
        >>> canonical_messages([Message.system("be brief")])
        [{'content': [{'text': 'be brief', 'type': 'text'}], 'role': 'system'}]
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        content: list[dict[str, Any]] = []
        for p in m.parts:
            if isinstance(p, str):
                content.append({"text": p, "type": "text"})
            else:
                content.append({"sha256": p.sha256, "shape": list(p.shape), "type": "image"})
        out.append({"content": content, "role": m.role})
    return out


def _messages_sha256(canonical: list[dict[str, Any]]) -> str:
    return _sha256(canonical_json(canonical))


def request_key(model: str, messages: Sequence[Message], params: Mapping[str, Any]) -> str:
    """The replay key of a request.

    Args:
        model: the model's name.
        messages: the conversation.
        params: settings that change the reply (``client.params``).

    Returns:
        sha256 (hex) of the canonical JSON of ``{"messages", "model", "params"}``, with images
        replaced by the sha256 of their pixels.
    """
    return _key(model, canonical_messages(messages), params)


def _key(model: str, canonical: list[dict[str, Any]], params: Mapping[str, Any]) -> str:
    return _sha256(canonical_json({"messages": canonical, "model": model, "params": dict(params)}))


class ReplayStore:
    """Recorded requests and replies in one JSON file.

    The file is read when the store is created (if it exists) and rewritten atomically (a
    temporary file in the same directory, then ``os.replace``) after every recorded reply, so an
    interrupted run keeps what it paid for. Not safe for two processes writing one file at once;
    safe for threads.

    Attributes:
        path: the JSON file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open (or prepare to create) the store at ``path``.

        Raises:
            ReplayStoreError: the file exists but is unreadable, of another format, or holds an
                entry whose key does not match its request.
        """
        self.path = Path(path)
        self._entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        if self.path.exists():
            self._load()

    def __repr__(self) -> str:
        return f"ReplayStore({str(self.path)!r}, {len(self)} request(s))"

    def __len__(self) -> int:
        """Number of distinct requests recorded."""
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def keys(self) -> list[str]:
        """Recorded request keys, sorted."""
        with self._lock:
            return sorted(self._entries)

    def _fail(self, problem: str) -> ReplayStoreError:
        return ReplayStoreError(str(self.path), problem)

    def _load(self) -> None:
        try:
            data = load_json(self.path, label="replay store")
        except FileRefused as err:  # a FIFO, too large, bad JSON, NaN, huge integers, too deep
            raise self._fail(f"cannot read the replay store: {err.problem}; {err.advice}") from None
        if not isinstance(data, dict) or data.get("format") != REPLAY_FORMAT:
            raise self._fail(f'not a {REPLAY_FORMAT} file (no "format": "{REPLAY_FORMAT}")')
        if data.get("version") != REPLAY_VERSION:
            raise self._fail(
                f"replay format version {data.get('version')!r} is not supported (this code "
                f"reads version {REPLAY_VERSION}); re-record"
            )
        entries = data.get("entries")
        if not isinstance(entries, dict):
            raise self._fail('"entries" must be an object')
        for key, entry in entries.items():
            try:
                _check_entry(key, entry)
                request = entry["request"]
                expected = _key(request["model"], request["messages"], request["params"])
            except ValueError as err:
                raise self._fail(
                    f"entry {key[:16]!r}... is malformed: {err}; the file was edited or written "
                    "by another program; re-record it"
                ) from None
            if expected != key:
                raise self._fail(
                    f"entry {key[:16]}... does not match its request (recomputed key "
                    f"{expected[:16]}...): the file was edited by hand or by another version; "
                    "re-record it"
                )
        self._entries = entries

    def replies(self, key: str) -> list[dict[str, Any]]:
        """The recorded replies for ``key``, oldest first (empty when unknown)."""
        with self._lock:
            entry = self._entries.get(key)
            return [dict(r) for r in entry["replies"]] if entry else []

    def request(self, key: str) -> dict[str, Any] | None:
        """The recorded request summary for ``key`` (model, params, messages), or None."""
        with self._lock:
            entry = self._entries.get(key)
            return json.loads(canonical_json(entry["request"])) if entry else None

    def find(
        self,
        messages_sha256: str,
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """Keys whose messages hash matches, filtered by model and params when given; sorted."""
        with self._lock:
            wanted = dict(params) if params is not None else None
            return sorted(
                key
                for key, e in self._entries.items()
                if e["request"]["messages_sha256"] == messages_sha256
                and (model is None or e["request"]["model"] == model)
                and (wanted is None or e["request"]["params"] == wanted)
            )

    def record(
        self,
        model: str,
        messages: Sequence[Message],
        params: Mapping[str, Any],
        completion: Completion,
        *,
        purpose: str,
        occurrence: int = 0,
        save: bool = True,
    ) -> str:
        """Store one reply and (by default) write the file.

        Args:
            model: the model the request named.
            messages: the request's messages.
            params: the request's settings.
            completion: the reply.
            purpose: what the call was for.
            occurrence: 0-based index of this identical request within the recording run; an
                existing reply at that index is replaced (re-recording), else it is appended.
            save: write the file now.

        Returns:
            The request key.
        """
        canonical = canonical_messages(messages)
        key = _key(model, canonical, params)
        reply = {
            "completion_tokens": completion.completion_tokens,
            "cost_usd": completion.cost_usd,
            "finish_reason": completion.finish_reason,
            "model": completion.model,
            "prompt_tokens": completion.prompt_tokens,
            "purpose": purpose,
            "text": completion.text,
        }
        with self._lock:
            entry = self._entries.setdefault(
                key,
                {
                    "replies": [],
                    "request": {
                        "messages": canonical,
                        "messages_sha256": _messages_sha256(canonical),
                        "model": model,
                        "params": dict(params),
                    },
                },
            )
            replies: list[dict[str, Any]] = entry["replies"]
            if occurrence < len(replies):
                replies[occurrence] = reply
            else:
                replies.append(reply)
            if save:
                self.save()
        return key

    def clear(self) -> None:
        """Forget every recording (the file changes on the next save)."""
        with self._lock:
            self._entries = {}

    def dumps(self) -> str:
        """The file's text: sorted keys, one-space indentation, UTF-8, trailing newline."""
        with self._lock:
            data = {"entries": self._entries, "format": REPLAY_FORMAT, "version": REPLAY_VERSION}
            return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"

    def save(self) -> None:
        """Write the file atomically (parents are created)."""
        text = self.dumps()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class RecordingClient:
    """Wraps a client and records every completion it returns into a :class:`ReplayStore`.

    ``model``, ``params`` and ``usage`` are the inner client's. The n-th identical request of
    this client's life is stored as the key's n-th reply (replacing an older recording there).
    """

    def __init__(self, inner: VLMClient, store: ReplayStore) -> None:
        """Record ``inner``'s completions into ``store``."""
        self.inner = inner
        self.store = store
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RecordingClient({self.inner!r}, {self.store!r})"

    @property
    def model(self) -> str:
        """The inner client's model."""
        return self.inner.model

    @property
    def params(self) -> Mapping[str, Any]:
        """The inner client's settings."""
        return self.inner.params

    @property
    def usage(self) -> Usage:
        """The inner client's running totals."""
        return self.inner.usage

    def complete(self, messages: Sequence[Message], *, purpose: str) -> Completion:
        """Ask the inner client, record its reply, return it unchanged."""
        completion = self.inner.complete(messages, purpose=purpose)
        key = request_key(self.model, messages, self.params)
        with self._lock:
            occurrence = self._seen[key]
            self._seen[key] += 1
        self.store.record(
            self.model, messages, self.params, completion, purpose=purpose, occurrence=occurrence
        )
        return completion


class ReplayClient:
    """Answers from a :class:`ReplayStore` only; never calls a model.

    With ``model`` and ``params`` both given, a request must match the recorded model, messages
    and settings exactly. Leave them out to match on the messages alone (the one recording of
    them, whatever model made it).
    """

    def __init__(
        self,
        store: ReplayStore,
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        """Replay from ``store``, optionally only recordings of ``model`` with ``params``."""
        self.store = store
        self._model = model
        self._params = dict(params) if params is not None else None
        self._seen: Counter[str] = Counter()
        self._usage = Usage()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ReplayClient({self.store!r}, model={self._model!r})"

    @property
    def model(self) -> str:
        """The model replayed, or ``replay`` when any recorded model will do."""
        return self._model if self._model is not None else "replay"

    @property
    def params(self) -> Mapping[str, Any]:
        """The settings replayed (empty when any will do)."""
        return dict(self._params or {})

    @property
    def usage(self) -> Usage:
        """Running totals (replayed calls count as cached: no tokens, no dollars)."""
        return self._usage

    def _describe(self, key: str) -> str:
        request = self.store.request(key) or {}
        params = ", ".join(f"{k}={v}" for k, v in sorted(dict(request.get("params", {})).items()))
        return f"{request.get('model')} ({params or 'no params'})"

    def _lookup(self, messages: Sequence[Message], purpose: str) -> str:
        canonical = canonical_messages(messages)
        messages_key = _messages_sha256(canonical)
        if self._model is not None and self._params is not None:
            key = _key(self._model, canonical, self._params)
            if key in self.store:
                return key
        else:
            key = messages_key
            found = self.store.find(messages_key, model=self._model, params=self._params)
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise ReplayMiss(
                    key,
                    str(self.store.path),
                    model=self._model,
                    purpose=purpose,
                    candidates=tuple(self._describe(k) for k in found),
                    ambiguous=True,
                )
        others = self.store.find(messages_key)
        raise ReplayMiss(
            key,
            str(self.store.path),
            model=self._model,
            purpose=purpose,
            candidates=tuple(self._describe(k) for k in others),
        )

    def complete(self, messages: Sequence[Message], *, purpose: str) -> Completion:
        """Return the recorded reply to ``messages``.

        Raises:
            ReplayMiss: nothing recorded for this request, or fewer identical requests were
                recorded than this run makes.
        """
        start = time.perf_counter()
        key = self._lookup(messages, purpose)
        with self._lock:
            occurrence = self._seen[key]
            self._seen[key] += 1
        replies = self.store.replies(key)
        if occurrence >= len(replies):
            raise ReplayMiss(
                key,
                str(self.store.path),
                model=self._model,
                purpose=purpose,
                occurrence=occurrence,
                recorded=len(replies),
            )
        r = replies[occurrence]
        completion = Completion(
            text=str(r["text"]),
            model=str(r.get("model") or self.model),
            prompt_tokens=int(r.get("prompt_tokens") or 0),
            completion_tokens=int(r.get("completion_tokens") or 0),
            cost_usd=float(r.get("cost_usd") or 0.0),
            seconds=time.perf_counter() - start,
            cached=True,
            finish_reason=r.get("finish_reason"),
        )
        self._usage.add(completion)
        return completion
