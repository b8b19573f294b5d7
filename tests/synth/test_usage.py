"""Token, cost and latency accounting per model call (MeteredClient) and the API-key pre-flight.

LiteLLM answers through its own ``mock_response`` hook (no request leaves the machine), so token
counts and prices are litellm's real ones for the named model.
"""

from __future__ import annotations

import numpy as np
import pytest

from synth.errors import CredentialsError
from synth.replay import RecordingClient, ReplayClient, ReplayStore
from synth.vlm import LiteLLMClient, Message, MeteredClient

MESSAGES = [
    Message.system("be brief"),
    Message.user("what is this?", np.zeros((8, 8, 3), np.uint8)),
]


def test_each_call_is_recorded_with_tokens_cost_and_latency() -> None:
    seen = []
    client = MeteredClient(LiteLLMClient("gpt-4o", mock_response="a square"), on_call=seen.append)
    client.complete(MESSAGES, purpose="decompose")
    client.complete(MESSAGES, purpose="checker:key_picked")
    first, second = client.records
    assert [r.purpose for r in seen] == ["decompose", "checker:key_picked"]
    assert first.index == 1 and second.index == 2
    assert first.prompt_tokens > 0 and first.completion_tokens > 0 and not first.cached
    assert first.cost_usd > 0  # gpt-4o is in litellm's bundled price map
    assert first.seconds >= 0
    totals = client.totals()
    assert totals["calls"] == 2 and totals["cached_calls"] == 0
    assert totals["prompt_tokens"] == first.prompt_tokens + second.prompt_tokens
    assert totals["billed_usd"] == pytest.approx(first.cost_usd + second.cost_usd)
    assert client.usage.calls == 2  # the wrapped client's own totals are kept
    assert "call 1 decompose (gpt-4o):" in first.describe()
    assert "2 model call(s)" in client.describe_totals()


def test_replayed_calls_report_recorded_tokens_and_bill_nothing(tmp_path) -> None:
    store = ReplayStore(tmp_path / "store.json")
    RecordingClient(LiteLLMClient("gpt-4o", mock_response="a square"), store).complete(
        MESSAGES, purpose="decompose"
    )
    client = MeteredClient(ReplayClient(ReplayStore(tmp_path / "store.json")))
    client.complete(MESSAGES, purpose="decompose")
    (record,) = client.records
    assert record.cached and record.prompt_tokens > 0
    totals = client.totals()
    assert totals["billed_usd"] == 0.0 and totals["cost_usd"] > 0
    assert "replayed: not billed" in record.describe()
    # without timings the record is the same on every replay (what the bundle stores)
    again = MeteredClient(ReplayClient(ReplayStore(tmp_path / "store.json")))
    again.complete(MESSAGES, purpose="decompose")
    assert again.to_json(timing=False) == client.to_json(timing=False)
    assert "seconds" not in client.to_json(timing=False)["totals"]


def test_missing_api_key_is_refused_before_any_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    client = LiteLLMClient("openai/gpt-4o", sleep=lambda s: pytest.fail("no retry expected"))
    assert client.missing_credentials() == ("OPENAI_API_KEY",)
    with pytest.raises(CredentialsError, match="needs OPENAI_API_KEY") as caught:
        client.complete(MESSAGES, purpose="decompose")
    assert "transient" not in str(caught.value)
    assert client.usage.attempts == 0  # no call was made, so none was retried


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [
        ("openai/gpt-4o", {"api_base": "http://127.0.0.1:9/v1"}),  # a local endpoint
        ("openai/gpt-4o", {"extra": {"api_key": "sk-test"}}),
        ("ollama/llava", {}),  # needs only an endpoint, which has a local default
    ],
)
def test_no_refusal_when_the_environment_is_not_needed(
    model: str, kwargs: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OLLAMA_API_BASE", raising=False)
    assert LiteLLMClient(model, **kwargs).missing_credentials() == ()  # type: ignore[arg-type]


def test_a_set_key_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    LiteLLMClient("anthropic/claude-3-5-sonnet-20240620").check_credentials()
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(CredentialsError, match="ANTHROPIC_API_KEY"):
        LiteLLMClient("anthropic/claude-3-5-sonnet-20240620").check_credentials()


def test_a_model_name_with_no_provider_is_refused_before_any_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from synth.errors import UnknownModelError
    from vlmcar.cli import exit_code_for

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    client = LiteLLMClient("gpt-4oo", sleep=lambda s: pytest.fail("no retry expected"))
    with pytest.raises(UnknownModelError, match="provider/model") as caught:
        client.complete(MESSAGES, purpose="decompose")
    assert exit_code_for(caught.value) == 2 and client.usage.attempts == 0
    for known in ("gpt-4o", "openai/gpt-4oo"):  # litellm routes both (the second to openai)
        LiteLLMClient(known).check_credentials()
