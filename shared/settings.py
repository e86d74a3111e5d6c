"""All settings in one place, read from the environment (app settings in Azure).

Read through `get_settings()` inside handlers, never at import time. Secrets are SecretStr and
have no defaults.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPORTS_CONTAINER = "reports"
CACHE_CONTAINER = "cache"
PRICES_CONTAINER = "prices"  # the point-in-time price store (shared/store/prices.py)
ANALYSES_TABLE = "analyses"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    # Storage: a connection string locally, identity-based service URIs in Azure.
    storage_connection_string: str | None = Field(
        default=None, validation_alias=AliasChoices("AzureWebJobsStorage")
    )
    storage_account_name: str | None = Field(
        default=None, validation_alias=AliasChoices("AzureWebJobsStorage__accountName")
    )
    blob_service_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("AzureWebJobsStorage__blobServiceUri")
    )
    table_service_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("AzureWebJobsStorage__tableServiceUri")
    )
    storage_client_id: str | None = Field(
        default=None, validation_alias=AliasChoices("AzureWebJobsStorage__clientId")
    )

    market_data_provider: Literal["yfinance", "simulated", "history"] = Field(
        default="simulated", validation_alias="MARKET_DATA_PROVIDER"
    )
    news_provider: Literal["firecrawl", "yfinance", "none"] = Field(
        default="none", validation_alias="NEWS_PROVIDER"
    )
    llm_provider: Literal["openai", "azure_openai", "offline"] = Field(
        default="offline", validation_alias="LLM_PROVIDER"
    )
    simulated_latency_ms: int = Field(default=0, ge=0, validation_alias="SIMULATED_LATENCY_MS")

    job_deadline_seconds: int = Field(default=600, ge=1, validation_alias="JOB_DEADLINE_SECONDS")
    activity_max_attempts: int = Field(default=3, ge=1, validation_alias="ACTIVITY_MAX_ATTEMPTS")
    activity_retry_first_ms: int = Field(
        default=2000, ge=1, validation_alias="ACTIVITY_RETRY_FIRST_MS"
    )
    expose_durable_management_urls: bool = Field(
        default=False, validation_alias="EXPOSE_DURABLE_MANAGEMENT_URLS"
    )

    # Callers and limits.
    auth_mode: Literal["none", "easyauth"] = Field(default="none", validation_alias="AUTH_MODE")
    analyses_per_hour: int = Field(default=60, ge=1, validation_alias="ANALYSES_PER_HOUR")
    max_body_bytes: int = Field(default=4096, ge=64, validation_alias="MAX_BODY_BYTES")
    llm_token_budget: int = Field(default=20000, ge=1, validation_alias="LLM_TOKEN_BUDGET")
    sas_ttl_seconds: int = Field(default=900, ge=1, le=900, validation_alias="SAS_TTL_SECONDS")
    admin_key: SecretStr | None = Field(default=None, validation_alias="STATS_ADMIN_KEY")

    # Batches: how many tickers one may hold (one admission transaction holds them all, so
    # at most 96), and how many of its children run at once.
    batch_max_tickers: int = Field(default=25, ge=2, le=96, validation_alias="BATCH_MAX_TICKERS")
    batch_concurrency: int = Field(default=5, ge=1, validation_alias="BATCH_CONCURRENCY")

    # Watchlists: the shortest schedule interval accepted, and webhook delivery (plain-http
    # loopback receivers only for local use and tests).
    watchlist_min_interval_seconds: int = Field(
        default=3600, ge=1, validation_alias="WATCHLIST_MIN_INTERVAL_SECONDS"
    )
    webhook_allow_loopback_http: bool = Field(
        default=False, validation_alias="WEBHOOK_ALLOW_LOOPBACK_HTTP"
    )
    webhook_timeout_seconds: float = Field(
        default=10, gt=0, le=60, validation_alias="WEBHOOK_TIMEOUT_SECONDS"
    )
    webhook_attempts: int = Field(default=3, ge=1, le=10, validation_alias="WEBHOOK_ATTEMPTS")
    webhook_backoff_seconds: float = Field(
        default=2, ge=0, le=60, validation_alias="WEBHOOK_BACKOFF_SECONDS"
    )

    # Retention.
    retention_days: int = Field(default=90, ge=1, validation_alias="RETENTION_DAYS")

    # Live market data and news.
    benchmark_cache_seconds: int = Field(
        default=900, ge=0, validation_alias="BENCHMARK_CACHE_SECONDS"
    )
    market_data_timeout_seconds: float = Field(
        default=20, gt=0, validation_alias="MARKET_DATA_TIMEOUT_SECONDS"
    )
    firecrawl_api_key: SecretStr | None = Field(default=None, validation_alias="FIRECRAWL_API_KEY")
    firecrawl_api_url: str | None = Field(default=None, validation_alias="FIRECRAWL_API_URL")
    news_max_articles: int = Field(default=5, ge=1, le=10, validation_alias="NEWS_MAX_ARTICLES")
    news_article_max_chars: int = Field(
        default=1500, ge=200, le=5000, validation_alias="NEWS_ARTICLE_MAX_CHARS"
    )
    news_timeout_seconds: float = Field(default=30, gt=0, validation_alias="NEWS_TIMEOUT_SECONDS")

    # The language model (two calls a memo).
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    openai_model: str = Field(default="gpt-4o-mini", validation_alias="OPENAI_MODEL")
    azure_openai_endpoint: str | None = Field(
        default=None, validation_alias="AZURE_OPENAI_ENDPOINT"
    )
    azure_openai_deployment: str | None = Field(
        default=None, validation_alias="AZURE_OPENAI_DEPLOYMENT"
    )
    azure_openai_api_key: SecretStr | None = Field(
        default=None, validation_alias="AZURE_OPENAI_API_KEY"
    )
    openai_api_version: str = Field(default="2024-10-21", validation_alias="OPENAI_API_VERSION")
    llm_timeout_seconds: float = Field(default=60, gt=0, validation_alias="LLM_TIMEOUT_SECONDS")
    llm_max_tokens: int = Field(default=1200, ge=64, validation_alias="LLM_MAX_TOKENS")
    llm_temperature: float = Field(default=0.0, ge=0, le=2, validation_alias="LLM_TEMPERATURE")
    # The model's training cutoff (YYYY-MM-DD): the track record flags memos a model wrote as
    # of a date before it, since the model may remember what happened next. Unset: no flag.
    llm_training_cutoff: date | None = Field(default=None, validation_alias="LLM_TRAINING_CUTOFF")

    @property
    def uses_identity_storage(self) -> bool:
        return not self.storage_connection_string and bool(
            self.storage_account_name or self.blob_service_uri or self.table_service_uri
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests that change the environment call this)."""
    get_settings.cache_clear()
