"""PostgreSQL's own client programs (pg_dump, pg_restore), from the embedded server's package."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pgserver

PG_BIN = Path(pgserver.__file__).parent / "pginstall" / "bin"


def pg_tool(name: str, *args: str, stdin: bytes | None = None) -> bytes:
    """Run one of them; its standard output."""
    return subprocess.run(
        [str(PG_BIN / name), *args], input=stdin, check=True, capture_output=True
    ).stdout


def pg_dump(url: str) -> bytes:
    return pg_tool("pg_dump", "--dbname", url)
