"""A function loads no SDK or model until it needs one: start-up stays small and fast."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("openai", "mistralai", "torch", "transformers", "boto3")


@pytest.mark.parametrize("function", ["chat", "ingest", "admin", "gdpr"])
def test_importing_a_function_app_loads_no_sdk_or_model(function):
    code = (
        f"import sys, json; import functions.{function}.app; "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []
