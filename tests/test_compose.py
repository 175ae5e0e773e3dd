"""docker-compose.yml against the Compose Specification's own JSON schema (a copy, with its
licence, in tests/data), and the shape the stack relies on."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_the_compose_file_follows_the_compose_specification():
    schema = json.loads((ROOT / "tests" / "data" / "compose-spec.json").read_text())
    stack = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    # The spec names draft 7 without the trailing "#" jsonschema looks up: say it directly.
    jsonschema.Draft7Validator(schema).validate(stack)
    services = stack["services"]
    assert {"db", "migrate", "chat", "admin", "ingest", "gdpr", "dashboard", "proxy"} <= set(
        services
    )
    # only the proxy is published; it trusts the stack's own network for forwarded addresses
    assert [name for name, s in services.items() if "ports" in s] == ["proxy"]
    subnet = stack["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert services["chat"]["environment"]["PARLEY_TRUSTED_PROXIES"] == subnet
