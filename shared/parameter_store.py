"""Secrets from AWS Systems Manager Parameter Store, for the Lambda deployment.

Lambda's environment cannot hold SecureString parameters, so ``PARLEY_SSM_PREFIX`` names a
path (``/parley/prod/``) whose parameters are read once at start, decrypted: each
parameter's last path element is the setting it fills (``/parley/prod/PARLEY_MASTER_KEY``).
A variable set in the environment wins over the store.
"""

from __future__ import annotations

from typing import Any


class ParameterStoreError(Exception):
    pass


def read_parameters(prefix: str, *, client: Any = None) -> dict[str, str]:
    """Every parameter under ``prefix`` (recursively), by its last path element."""
    import boto3  # only where the store is used
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    # A cold start should fail in seconds, not after minutes of retries.
    config = Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 2})
    ssm = client or boto3.client("ssm", config=config)
    path = "/" + prefix.strip("/") + "/"
    found: dict[str, str] = {}
    try:
        for page in ssm.get_paginator("get_parameters_by_path").paginate(
            Path=path, Recursive=True, WithDecryption=True
        ):
            for parameter in page["Parameters"]:
                found[parameter["Name"].rsplit("/", 1)[-1]] = parameter["Value"]
    except (BotoCoreError, ClientError) as exc:
        raise ParameterStoreError(
            f"PARLEY_SSM_PREFIX: cannot read {path} ({type(exc).__name__})"
        ) from None
    return found
