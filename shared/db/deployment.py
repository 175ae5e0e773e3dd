"""The deployment's one row: which master key and which embedding model it was set up with."""

from __future__ import annotations

from typing import Any

from shared.db.pool import Conn


async def claim_master_key(conn: Conn, *, key_id: str, check: bytes) -> dict[str, Any]:
    """Record the master key on first use; returns the one recorded (maybe an earlier one)."""
    cur = await conn.execute(
        "INSERT INTO deployment (id, master_key_id, master_key_check) VALUES (true, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET master_key_id = COALESCE(deployment.master_key_id,"
        " EXCLUDED.master_key_id), master_key_check = COALESCE(deployment.master_key_check,"
        " EXCLUDED.master_key_check) RETURNING master_key_id, master_key_check",
        (key_id, check),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def set_master_key(conn: Conn, *, key_id: str, check: bytes) -> None:
    await conn.execute(
        "UPDATE deployment SET master_key_id = %s, master_key_check = %s", (key_id, check)
    )


async def claim_embedding_model(conn: Conn, *, name: str, dim: int) -> dict[str, Any]:
    """Record the embedding model on first use; returns the one recorded."""
    cur = await conn.execute(
        "INSERT INTO deployment (id, embedding_model, embedding_dim) VALUES (true, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET"
        " embedding_model = COALESCE(deployment.embedding_model, EXCLUDED.embedding_model),"
        " embedding_dim = COALESCE(deployment.embedding_dim, EXCLUDED.embedding_dim)"
        " RETURNING embedding_model, embedding_dim",
        (name, dim),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def set_embedding_model(conn: Conn, *, name: str, dim: int) -> None:
    await conn.execute(
        "INSERT INTO deployment (id, embedding_model, embedding_dim) VALUES (true, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET embedding_model = EXCLUDED.embedding_model,"
        " embedding_dim = EXCLUDED.embedding_dim",
        (name, dim),
    )
