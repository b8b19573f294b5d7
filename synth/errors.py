"""Exception types raised by :mod:`synth`.

Provides:
    SynthError: base class of every error this package raises on purpose.
    VLMError: a model call failed (after retries, or at once for a non-transient error).
    CredentialsError: a model's provider needs settings (an API key) the environment lacks.
    ReplayMiss: a replay client has no recording for a request.
    ReplayStoreError: a replay store file is unreadable, of another format, or inconsistent.
    ScriptExhausted: a scripted (stand-in) client ran out of replies.
    ReplyError: the model answered, but its reply cannot be used (no code, bad JSON, ...).
    ReplyProblem: the kinds of unusable reply, as a ``Literal``.
    excerpt: bound a piece of text for an error message.

Every exception keeps its facts as attributes and builds its text in ``__str__``: what went wrong,
where, and what to do about it. No caller ever parses a message.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "EXCERPT_CHARS",
    "CredentialsError",
    "ReplayMiss",
    "ReplayStoreError",
    "ReplyError",
    "ReplyProblem",
    "ScriptExhausted",
    "SynthError",
    "UnknownModelError",
    "VLMError",
    "excerpt",
]

#: Longest excerpt of a model reply (or of an error) quoted in a message.
EXCERPT_CHARS = 300


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Bound ``text`` to about ``limit`` characters, keeping its start and its end.

    Args:
        text: any text.
        limit: the largest length of the result (at least 40).

    Returns:
        ``text`` itself when short enough, else its head and tail around a marker saying how many
        characters were left out.

    Example:
        >>> excerpt("short")
        'short'
        >>> len(excerpt("x" * 10_000)) <= 300
        True
    """
    limit = max(limit, 40)
    if len(text) <= limit:
        return text
    marker = f" [... {len(text)} chars in all ...] "
    room = limit - len(marker)
    head = (room * 2) // 3
    tail = room - head
    return text[:head] + marker + (text[-tail:] if tail > 0 else "")


class SynthError(Exception):
    """Base class of every error raised on purpose by :mod:`synth`."""


class VLMError(SynthError):
    """A model call failed: every attempt raised, or the error was not worth retrying.

    Attributes:
        model: the model that was called (litellm name, e.g. ``gpt-4o``).
        attempts: how many calls were made.
        last_error: the last exception (or its text).
        purpose: what the call was for (``decompose``, ``checker:key_picked`` ...).
        transient: whether the last error was of a kind that is retried (rate limit, timeout,
            connection, 5xx); False means retrying would not help (bad request, authentication).
    """

    def __init__(
        self,
        model: str,
        attempts: int,
        last_error: BaseException | str,
        *,
        purpose: str = "",
        transient: bool = True,
    ) -> None:
        super().__init__(model, attempts, str(last_error))
        self.model = model
        self.attempts = attempts
        self.last_error = last_error
        self.purpose = purpose
        self.transient = transient

    def __str__(self) -> str:
        err = self.last_error
        kind = type(err).__name__ if isinstance(err, BaseException) else "error"
        what = f" for {self.purpose!r}" if self.purpose else ""
        if self.transient:
            advice = (
                "the error looks transient (rate limit, timeout, connection, server): retry later, "
                "raise retries/timeout, or replay a recorded run (ReplayClient) to work offline"
            )
        else:
            advice = (
                "retrying will not help: check the model name, the provider's API key in the "
                "environment (e.g. OPENAI_API_KEY), the request size and the model's support for "
                "images"
            )
        return (
            f"VLM call to {self.model!r}{what} failed after {self.attempts} attempt(s): "
            f"{kind}: {excerpt(str(err))}; {advice}"
        )


class UnknownModelError(SynthError):
    """A model name litellm cannot route to any provider (``gpt-4oo``): refused before any work.

    Example:
        >>> str(UnknownModelError("gpt-4oo")).split(";")[0]
        "model 'gpt-4oo' names no provider litellm knows"
    """

    def __init__(self, model: str) -> None:
        super().__init__(model)
        self.model = model

    def __str__(self) -> str:
        return (
            f"model {self.model!r} names no provider litellm knows; write provider/model, e.g. "
            "openai/gpt-4o, anthropic/claude-3-5-sonnet-20240620 or ollama/llava "
            "(https://docs.litellm.ai/docs/providers)"
        )


class CredentialsError(SynthError):
    """A model cannot be called: its provider needs environment variables that are not set.

    Found before the first call (``litellm.validate_environment``), so nothing is retried and no
    work is done first. Retrying cannot fix it; setting the variables (or ``api_base``) does.

    Attributes:
        model: the litellm model name.
        missing: the environment variables the provider needs and that are unset or empty.

    Example:
        >>> str(CredentialsError("openai/gpt-4o", ("OPENAI_API_KEY",))).split(";")[0]
        "model 'openai/gpt-4o' needs OPENAI_API_KEY in the environment, and it is not set"
    """

    def __init__(self, model: str, missing: tuple[str, ...]) -> None:
        super().__init__(model, missing)
        self.model = model
        self.missing = missing

    def __str__(self) -> str:
        names = " and ".join(self.missing)
        verb = "it is" if len(self.missing) == 1 else "they are"
        return (
            f"model {self.model!r} needs {names} in the environment, and {verb} not set; "
            f"export {self.missing[0]}=... (from Python, api_base= reaches a local "
            "OpenAI-compatible server instead), or work offline with --replay FILE or "
            "--script FILE"
        )


class ReplayMiss(SynthError):
    """A replay client was asked for a request that the store has no recording of.

    Attributes:
        key: the request key (sha256 of model, messages with image hashes, and params), or the
            messages' hash when replaying without a model.
        store: the path of the replay store.
        model: the model named in the request (or ``None`` when replaying for any model).
        purpose: what the call was for.
        occurrence: 0-based index of this identical request within the replay session.
        recorded: how many replies the store holds for this key (0 when the key is unknown).
        candidates: recordings (model and settings) whose messages match this request.
        ambiguous: True when several recordings match and none was chosen.
    """

    def __init__(
        self,
        key: str,
        store: str,
        *,
        model: str | None = None,
        purpose: str = "",
        occurrence: int = 0,
        recorded: int = 0,
        candidates: tuple[str, ...] = (),
        ambiguous: bool = False,
    ) -> None:
        super().__init__(key, store)
        self.key = key
        self.store = store
        self.model = model
        self.purpose = purpose
        self.occurrence = occurrence
        self.recorded = recorded
        self.candidates = candidates
        self.ambiguous = ambiguous

    def __str__(self) -> str:
        what = f" for {self.purpose!r}" if self.purpose else ""
        model = f" (model {self.model!r})" if self.model else ""
        head = f"{self.store}: no recorded reply{what}{model}, request key {self.key[:16]}...: "
        listed = "; ".join(self.candidates[:5]) + (" ..." if len(self.candidates) > 5 else "")
        if self.recorded:
            why = (
                f"the store holds {self.recorded} reply(ies) to this exact request but this is "
                f"request #{self.occurrence + 1} of it in this run (the run asks more often "
                "than the recorded run did)"
            )
        elif self.ambiguous:
            why = (
                f"{len(self.candidates)} recordings match these messages ({listed}); "
                "pass model= and params= to ReplayClient to choose one"
            )
        elif self.candidates:
            why = (
                f"these messages were recorded, but only as {listed}; replay with that model "
                "and those settings"
            )
        else:
            why = (
                "nothing with these messages was recorded: the run's settings, the prompt, the "
                "frames or their order differ from the recorded run. Settings come first: the "
                "feedback sent back to the model quotes them (e.g. 'answered True on all 60 "
                "diverse frames'), so replay with the settings the recording was made with "
                "(--fuzz-examples, --expert, --random, --random-length, --seed, --rounds; "
                "`vlmcar synth`'s defaults are those of the demo recording). A changed prompt "
                "template or environment render also changes the key"
            )
        return (
            f"{head}{why}. To fix: re-record with a real model (RecordingClient around "
            "LiteLLMClient), or use the ScriptedClient stand-in for an offline run."
        )


class ScriptExhausted(SynthError):
    """A :class:`~synth.scripted.ScriptedClient` was asked for more replies than it was given.

    Attributes:
        purpose: the purpose of the call that found no reply.
        used: how many replies that script (or that purpose's script) had handed out.
        known: the purposes the script has replies for (empty for a plain sequence script).
    """

    def __init__(self, purpose: str, used: int, known: tuple[str, ...] = ()) -> None:
        super().__init__(purpose, used)
        self.purpose = purpose
        self.used = used
        self.known = known

    def __str__(self) -> str:
        if self.known and self.used == 0:
            return (
                f"scripted client has no replies for purpose {self.purpose!r} (it has replies "
                f"for: {', '.join(self.known)}); add a list for it to the script"
            )
        scope = f" for purpose {self.purpose!r}" if self.known else ""
        return (
            f"scripted client ran out of replies{scope}: all {self.used} were used and call "
            f"{self.used + 1} (purpose {self.purpose!r}) asked for one more; add replies to the "
            "script (this client is a stand-in for tests and the offline demo, not a model)"
        )


#: Kinds of unusable reply.
ReplyProblem = Literal[
    "empty",
    "too_long",
    "prose_only",
    "no_code_block",
    "truncated",
    "syntax_error",
    "missing_entry",
    "wrong_signature",
    "invalid_json",
    "bad_subtasks",
]

_ADVICE: dict[str, str] = {
    "empty": "the model returned nothing; ask again",
    "too_long": "ask for a shorter answer",
    "prose_only": "ask again for exactly one ```python code block",
    "no_code_block": "ask again for exactly one ```python fenced code block",
    "truncated": "the reply was cut off (max_tokens?); raise max_tokens or ask for shorter code",
    "syntax_error": "send the error back to the model and ask for corrected code",
    "missing_entry": "the code must define `def check(frame):` or `def check(frame, first):`",
    "wrong_signature": "use exactly `def check(frame):` or `def check(frame, first):`",
    "invalid_json": 'ask again for strict JSON: {"subtasks": [{"name": ..., "description": ...}]}',
    "bad_subtasks": "ask again with the constraints on names and count stated",
}


class ReplyError(SynthError):
    """The model's reply cannot be used.

    Attributes:
        problem: what kind of problem (see :data:`ReplyProblem`).
        detail: what exactly is wrong, naming lines and names where known.
        excerpt: the offending part of the reply, bounded to about 300 characters.
        line: 1-based line in the extracted code (or the reply) where known, else ``None``.
    """

    def __init__(
        self, problem: ReplyProblem, detail: str, text: str = "", *, line: int | None = None
    ) -> None:
        super().__init__(problem, detail)
        self.problem: ReplyProblem = problem
        self.detail = detail
        self.excerpt = excerpt(text)
        self.line = line

    @property
    def advice(self) -> str:
        """What to do about it, in one line."""
        return _ADVICE[self.problem]

    def feedback(self) -> str:
        """A short text that can be sent back to the model to ask for a better reply."""
        where = f" (line {self.line})" if self.line is not None else ""
        return f"Your previous reply could not be used: {self.detail}{where}."

    def __str__(self) -> str:
        where = f" at line {self.line}" if self.line is not None else ""
        quoted = f"; reply excerpt: {self.excerpt!r}" if self.excerpt else ""
        return f"unusable model reply ({self.problem}){where}: {self.detail}{quoted}; {self.advice}"


class ReplayStoreError(SynthError):
    """A replay store file cannot be read or does not hold what its keys say.

    Attributes:
        path: the store's path.
        problem: what is wrong and what to do.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)
        self.path = path
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"
