"""shared.agents.llm.client: the real openai client against the stand-in, and the Blob cache."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from azure.storage.blob import ContainerClient

from devhost.azurite import Azurite
from shared.agents.llm.cache import ResponseCache
from shared.agents.llm.client import LlmClient, Message, model_client, reset_llm_clients
from shared.agents.llm.schemas import DecisionDraft, QuantNoteDraft
from shared.errors import ConfigurationError, LlmFailed
from shared.settings import Settings
from shared.store.clients import reset_storage_clients
from tests.standins.openai_server import OpenAIStandIn, Reply, openai_standin, standin_settings

MESSAGES: list[Message] = [
    {"role": "system", "content": "You are a test."},
    {"role": "user", "content": "Say something about [price]."},
]
NOTE = QuantNoteDraft(text="Price is $187.42 [price].", red_flags=[], cited_metrics=["price"])


@pytest.fixture
def standin() -> Iterator[OpenAIStandIn]:
    reset_llm_clients()
    with openai_standin() as server:
        yield server
    reset_llm_clients()


def client_for(server: OpenAIStandIn, **overrides: Any) -> LlmClient:
    return LlmClient(standin_settings(server, **overrides))


def test_happy_path_parses_the_structured_output_and_reports_usage(
    standin: OpenAIStandIn,
) -> None:
    standin.script(Reply.json(NOTE))

    parsed, usage = client_for(standin).complete_structured(
        MESSAGES, QuantNoteDraft, purpose="quant_note"
    )

    assert parsed == NOTE
    assert usage.llm_calls == 1 and not usage.cached
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        standin.prompt_tokens,
        standin.completion_tokens,
    )
    assert usage.billed().llm_calls == 1
    body = standin.requests[0].body
    assert standin.requests[0].path == "/v1/chat/completions"
    assert body["model"] == "gpt-standin"
    assert body["messages"] == MESSAGES
    assert body["max_completion_tokens"] == 800
    assert body["temperature"] == 0.0
    schema = body["response_format"]
    assert schema["type"] == "json_schema"
    assert schema["json_schema"]["strict"] is True
    assert schema["json_schema"]["name"] == "QuantNoteDraft"
    assert schema["json_schema"]["schema"]["additionalProperties"] is False


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply.text("{not json"), id="not-json"),
        pytest.param(Reply.json({"text": "x", "red_flags": []}), id="missing-field"),
        pytest.param(Reply.json({"verdict": "strong buy"}), id="wrong-schema"),
        pytest.param(Reply(content=None, refusal="I can't help with that."), id="refusal"),
        pytest.param(Reply(content='{"text": "cut', finish_reason="length"), id="truncated"),
        pytest.param(Reply(content=None, finish_reason="content_filter"), id="filtered"),
        pytest.param(Reply(content=None), id="empty"),
    ],
)
def test_malformed_refused_or_cut_output_is_llm_failed(
    standin: OpenAIStandIn, reply: Reply
) -> None:
    standin.script(reply)
    with pytest.raises(LlmFailed) as failure:
        client_for(standin).complete_structured(MESSAGES, QuantNoteDraft, purpose="quant_note")
    assert failure.value.code == "llm_failed"
    assert len(standin.requests) == 1


def test_strict_verdict_outside_the_enum_is_llm_failed(standin: OpenAIStandIn) -> None:
    draft = {
        "verdict": "strong buy", "confidence": 0.5, "thesis": "t", "risks": [],
        "cited_metrics": [], "cited_articles": [],
    }
    standin.script(Reply.json(draft))
    with pytest.raises(LlmFailed, match="does not match DecisionDraft"):
        client_for(standin).complete_structured(MESSAGES, DecisionDraft, purpose="decision")


@pytest.mark.parametrize(
    ("status", "cause", "message"),
    [
        (429, openai.RateLimitError, "rate limited"),
        (500, openai.InternalServerError, "HTTP 500"),
        (503, openai.InternalServerError, "HTTP 503"),
        (400, openai.BadRequestError, "HTTP 400"),
    ],
)
def test_http_errors_are_llm_failed_without_client_retries(
    standin: OpenAIStandIn, status: int, cause: type[Exception], message: str
) -> None:
    standin.script(Reply.status_code(status))
    with pytest.raises(LlmFailed, match=message) as failure:
        client_for(standin).complete_structured(MESSAGES, QuantNoteDraft, purpose="quant_note")
    assert isinstance(failure.value.__cause__, cause)
    time.sleep(0.2)  # a client retry, if there were one, would arrive now
    assert len(standin.requests) == 1, "client retries must be off: Durable owns retries"


def test_timeout_is_llm_failed_after_one_request(standin: OpenAIStandIn) -> None:
    standin.script(Reply.json(NOTE, delay=5))
    client = client_for(standin, LLM_TIMEOUT_SECONDS=0.3)
    started = time.monotonic()
    with pytest.raises(LlmFailed, match="no answer within 0.3s") as failure:
        client.complete_structured(MESSAGES, QuantNoteDraft, purpose="quant_note")
    assert time.monotonic() - started < 3
    assert isinstance(failure.value.__cause__, openai.APITimeoutError)
    assert len(standin.requests) == 1


def test_connection_refused_is_llm_failed(standin: OpenAIStandIn) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens
    client = client_for(standin, OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(LlmFailed, match="could not reach") as failure:
        client.complete_structured(MESSAGES, QuantNoteDraft, purpose="quant_note")
    assert isinstance(failure.value.__cause__, openai.APIConnectionError)


def test_azure_openai_calls_the_deployment_with_the_api_key_header(
    standin: OpenAIStandIn,
) -> None:
    standin.script(Reply.json(NOTE))
    client = LlmClient(standin_settings(standin, provider="azure_openai"))

    parsed, _ = client.complete_structured(MESSAGES, QuantNoteDraft, purpose="quant_note")

    assert parsed == NOTE
    assert client.model == "memo-deployment"
    request = standin.requests[0]
    assert request.path == "/openai/deployments/memo-deployment/chat/completions"
    assert request.query["api-version"] == ["2024-10-21"]
    assert request.headers["api-key"] == standin.api_key
    assert "authorization" not in request.headers


def test_azure_openai_without_a_key_uses_entra_id(standin: OpenAIStandIn) -> None:
    settings = standin_settings(standin, provider="azure_openai", AZURE_OPENAI_API_KEY=None)
    client = model_client(settings)  # builds only: no token is requested until a call
    assert isinstance(client, openai.AzureOpenAI)
    assert model_client(settings) is client, "one client per process and configuration"


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({"OPENAI_API_KEY": None}, "OPENAI_API_KEY"),
        ({"LLM_PROVIDER": "azure_openai", "AZURE_OPENAI_ENDPOINT": None}, "AZURE_OPENAI_ENDPOINT"),
        ({"LLM_PROVIDER": "offline"}, "offline"),
    ],
)
def test_missing_configuration_is_a_configuration_error(
    standin: OpenAIStandIn, overrides: dict[str, Any], missing: str
) -> None:
    with pytest.raises(ConfigurationError, match=missing):
        client_for(standin, **overrides)


def test_logs_carry_neither_the_key_nor_the_prompt(
    standin: OpenAIStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    standin.script(Reply.json(NOTE), Reply.status_code(500))
    client = client_for(standin)
    with caplog.at_level(logging.DEBUG):
        client.complete_structured(MESSAGES, QuantNoteDraft, purpose="quant_note")
        with pytest.raises(LlmFailed) as failure:
            client.complete_structured(MESSAGES, QuantNoteDraft, purpose="quant_note")
    text = caplog.text + str(failure.value)
    assert standin.api_key not in text
    assert "Say something about" not in text


# -- the response cache (Azurite) -------------------------------------------------------------


@pytest.fixture
def cached_settings(
    standin: OpenAIStandIn, azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    from shared.settings import reset_settings

    reset_settings()
    reset_storage_clients()
    # A fresh model name per test: the cache container outlives the test.
    yield standin_settings(standin, OPENAI_MODEL=f"gpt-standin-{uuid.uuid4().hex[:8]}")
    reset_settings()
    reset_storage_clients()


def test_the_same_request_twice_makes_one_call(
    standin: OpenAIStandIn, cached_settings: Settings
) -> None:
    standin.script(Reply.json(NOTE))
    first_client = LlmClient(cached_settings, cache=ResponseCache())
    first, first_usage = first_client.complete_structured(
        MESSAGES, QuantNoteDraft, purpose="quant_note"
    )
    # A new client, as a re-run activity in another worker would build: the cache is in Blob.
    again, again_usage = LlmClient(cached_settings, cache=ResponseCache()).complete_structured(
        MESSAGES, QuantNoteDraft, purpose="quant_note"
    )

    assert standin.calls == 1
    assert again == first == NOTE
    assert again_usage.cached and not first_usage.cached
    assert again_usage.prompt_tokens == first_usage.prompt_tokens  # the original call's usage
    assert again_usage.billed().llm_calls == 0 and again_usage.billed().prompt_tokens == 0


def test_a_different_request_is_not_a_cache_hit(
    standin: OpenAIStandIn, cached_settings: Settings
) -> None:
    standin.script(Reply.json(NOTE), Reply.json(NOTE))
    client = LlmClient(cached_settings, cache=ResponseCache())
    client.complete_structured(MESSAGES, QuantNoteDraft, purpose="quant_note")
    other = [*MESSAGES[:1], {"role": "user", "content": "Something else."}]
    client.complete_structured(other, QuantNoteDraft, purpose="quant_note")
    assert standin.calls == 2


def test_an_unreachable_cache_is_logged_not_fatal(
    standin: OpenAIStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = ContainerClient.from_container_url(
        f"http://127.0.0.1:{port}/devstoreaccount1/cache", retry_total=0
    )
    standin.script(Reply.json(NOTE))
    with caplog.at_level(logging.WARNING, logger="shared.agents.llm.cache"):
        parsed, usage = LlmClient(
            standin_settings(standin), cache=ResponseCache(dead)
        ).complete_structured(MESSAGES, QuantNoteDraft, purpose="quant_note")
    assert parsed == NOTE and not usage.cached
    assert "read of" in caplog.text and "write of" in caplog.text
