"""Dashboard login and logout."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from functions.admin.schemas import LoginRequest, LoginResponse, Ok
from shared import ratelimit
from shared.auth.access import PUBLIC, SESSION
from shared.auth.authenticate import bearer_token
from shared.auth.tokens import hash_token, new_session_token
from shared.db import sessions, users
from shared.errors import UnauthorizedError
from shared.http.context import get_runtime
from shared.http.endpoints import Endpoint, get_principal, read_json
from shared.http.params import respond
from shared.passwords import burn_verify_time, verify_password

SESSION_TTL = 12 * 3600
# Per username: 10 tries in 5 minutes; per client address: 30 (many users behind one NAT).
LOGIN_PER_USER = (10, 300.0)
LOGIN_PER_ADDRESS = (30, 300.0)


async def login(request: Request) -> Response:
    runtime = get_runtime(request)
    body = await read_json(request, LoginRequest, max_bytes=runtime.settings.max_body_bytes)
    address = request.client.host if request.client else "unknown"
    async with runtime.db.connection() as conn:
        limit, period = LOGIN_PER_ADDRESS
        await ratelimit.check(conn, bucket=f"login:addr:{address}", limit=limit, period=period)
        limit, period = LOGIN_PER_USER
        await ratelimit.check(
            conn, bucket=f"login:user:{body.username.lower()}", limit=limit, period=period
        )
        user = await users.get_by_username(conn, username=body.username)
        if user is None:
            burn_verify_time(body.password)
        if (
            user is None
            or user["disabled"]
            or not verify_password(body.password, user["password_hash"])
        ):
            # One answer whether or not the username exists.
            raise UnauthorizedError("Wrong username or password.", code="invalid_credentials")
        token = new_session_token()
        expires_at = await sessions.create_session(
            conn, user_id=user["id"], token_hash=hash_token(token), ttl_seconds=SESSION_TTL
        )
        await users.record_login(conn, user_id=user["id"])
    return respond(
        LoginResponse(
            token=token,
            expires_at=expires_at,
            username=user["username"],
            role=user["role"],
            tenant_id=user["tenant_id"],
        )
    )


async def logout(request: Request) -> Response:
    get_principal(request)
    token = bearer_token(request.headers.get("authorization"))
    assert token is not None
    async with get_runtime(request).db.connection() as conn:
        await sessions.delete_session(conn, token_hash=hash_token(token))
    return respond(Ok())


ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/admin/login",
        login,
        "Log in; returns a session token",
        PUBLIC,
        body=LoginRequest,
        response=LoginResponse,
        tag="auth",
    ),
    Endpoint(
        "POST", "/v1/admin/logout", logout, "End this session", SESSION, response=Ok, tag="auth"
    ),
]
