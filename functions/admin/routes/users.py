"""Dashboard users: admins create anyone; a saas_user creates colleagues in their tenant."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from functions.admin.schemas import Page, User, UserCreate, UserUpdate
from shared.auth.access import TENANT_USER
from shared.db import tenants, users
from shared.errors import ForbiddenError, ValidationError
from shared.http.context import get_runtime
from shared.http.endpoints import Endpoint, get_principal, read_json
from shared.http.params import page_of, paging, path_uuid, respond
from shared.passwords import hash_password


async def list_users(request: Request) -> Response:
    limit, offset = paging(request)
    async with get_runtime(request).db.connection() as conn:
        rows = await users.list_users(
            conn, scope=get_principal(request).scope, limit=limit, offset=offset
        )
    return page_of(User, rows, limit, offset)


async def create_user(request: Request) -> Response:
    runtime = get_runtime(request)
    principal = get_principal(request)
    body = await read_json(request, UserCreate, max_bytes=runtime.settings.max_body_bytes)
    if body.role == "admin":
        if not principal.is_admin:
            raise ForbiddenError("Only an admin can create admins.")
        if body.tenant_id is not None:
            raise ValidationError("tenant_id: admins belong to no tenant")
    elif body.tenant_id is None:
        raise ValidationError("tenant_id: a saas_user belongs to one tenant")
    async with runtime.db.connection() as conn:
        if body.tenant_id is not None:
            await tenants.get_tenant(conn, scope=principal.scope, tenant_id=body.tenant_id)
        row = await users.create_user(
            conn,
            username=body.username,
            password_hash=hash_password(body.password),
            role=body.role,
            tenant_id=body.tenant_id,
        )
    return respond(User.model_validate(row), 201)


async def update_user(request: Request) -> Response:
    """Reset a password or (de)activate a user; their sessions end. Nobody disables
    themselves (an operator locking the last admin out would need the command line)."""
    runtime = get_runtime(request)
    principal = get_principal(request)
    user_id = path_uuid(request, "user_id")
    body = await read_json(request, UserUpdate, max_bytes=runtime.settings.max_body_bytes)
    if body.password is None and body.disabled is None:
        raise ValidationError("Give a new password, disabled, or both.", code="nothing_to_change")
    if body.disabled and user_id == principal.user_id:
        raise ValidationError("You cannot deactivate yourself.", code="cannot_disable_self")
    async with runtime.db.connection() as conn, conn.transaction():
        row = await users.update_user(
            conn,
            scope=principal.scope,
            user_id=user_id,
            password_hash=hash_password(body.password) if body.password else None,
            disabled=body.disabled,
        )
    return respond(User.model_validate(row))


ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/admin/users",
        list_users,
        "List dashboard users",
        TENANT_USER,
        response=Page[User],
        tag="users",
    ),
    Endpoint(
        "POST",
        "/v1/admin/users",
        create_user,
        "Create a dashboard user",
        TENANT_USER,
        body=UserCreate,
        response=User,
        status_code=201,
        tag="users",
    ),
    Endpoint(
        "PATCH",
        "/v1/admin/users/{user_id}",
        update_user,
        "Reset a user's password or (de)activate them; their sessions end",
        TENANT_USER,
        body=UserUpdate,
        response=User,
        tag="users",
    ),
]
