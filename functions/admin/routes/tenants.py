"""Tenants: admins manage all; a saas_user sees and renames only their own."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from functions.admin.schemas import Page, Tenant, TenantCreate, TenantUpdate, slugify
from shared.auth.access import ADMIN, TENANT_USER
from shared.db import tenants
from shared.gdpr.offboarding import offboard
from shared.gdpr.receipts import Asked, RequestRecord, record
from shared.http.context import get_runtime
from shared.http.endpoints import Endpoint, get_principal, read_json
from shared.http.params import page_of, paging, path_uuid, respond


async def list_tenants(request: Request) -> Response:
    limit, offset = paging(request)
    async with get_runtime(request).db.connection() as conn:
        rows = await tenants.list_tenants(
            conn, scope=get_principal(request).scope, limit=limit, offset=offset
        )
    return page_of(Tenant, rows, limit, offset)


async def create_tenant(request: Request) -> Response:
    runtime = get_runtime(request)
    body = await read_json(request, TenantCreate, max_bytes=runtime.settings.max_body_bytes)
    async with runtime.db.connection() as conn, conn.transaction():
        slug = body.slug or slugify(body.name, "tenant")
        row = await tenants.create_tenant(conn, slug=slug, name=body.name)
        await runtime.cipher(conn, row["id"])  # the tenant's data key, made now
    return respond(Tenant.model_validate(row), 201)


async def get_tenant(request: Request) -> Response:
    async with get_runtime(request).db.connection() as conn:
        row = await tenants.get_tenant(
            conn, scope=get_principal(request).scope, tenant_id=path_uuid(request, "tenant_id")
        )
    return respond(Tenant.model_validate(row))


async def update_tenant(request: Request) -> Response:
    runtime = get_runtime(request)
    tenant_id = path_uuid(request, "tenant_id")
    body = await read_json(request, TenantUpdate, max_bytes=runtime.settings.max_body_bytes)
    async with runtime.db.connection() as conn:
        row = await tenants.update_tenant(
            conn,
            scope=get_principal(request).scope,
            tenant_id=tenant_id,
            name=body.name,
            slug=body.slug,
        )
    return respond(Tenant.model_validate(row))


async def delete_tenant(request: Request) -> Response:
    """Offboard: the tenant's objects, cache entries and key go, then its rows; the answer
    is the audit record that stays."""
    runtime = get_runtime(request)
    tenant_id = path_uuid(request, "tenant_id")
    async with runtime.db.connection() as conn:
        await tenants.get_tenant(conn, scope=None, tenant_id=tenant_id)  # 404 when unknown
    row = await offboard(runtime, tenant_id, Asked("admin"))
    return respond(record(row))


ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/admin/tenants",
        list_tenants,
        "List tenants",
        TENANT_USER,
        response=Page[Tenant],
        tag="tenants",
    ),
    Endpoint(
        "POST",
        "/v1/admin/tenants",
        create_tenant,
        "Create a tenant",
        ADMIN,
        body=TenantCreate,
        response=Tenant,
        status_code=201,
        tag="tenants",
    ),
    Endpoint(
        "GET",
        "/v1/admin/tenants/{tenant_id}",
        get_tenant,
        "Get a tenant",
        TENANT_USER,
        response=Tenant,
        tag="tenants",
    ),
    Endpoint(
        "PATCH",
        "/v1/admin/tenants/{tenant_id}",
        update_tenant,
        "Rename a tenant (its name, its slug or both)",
        TENANT_USER,
        body=TenantUpdate,
        response=Tenant,
        tag="tenants",
    ),
    Endpoint(
        "DELETE",
        "/v1/admin/tenants/{tenant_id}",
        delete_tenant,
        "Delete a tenant and everything it owns, everywhere; its data key is shredded",
        ADMIN,
        response=RequestRecord,
        tag="tenants",
    ),
]
