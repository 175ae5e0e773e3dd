"""docker-compose.yml against the Compose Specification's own JSON schema (a copy, with its
licence, in tests/data), and the shape the stack relies on."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from dotenv import dotenv_values

from parley.routing import function_for
from shared.config import DOCUMENTED, load_settings

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ("chat", "admin", "ingest", "gdpr")


def stack() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_the_compose_file_follows_the_compose_specification():
    schema = json.loads((ROOT / "tests" / "data" / "compose-spec.json").read_text())
    stack = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    # The spec names draft 7 without the trailing "#" jsonschema looks up: say it directly.
    jsonschema.Draft7Validator(schema).validate(stack)
    services = stack["services"]
    assert {
        "db",
        "minio",
        "minio-setup",
        "migrate",
        *FUNCTIONS,
        "scheduler",
        "dashboard",
        "proxy",
    } <= set(services)
    # only the proxy is published; it trusts the stack's own network for forwarded addresses
    assert [name for name, s in services.items() if "ports" in s] == ["proxy"]
    subnet = stack["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert services["chat"]["environment"]["PARLEY_TRUSTED_PROXIES"] == subnet


def test_every_function_is_health_checked_and_shares_the_data_volume():
    services = stack()["services"]
    for name in FUNCTIONS:
        service = services[name]
        assert "/healthz" in " ".join(service["healthcheck"]["test"]), name
        assert service["command"][:2] == ["uvicorn", f"functions.{name}.app:app"]
        # the GDPR function scrubs the answer cache the chat function writes
        assert service["volumes"] == ["parley-data:/data"], name
    assert services["proxy"]["depends_on"]["chat"] == {"condition": "service_healthy"}
    assert services["scheduler"]["command"] == ["parley", "scheduler"]
    assert services["migrate"]["command"] == ["parley", "migrate"]


def test_minio_notifies_the_ingest_webhook_with_the_shared_secret():
    minio = stack()["services"]["minio"]["environment"]
    endpoint = minio["MINIO_NOTIFY_WEBHOOK_ENDPOINT_PARLEY"]
    parsed = re.fullmatch(r"http://(\w+):8000(/\S+)", endpoint)
    assert parsed is not None, endpoint
    host, path = parsed.groups()
    assert (host, function_for(path)) == ("ingest", "ingest")
    assert path == "/v1/ingest/s3-events"
    assert minio["MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_PARLEY"] == "Bearer ${PARLEY_INGEST_SECRET}"
    setup = (ROOT / "infra" / "minio-setup.sh").read_text()
    assert "arn:minio:sqs::PARLEY:webhook --event put,delete" in setup


def test_env_example_lists_every_setting_and_loads():
    text = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))
    assert set(DOCUMENTED) <= listed, set(DOCUMENTED) - listed
    used = set(re.findall(r"\$\{(\w+)", (ROOT / "docker-compose.yml").read_text()))
    assert used <= listed, used - listed
    # Filled in as its comments say, it is a valid configuration.
    values = {k: v for k, v in dotenv_values(ROOT / ".env.example").items() if v is not None}
    values |= {
        "PARLEY_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "DATABASE_URL": "postgresql://parley:secret@db:5432/parley",
    }
    settings = load_settings(values, env_file=None)
    assert settings.admin_username == "admin"
    assert settings.embeddings == "local"


def test_the_image_build_never_sees_local_state_or_history():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".parley", ".env"} <= set(ignored)
