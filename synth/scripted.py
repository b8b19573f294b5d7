"""A scripted stand-in for a vision-language model, for tests and the offline demo.

Provides:
    ScriptedClient: returns pre-written replies in order (or per purpose) and keeps every prompt
        it was sent, so tests can assert what the pipeline asked (e.g. that feedback was sent).
    ScriptedCall: one call the scripted client received.
    Reply: a scripted reply: a text, or a function of the messages that returns one.

**This is not a model.** It never looks at the images; it answers what its script says. Runs that
use it show that the pipeline works end to end, not that any VLM can write these checkers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from synth.errors import ScriptExhausted
from synth.vlm import Completion, Message, Usage

__all__ = ["Reply", "ScriptedCall", "ScriptedClient"]

#: A scripted reply: the text itself, or a function of the messages that returns it.
Reply = str | Callable[[Sequence[Message]], str]


@dataclass(frozen=True)
class ScriptedCall:
    """One call a :class:`ScriptedClient` received.

    Attributes:
        purpose: the call's purpose label.
        messages: the messages sent.
        reply: the text returned.
    """

    purpose: str
    messages: tuple[Message, ...]
    reply: str

    @property
    def text(self) -> str:
        """All text parts of all messages, joined by blank lines."""
        return "\n\n".join(m.text for m in self.messages if m.text)


class ScriptedClient:
    """A stand-in VLM for tests and the offline demo: it replays a script, it does not look.

    Replies come in order from one list, or, given a mapping ``purpose -> list``, in order per
    purpose; a purpose matches its own key first, then the part before a candidate's ``#K``, then
    the part before the first ``:`` (so ``{"checker": [...]}`` serves ``checker:key_picked``, and
    ``checker:key_picked`` serves ``checker:key_picked#2`` too). Concurrent candidates
    (``--candidates N``) take from a shared list in whatever order their calls arrive: script
    ``checker:NAME#K`` per candidate when the assignment matters. Callables in the script are called with
    the messages. Running out raises :class:`~synth.errors.ScriptExhausted`.

    Completions report zero tokens and zero cost and are marked ``cached=True`` (no model was
    called).

    Attributes:
        calls: every call received, in order.
    """

    def __init__(
        self,
        responses: Sequence[Reply] | Mapping[str, Sequence[Reply]],
        *,
        model: str = "scripted",
    ) -> None:
        """Script the replies.

        Args:
            responses: replies in order, or a mapping from purpose to replies in order.
            model: the name reported as the completions' model.
        """
        if isinstance(responses, str):
            raise TypeError("responses must be a sequence of replies, not one string")
        self._by_purpose: dict[str, list[Reply]] | None
        self._queue: list[Reply]
        if isinstance(responses, Mapping):
            self._by_purpose = {str(k): list(v) for k, v in responses.items()}
            self._queue = []
        else:
            self._by_purpose = None
            self._queue = list(responses)
        self._used: dict[str, int] = {}
        self._model = model
        self._usage = Usage()
        self._lock = threading.Lock()
        self.calls: list[ScriptedCall] = []

    def __repr__(self) -> str:
        return f"ScriptedClient(model={self._model!r}, {self.remaining} reply(ies) left)"

    @property
    def model(self) -> str:
        """The reported model name."""
        return self._model

    @property
    def params(self) -> Mapping[str, Any]:
        """No settings: a script's replies do not depend on any."""
        return {}

    @property
    def usage(self) -> Usage:
        """Running totals (every call counts as cached: no tokens, no dollars)."""
        return self._usage

    @property
    def remaining(self) -> int:
        """Replies not yet handed out."""
        with self._lock:
            if self._by_purpose is None:
                return len(self._queue)
            return sum(len(v) for v in self._by_purpose.values())

    def prompts(self, purpose: str | None = None) -> list[str]:
        """The text of every call received (only those whose purpose starts with ``purpose``)."""
        return [c.text for c in self.calls if purpose is None or c.purpose.startswith(purpose)]

    def _take(self, purpose: str) -> Reply:
        with self._lock:
            if self._by_purpose is None:
                slot, queue = "", self._queue
            else:
                slot = next(
                    (
                        s
                        for s in (purpose, purpose.split("#", 1)[0], purpose.split(":", 1)[0])
                        if s in self._by_purpose
                    ),
                    purpose,
                )
                if slot not in self._by_purpose:
                    raise ScriptExhausted(purpose, 0, tuple(sorted(self._by_purpose)))
                queue = self._by_purpose[slot]
            if not queue:
                known = tuple(sorted(self._by_purpose)) if self._by_purpose is not None else ()
                raise ScriptExhausted(purpose, self._used.get(slot, 0), known)
            self._used[slot] = self._used.get(slot, 0) + 1
            return queue.pop(0)

    def complete(self, messages: Sequence[Message], *, purpose: str) -> Completion:
        """Return the next scripted reply and remember the call.

        Raises:
            ScriptExhausted: the script (or this purpose's script) has no reply left.
        """
        start = time.perf_counter()
        reply = self._take(purpose)
        text = reply if isinstance(reply, str) else str(reply(tuple(messages)))
        with self._lock:
            self.calls.append(ScriptedCall(purpose, tuple(messages), text))
        completion = Completion(
            text=text,
            model=self._model,
            prompt_tokens=0,
            completion_tokens=0,
            cost_usd=0.0,
            seconds=time.perf_counter() - start,
            cached=True,
            finish_reason="stop",
        )
        self._usage.add(completion)
        return completion
