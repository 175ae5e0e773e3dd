"""Parley's settings: the one module that reads the environment.

Everything else receives a :class:`Settings`. Values come from the process
environment, then from a ``.env`` file in the working directory, then from the
defaults below. A wrong value stops start-up with one line naming the variable::

    >>> load_settings({"PARLEY_MASTER_KEY": "aGVsbG8="}, env_file=None)
    Traceback (most recent call last):
    shared.config.ConfigError: PARLEY_MASTER_KEY: must be base64 of 32 bytes, got 5 bytes
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

LLM_PROVIDERS = ("extractive", "mistral", "openai")
EMBEDDING_PROVIDERS = ("local", "multilingual", "openai", "mistral")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# Every setting: environment variable -> one line of documentation. The README's
# configuration table is checked against this by the test suite.
DOCUMENTED: dict[str, str] = {
    "DATABASE_URL": "PostgreSQL URL; unset = embedded server in <data-dir>/pg",
    "PARLEY_DATA_DIR": "folder for local state (embedded database, files, cache, master key)",
    "PARLEY_MASTER_KEY": "base64 of 32 random bytes wrapping every tenant's data key",
    "PARLEY_PREVIOUS_MASTER_KEYS": "comma-separated earlier master keys, accepted while rotating",
    "PARLEY_ADMIN_USERNAME": "admin user created or updated at start (with the password)",
    "PARLEY_ADMIN_PASSWORD": "that admin's password",
    "PARLEY_DEMO": "seed the demo shop's tenant, bot, FAQs and documents",
    "PARLEY_API_RATE_LIMIT": "requests per minute per secret key or dashboard session",
    "PARLEY_TRUSTED_PROXIES": "reverse proxy addresses/networks whose X-Forwarded-For is used",
    "PARLEY_MAX_BODY_BYTES": "largest JSON request body accepted",
    "PARLEY_MAX_UPLOAD_BYTES": "largest upload or import accepted",
    "PARLEY_LOG_LEVEL": "DEBUG, INFO, WARNING or ERROR",
    "PARLEY_DB_POOL_SIZE": "most PostgreSQL connections one process opens",
    "OPENAI_API_KEY": "key for OpenAI or an OpenAI-compatible endpoint",
    "OPENAI_BASE_URL": "OpenAI-compatible endpoint (OpenRouter, vLLM, Ollama)",
    "MISTRAL_API_KEY": "key for Mistral's API",
    "PARLEY_MISTRAL_BASE_URL": "Mistral-compatible endpoint",
    "PARLEY_LLM": "default provider chain, e.g. mistral,openai",
    "PARLEY_LLM_PRICES": "model prices over the built-in table: model=in/out USD per 1M tokens,…",
    "PARLEY_CURRENCY_RATES": "currency rates over the built-in ones: EUR=0.86,… per US dollar",
    "PARLEY_EMBEDDINGS": "embedding provider: local, multilingual (German...), openai or mistral",
    "PARLEY_LOCAL_RUNTIME": "what runs the local model: onnx (default), or torch (same vectors)",
    "PARLEY_MODEL_DIR": "where the local model's ONNX file is kept; unset = <data-dir>/models",
    "PARLEY_S3_BUCKET": "bucket for documents and archives; unset = <data-dir>/files",
    "PARLEY_S3_ENDPOINT_URL": "S3-compatible endpoint (MinIO, Hetzner)",
    "PARLEY_S3_REGION": "the bucket's region",
    "AWS_ACCESS_KEY_ID": "S3 access key (boto3's own name)",
    "AWS_SECRET_ACCESS_KEY": "S3 secret key (boto3's own name)",
    "PARLEY_INGEST_SECRET": "shared secret of the S3 event webhook",
    "PARLEY_SSM_PREFIX": "AWS Parameter Store path whose parameters fill unset settings (Lambda)",
    "PARLEY_SMTP_HOST": "SMTP server for handoff e-mails (a visitor waits for a person)",
    "PARLEY_SMTP_PORT": "its port",
    "PARLEY_SMTP_USERNAME": "its login",
    "PARLEY_SMTP_PASSWORD": "its password",
    "PARLEY_SMTP_FROM": "the sender of those e-mails",
    "PARLEY_SMTP_STARTTLS": "upgrade the SMTP connection with STARTTLS",
    "PARLEY_DASHBOARD_URL": "the dashboard's address, linked from handoff notifications",
    "PARLEY_WEBHOOKS_ALLOW_PRIVATE": "let handoff webhooks reach private and loopback addresses",
}


def _comma_list(value: Any) -> tuple[str, ...]:
    """A comma-separated setting (or a list) as its non-empty, stripped items."""
    if value in (None, ""):
        return ()
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


class Settings(BaseModel):
    """Typed, validated, immutable settings. Build with :func:`load_settings`."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    database_url: SecretStr | None = Field(None, alias="DATABASE_URL")
    data_dir: Path = Field(Path(".parley"), alias="PARLEY_DATA_DIR")
    master_key: SecretStr | None = Field(None, alias="PARLEY_MASTER_KEY")
    previous_master_keys_: tuple[SecretStr, ...] = Field((), alias="PARLEY_PREVIOUS_MASTER_KEYS")
    admin_username: str | None = Field(None, alias="PARLEY_ADMIN_USERNAME")
    admin_password: SecretStr | None = Field(None, alias="PARLEY_ADMIN_PASSWORD")
    demo: bool | None = Field(None, alias="PARLEY_DEMO")
    api_rate_limit: int = Field(600, alias="PARLEY_API_RATE_LIMIT", gt=0)
    trusted_proxies: tuple[str, ...] = Field((), alias="PARLEY_TRUSTED_PROXIES")
    max_body_bytes: int = Field(1_000_000, alias="PARLEY_MAX_BODY_BYTES", gt=0)
    max_upload_bytes: int = Field(20_000_000, alias="PARLEY_MAX_UPLOAD_BYTES", gt=0)
    # A chat request keeps its one connection while its question is embedded, so the pool
    # bounds how many questions share a batch: 20 leaves room for four functions on
    # PostgreSQL's default of 100 connections.
    db_pool_size: int = Field(20, alias="PARLEY_DB_POOL_SIZE", ge=2, le=500)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", alias="PARLEY_LOG_LEVEL"
    )
    openai_api_key: SecretStr | None = Field(None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, alias="OPENAI_BASE_URL")
    mistral_api_key: SecretStr | None = Field(None, alias="MISTRAL_API_KEY")
    mistral_base_url: str | None = Field(None, alias="PARLEY_MISTRAL_BASE_URL")
    llm: tuple[str, ...] | None = Field(None, alias="PARLEY_LLM")
    # Spending caps: what tokens cost, and what a dollar is in a bot's currency.
    llm_prices: dict[str, tuple[float, float]] = Field({}, alias="PARLEY_LLM_PRICES")
    currency_rates: dict[str, float] = Field({}, alias="PARLEY_CURRENCY_RATES")
    embeddings: Literal["local", "multilingual", "openai", "mistral"] = Field(
        "local", alias="PARLEY_EMBEDDINGS"
    )
    local_runtime: Literal["torch", "onnx"] = Field("onnx", alias="PARLEY_LOCAL_RUNTIME")
    model_dir_: Path | None = Field(None, alias="PARLEY_MODEL_DIR")
    s3_bucket: str | None = Field(None, alias="PARLEY_S3_BUCKET")
    s3_endpoint_url: str | None = Field(None, alias="PARLEY_S3_ENDPOINT_URL")
    s3_region: str | None = Field(None, alias="PARLEY_S3_REGION")
    aws_access_key_id: str | None = Field(None, alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: SecretStr | None = Field(None, alias="AWS_SECRET_ACCESS_KEY")
    ingest_secret: SecretStr | None = Field(None, alias="PARLEY_INGEST_SECRET")
    ssm_prefix: str | None = Field(None, alias="PARLEY_SSM_PREFIX")  # read in load_settings
    # Telling a bot's team that a visitor waits for a person: e-mail through this server.
    smtp_host: str | None = Field(None, alias="PARLEY_SMTP_HOST")
    smtp_port: int = Field(587, alias="PARLEY_SMTP_PORT", gt=0, lt=65536)
    smtp_username: str | None = Field(None, alias="PARLEY_SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(None, alias="PARLEY_SMTP_PASSWORD")
    smtp_from: str = Field("parley@localhost", alias="PARLEY_SMTP_FROM")
    smtp_starttls: bool = Field(True, alias="PARLEY_SMTP_STARTTLS")
    # Where the team answers (the dashboard's address), named in those notifications.
    dashboard_url: str | None = Field(None, alias="PARLEY_DASHBOARD_URL")
    # Webhooks go to public addresses only unless this is on (a shop's own network).
    webhooks_private: bool = Field(False, alias="PARLEY_WEBHOOKS_ALLOW_PRIVATE")

    @field_validator("database_url", mode="before")
    @classmethod
    def _check_database_url(cls, value: Any) -> Any:
        if value in (None, ""):
            return None
        parts = urlsplit(str(value))
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("must be a postgresql:// URL")
        if not (parts.hostname or "host=" in parts.query):
            raise ValueError("names no host")
        if not parts.path.strip("/"):
            raise ValueError("names no database")
        return value

    @field_validator("model_dir_", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if value is None or not str(value).strip() else value

    @field_validator("master_key", mode="before")
    @classmethod
    def _check_master_key(cls, value: Any) -> Any:
        if value in (None, ""):
            return None
        decode_master_key(str(value))
        return value

    @field_validator("previous_master_keys_", mode="before")
    @classmethod
    def _check_previous_keys(cls, value: Any) -> Any:
        keys = _comma_list(value)
        for key in keys:
            decode_master_key(key)
        return keys

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _check_proxies(cls, value: Any) -> Any:
        proxies = _comma_list(value)
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or network") from None
        return proxies

    @field_validator("demo", "smtp_starttls", "webhooks_private", mode="before")
    @classmethod
    def _parse_bool(cls, value: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError("must be one of 1/0, true/false, yes/no, on/off")

    @field_validator("llm_prices", mode="before")
    @classmethod
    def _parse_prices(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return value
        prices: dict[str, tuple[float, float]] = {}
        for item in _comma_list(value):
            model, _, price = item.rpartition("=")
            price_in, _, price_out = price.partition("/")
            try:
                prices[model.strip()] = (float(price_in), float(price_out))
            except ValueError:
                raise ValueError(f"{item!r} is not model=in/out (US dollars per 1M)") from None
            if not model.strip() or min(prices[model.strip()]) < 0:
                raise ValueError(f"{item!r} is not model=in/out (US dollars per 1M)")
        return prices

    @field_validator("currency_rates", mode="before")
    @classmethod
    def _parse_rates(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return value
        rates: dict[str, float] = {}
        for item in _comma_list(value):
            code, _, rate = item.partition("=")
            try:
                rates[code.strip().upper()] = float(rate)
            except ValueError:
                raise ValueError(f"{item!r} is not CODE=units per US dollar") from None
            if len(code.strip()) != 3 or not rates[code.strip().upper()] > 0:
                raise ValueError(f"{item!r} is not CODE=units per US dollar")
        return rates

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return str(value).strip().upper()

    @field_validator("llm", mode="before")
    @classmethod
    def _parse_chain(cls, value: Any) -> Any:
        if value in (None, ""):
            return None
        items = value if isinstance(value, list | tuple) else str(value).split(",")
        chain = tuple(str(item).strip().lower() for item in items if str(item).strip())
        for name in chain:
            if name not in LLM_PROVIDERS:
                known = ", ".join(LLM_PROVIDERS)
                raise ValueError(f"unknown provider {name!r} (known: {known})")
        if len(set(chain)) != len(chain):
            raise ValueError("names a provider twice")
        return chain or None

    @field_validator("embeddings", "local_runtime", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return str(value).strip().lower()

    @field_validator("openai_base_url", "mistral_base_url", "s3_endpoint_url", mode="before")
    @classmethod
    def _check_http_url(cls, value: Any) -> Any:
        if value in (None, ""):
            return None
        parts = urlsplit(str(value))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        return value

    # ----- derived values -------------------------------------------------

    @property
    def embedded_database(self) -> bool:
        """True when Parley runs its own PostgreSQL (no DATABASE_URL)."""
        return self.database_url is None

    @property
    def demo_enabled(self) -> bool:
        """The demo is on by default with the embedded database, off otherwise."""
        return self.embedded_database if self.demo is None else self.demo

    @property
    def llm_chain(self) -> tuple[str, ...]:
        """The default provider chain: explicit, else whatever has a key, else extractive."""
        if self.llm:
            return self.llm
        chain = [
            name
            for name, key in (("mistral", self.mistral_api_key), ("openai", self.openai_api_key))
            if key is not None
        ]
        return (*chain, "extractive") if chain else ("extractive",)

    @property
    def model_dir(self) -> Path:
        """Where the local model's exported ONNX file is kept (shared by every process
        that points here; an image bakes it in at build time)."""
        return self.model_dir_ or self.data_dir / "models"

    def previous_master_keys(self) -> list[bytes]:
        """Earlier master keys, still accepted for unwrapping during a rotation."""
        return [decode_master_key(k.get_secret_value()) for k in self.previous_master_keys_]

    def master_key_bytes(self) -> bytes | None:
        """The decoded master key, if one was configured."""
        if self.master_key is None:
            return None
        return decode_master_key(self.master_key.get_secret_value())


def decode_master_key(text: str) -> bytes:
    """Decode a base64 master key, insisting on exactly 32 bytes (AES-256)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "must be base64 of 32 random bytes (e.g. `openssl rand -base64 32`)"
        ) from None
    if len(raw) != 32:
        raise ValueError(f"must be base64 of 32 bytes, got {len(raw)} bytes")
    return raw


def load_settings(
    environ: Mapping[str, str] | None = None, *, env_file: Path | None = Path(".env")
) -> Settings:
    """Build settings from ``environ`` (default: ``os.environ``) over a ``.env`` file.

    Raises :class:`ConfigError` with one line naming the first bad variable.
    """
    values: dict[str, Any] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    if values.get("PARLEY_SSM_PREFIX"):
        from shared.parameter_store import ParameterStoreError, read_parameters

        try:
            stored = read_parameters(str(values["PARLEY_SSM_PREFIX"]))
        except ParameterStoreError as exc:
            raise ConfigError(str(exc)) from None
        values = {**stored, **values}
    known = {k: v for k, v in values.items() if k in DOCUMENTED}
    try:
        return Settings.model_validate(known)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc)) from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    field = str(error["loc"][0]) if error["loc"] else "settings"
    alias = Settings.model_fields[field].alias if field in Settings.model_fields else None
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{alias or field}: {message}"
