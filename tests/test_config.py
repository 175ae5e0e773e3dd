"""Settings: defaults, typed parsing, and one clear line for each kind of bad value."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shared.config import DOCUMENTED, ConfigError, Settings, load_settings

README = Path(__file__).resolve().parents[1] / "README.md"
KEY = base64.b64encode(bytes(range(32))).decode()


def settings(**env: str) -> Settings:
    return load_settings(env, env_file=None)


def test_defaults_are_the_offline_local_path():
    s = settings()
    assert s.embedded_database
    assert s.demo_enabled
    assert s.llm_chain == ("extractive",)
    assert s.embeddings == "local"
    assert s.data_dir == Path(".parley")


def test_demo_defaults_off_with_an_external_database():
    s = settings(DATABASE_URL="postgresql://u:p@db:5432/parley")
    assert not s.embedded_database
    assert not s.demo_enabled
    assert settings(DATABASE_URL="postgresql://db/parley", PARLEY_DEMO="yes").demo_enabled


def test_provider_chain_follows_configured_keys():
    assert settings(MISTRAL_API_KEY="m", OPENAI_API_KEY="o").llm_chain == (
        "mistral",
        "openai",
        "extractive",
    )
    assert settings(OPENAI_API_KEY="o", PARLEY_LLM=" OpenAI , mistral").llm_chain == (
        "openai",
        "mistral",
    )


def test_master_key_decodes_to_32_bytes():
    assert settings(PARLEY_MASTER_KEY=KEY).master_key_bytes() == bytes(range(32))


def test_secrets_are_masked_in_repr():
    s = settings(
        PARLEY_MASTER_KEY=KEY,
        OPENAI_API_KEY="sk-very-secret",
        DATABASE_URL="postgresql://u:hunter2@db/parley",
    )
    text = repr(s) + str(s)
    assert "sk-very-secret" not in text
    assert "hunter2" not in text
    assert KEY not in text


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": "mysql://db/parley"}, r"^DATABASE_URL: must be a postgresql:// URL$"),
        ({"DATABASE_URL": "postgresql://db"}, r"^DATABASE_URL: names no database$"),
        ({"DATABASE_URL": "postgresql:///parley"}, r"^DATABASE_URL: names no host$"),
        ({"PARLEY_MASTER_KEY": "not base64!"}, r"^PARLEY_MASTER_KEY: must be base64 of 32"),
        (
            {"PARLEY_MASTER_KEY": base64.b64encode(b"short").decode()},
            r"^PARLEY_MASTER_KEY: must be base64 of 32 bytes, got 5 bytes$",
        ),
        ({"PARLEY_LLM": "mistral,gpt9"}, r"^PARLEY_LLM: unknown provider 'gpt9'"),
        ({"PARLEY_LLM": "openai,openai"}, r"^PARLEY_LLM: names a provider twice$"),
        ({"PARLEY_EMBEDDINGS": "bert"}, r"^PARLEY_EMBEDDINGS: "),
        ({"PARLEY_DEMO": "maybe"}, r"^PARLEY_DEMO: must be one of"),
        ({"PARLEY_LOG_LEVEL": "loud"}, r"^PARLEY_LOG_LEVEL: "),
        ({"OPENAI_BASE_URL": "localhost:8080"}, r"^OPENAI_BASE_URL: must be an http"),
    ],
)
def test_bad_values_name_the_variable(env, expected):
    with pytest.raises(ConfigError) as info:
        settings(**env)
    message = str(info.value)
    assert re.search(expected, message), message
    assert "\n" not in message


def test_environment_beats_dotenv_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("PARLEY_LOG_LEVEL=debug\nPARLEY_DATA_DIR=/from/file\n")
    s = load_settings({"PARLEY_DATA_DIR": "/from/env"}, env_file=env_file)
    assert s.log_level == "DEBUG"
    assert s.data_dir == Path("/from/env")


def test_every_setting_is_documented_in_the_readme():
    readme = README.read_text()
    aliases = {field.alias for field in Settings.model_fields.values()}
    assert aliases == set(DOCUMENTED)
    missing = [name for name in DOCUMENTED if f"`{name}`" not in readme]
    assert not missing, f"README lacks {missing}"


def test_serve_with_bad_config_prints_one_line_and_exits_1(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "parley", "serve", "--data-dir", str(tmp_path)],
        env={"PATH": "/usr/bin:/bin", "PARLEY_MASTER_KEY": "not base64!"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "parley: error: PARLEY_MASTER_KEY: must be base64 of 32 random bytes "
        "(e.g. `openssl rand -base64 32`)"
    ]
    assert "Traceback" not in result.stderr + result.stdout
