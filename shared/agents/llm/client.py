"""One model client per process and `complete_structured`, the only way this app calls a model.

    LLM_PROVIDER   client                                      authentication
    openai         openai.OpenAI(base_url=OPENAI_BASE_URL)     OPENAI_API_KEY
    azure_openai   openai.AzureOpenAI(AZURE_OPENAI_ENDPOINT,   AZURE_OPENAI_API_KEY, or without it
                   azure_deployment=AZURE_OPENAI_DEPLOYMENT)   Entra ID (DefaultAzureCredential)

Client retries are off (`max_retries=0`): Durable's retry policy owns retries, so one activity
attempt makes at most one request per model call. Every failure becomes `LlmFailed` with the
cause kept (`raise ... from exc`): 429, 5xx and other HTTP errors, timeouts, connection errors,
truncated, filtered, refused or malformed output. Nothing here logs a key or a prompt.
Each request sent is traced as `chat <model>` (shared.telemetry) with the model and the token
counts the API reported; a cache hit or a refused call sends nothing and has no span.

With a `TokenBudget` (shared.agents.llm.budget), a call that is not answered from the cache is first
estimated and refused with `BudgetExceeded` when it would take the job past LLM_TOKEN_BUDGET;
what it then costs is charged to the budget.

Answers are structured outputs (`response_format` = the strict JSON schema of a pydantic model,
validated by pydantic) and go through the Blob response cache in `shared.agents.llm.cache`.
`max_completion_tokens` carries LLM_MAX_TOKENS: current OpenAI models and Azure OpenAI API
versions from 2024-10-21 take it (the older `max_tokens` is refused by reasoning models).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar, cast

import openai
from pydantic import BaseModel, SecretStr, ValidationError

from shared import telemetry
from shared.agents.llm.budget import TokenBudget, estimate_tokens
from shared.agents.llm.cache import CachedCompletion, ResponseCache, cache_key
from shared.domain.models import Usage
from shared.errors import BudgetExceeded, ConfigurationError, LlmFailed
from shared.settings import Settings

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Message = dict[str, str]

AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"


class CallUsage(Usage):
    """The usage of one structured call; `cached` when the answer came from the cache.

    A cached answer reports the tokens of the call that originally paid for it; `billed()` is
    what this run actually spent (nothing, for a cache hit).
    """

    cached: bool = False

    def billed(self) -> Usage:
        if self.cached:
            return Usage()
        return Usage(
            llm_calls=self.llm_calls,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
        )


def add_usage(*usages: Usage) -> Usage:
    """The sum of `usages` as a plain Usage."""
    return Usage(
        llm_calls=sum(u.llm_calls for u in usages),
        prompt_tokens=sum(u.prompt_tokens for u in usages),
        completion_tokens=sum(u.completion_tokens for u in usages),
    )


@dataclass(frozen=True)
class _ClientConfig:
    """What a model client is built from; hashable, so one client per configuration."""

    provider: str
    api_key: SecretStr | None
    base_url: str | None
    azure_endpoint: str | None
    azure_deployment: str | None
    api_version: str
    timeout: float


def _config(settings: Settings) -> _ClientConfig:
    provider = settings.llm_provider
    key: SecretStr | None
    if provider == "openai":
        if settings.openai_api_key is None:
            raise ConfigurationError("LLM_PROVIDER=openai needs OPENAI_API_KEY")
        key = settings.openai_api_key
    elif provider == "azure_openai":
        if not settings.azure_openai_endpoint or not settings.azure_openai_deployment:
            raise ConfigurationError(
                "LLM_PROVIDER=azure_openai needs AZURE_OPENAI_ENDPOINT and "
                "AZURE_OPENAI_DEPLOYMENT"
            )
        key = settings.azure_openai_api_key  # None: Entra ID through DefaultAzureCredential
    else:
        raise ConfigurationError(f"LLM_PROVIDER={provider} has no model client")
    return _ClientConfig(
        provider=provider,
        api_key=key,
        base_url=settings.openai_base_url if provider == "openai" else None,
        azure_endpoint=settings.azure_openai_endpoint if provider == "azure_openai" else None,
        azure_deployment=(
            settings.azure_openai_deployment if provider == "azure_openai" else None
        ),
        api_version=settings.openai_api_version,
        timeout=settings.llm_timeout_seconds,
    )


@lru_cache(maxsize=1)
def _azure_token_provider() -> Any:
    from azure.identity import DefaultAzureCredential, get_bearer_token_provider

    return get_bearer_token_provider(DefaultAzureCredential(), AZURE_SCOPE)


@lru_cache(maxsize=4)
def _client(config: _ClientConfig) -> openai.OpenAI:
    if config.provider == "openai":
        assert config.api_key is not None
        return openai.OpenAI(
            api_key=config.api_key.get_secret_value(),
            base_url=config.base_url,
            max_retries=0,
            timeout=config.timeout,
        )
    assert config.azure_endpoint is not None
    if config.api_key is not None:
        return openai.AzureOpenAI(
            azure_endpoint=config.azure_endpoint,
            azure_deployment=config.azure_deployment,
            api_version=config.api_version,
            api_key=config.api_key.get_secret_value(),
            max_retries=0,
            timeout=config.timeout,
        )
    return openai.AzureOpenAI(
        azure_endpoint=config.azure_endpoint,
        azure_deployment=config.azure_deployment,
        api_version=config.api_version,
        azure_ad_token_provider=_azure_token_provider(),
        max_retries=0,
        timeout=config.timeout,
    )


def model_client(settings: Settings) -> openai.OpenAI:
    """The process's OpenAI or AzureOpenAI client for these settings (built once, cached)."""
    return _client(_config(settings))


def model_name(settings: Settings) -> str:
    """The model (OpenAI) or deployment (Azure OpenAI) the calls go to; the writer's name."""
    if settings.llm_provider == "azure_openai":
        return settings.azure_openai_deployment or ""
    return settings.openai_model


class LlmClient:
    """Structured calls to the configured model, through the response cache when one is given."""

    def __init__(
        self,
        settings: Settings,
        *,
        cache: ResponseCache | None = None,
        client: openai.OpenAI | None = None,
    ) -> None:
        self.provider = settings.llm_provider
        self.model = model_name(settings)
        self.temperature = settings.llm_temperature
        self.max_tokens = settings.llm_max_tokens
        self.timeout = settings.llm_timeout_seconds
        self.cache = cache
        self._client = client if client is not None else model_client(settings)

    def complete_structured(
        self,
        messages: list[Message],
        schema: type[M],
        *,
        purpose: str,
        budget: TokenBudget | None = None,
    ) -> tuple[M, CallUsage]:
        """The model's answer to `messages`, parsed into `schema`, and the call's usage.

        `purpose` names the call in logs and errors (never the prompt). Raises LlmFailed, and
        BudgetExceeded (before calling) when the call would overrun `budget`.
        """
        json_schema = schema.model_json_schema()
        key = cache_key(
            provider=self.provider,
            model=self.model,
            messages=messages,
            schema=json_schema,
            temperature=self.temperature,
        )
        hit = self._cached(key, schema)
        if hit is not None:
            log.info("llm %s: cache hit %s (%s)", purpose, key[:12], self.model)
            return hit

        if budget is not None:
            estimate = estimate_tokens(messages, self.max_tokens, json_schema)
            try:
                budget.check(estimate, f"{purpose} ({self.model})")
            except BudgetExceeded:
                log.warning(
                    "llm %s: refused, up to %d tokens with %d of %d left",
                    purpose, estimate, budget.remaining, budget.limit,
                )
                raise
        started = time.monotonic()
        with telemetry.llm_span(self.provider, self.model, purpose) as call:
            parsed, usage = self._call(messages, schema, purpose)
            telemetry.record_llm_usage(
                call, self.model, usage.prompt_tokens, usage.completion_tokens
            )
        if budget is not None:
            budget.charge(usage.billed())
        log.info(
            "llm %s: %s answered in %.1fs, %d prompt + %d completion tokens",
            purpose, self.model, time.monotonic() - started,
            usage.prompt_tokens, usage.completion_tokens,
        )
        if self.cache is not None:
            self.cache.put(
                CachedCompletion(
                    key=key,
                    purpose=purpose,
                    model=self.model,
                    output=parsed.model_dump(mode="json"),
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                )
            )
        return parsed, usage

    def _cached(self, key: str, schema: type[M]) -> tuple[M, CallUsage] | None:
        if self.cache is None:
            return None
        entry = self.cache.get(key)
        if entry is None:
            return None
        try:
            parsed = schema.model_validate(entry.output)
        except ValidationError:
            log.warning("llm cache: entry %s no longer fits %s; calling", key, schema.__name__)
            return None
        usage = CallUsage(
            llm_calls=1,
            prompt_tokens=entry.prompt_tokens,
            completion_tokens=entry.completion_tokens,
            cached=True,
        )
        return parsed, usage

    def _call(
        self, messages: list[Message], schema: type[M], purpose: str
    ) -> tuple[M, CallUsage]:
        what = f"{purpose} ({self.model})"
        try:
            completion = self._client.chat.completions.parse(
                model=self.model,
                messages=cast(Any, messages),
                response_format=schema,
                temperature=self.temperature,
                max_completion_tokens=self.max_tokens,
            )
        except openai.APITimeoutError as exc:
            raise LlmFailed(f"{what}: no answer within {self.timeout:g}s") from exc
        except openai.APIConnectionError as exc:
            raise LlmFailed(f"{what}: could not reach the model API") from exc
        except openai.RateLimitError as exc:
            raise LlmFailed(f"{what}: rate limited (HTTP 429)") from exc
        except openai.APIStatusError as exc:
            raise LlmFailed(f"{what}: the model API answered HTTP {exc.status_code}") from exc
        except openai.LengthFinishReasonError as exc:
            raise LlmFailed(f"{what}: output cut off at LLM_MAX_TOKENS={self.max_tokens}") from exc
        except openai.ContentFilterFinishReasonError as exc:
            raise LlmFailed(f"{what}: output stopped by the content filter") from exc
        except ValidationError as exc:
            raise LlmFailed(f"{what}: output does not match {schema.__name__}") from exc
        except openai.OpenAIError as exc:
            raise LlmFailed(f"{what}: {type(exc).__name__}") from exc

        if not completion.choices:
            raise LlmFailed(f"{what}: the answer has no choices")
        message = completion.choices[0].message
        if message.refusal:
            raise LlmFailed(f"{what}: the model refused to answer")
        if message.parsed is None:
            raise LlmFailed(f"{what}: the answer has no content")
        tokens = completion.usage
        usage = CallUsage(
            llm_calls=1,
            prompt_tokens=tokens.prompt_tokens if tokens else 0,
            completion_tokens=tokens.completion_tokens if tokens else 0,
        )
        return message.parsed, usage


def llm_client(settings: Settings) -> LlmClient:
    """The production client: the cached model client and the Blob response cache."""
    return LlmClient(settings, cache=ResponseCache())


def complete_structured[M: BaseModel](
    messages: list[Message],
    schema: type[M],
    *,
    purpose: str,
    settings: Settings,
    budget: TokenBudget | None = None,
) -> tuple[M, CallUsage]:
    """`LlmClient.complete_structured` with the production client for `settings`."""
    return llm_client(settings).complete_structured(
        messages, schema, purpose=purpose, budget=budget
    )


def reset_llm_clients() -> None:
    """Forget cached model clients (tests that change settings call this)."""
    _client.cache_clear()
    _azure_token_provider.cache_clear()
