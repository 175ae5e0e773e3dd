"""The dashboard's only way to Parley: the HTTP API, with the session token it logged in with.

Every failure becomes an :class:`ApiError` carrying the API's own message, so a page shows
"Username or password is wrong." next to the form, never a traceback. A 401 on a logged-in
session is :class:`SessionExpired`, which sends the user back to the login form.
"""

from __future__ import annotations

from typing import Any

import httpx2


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class SessionExpired(ApiError):
    pass


class Api:
    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        try:
            # One short-lived connection per call: a Streamlit rerun keeps nothing open.
            with httpx2.Client(base_url=self.base_url, timeout=self.timeout) as client:
                response = client.request(
                    method,
                    path,
                    json=json,
                    params={k: v for k, v in (params or {}).items() if v not in (None, "")},
                    content=content,
                    files=files,
                    headers=self._headers(headers),
                )
        except httpx2.HTTPError as exc:
            raise ApiError(
                0,
                "unreachable",
                f"Parley's API at {self.base_url} is unreachable ({type(exc).__name__}).",
            ) from None
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                code, message = str(error["code"]), str(error["message"])
            except (ValueError, KeyError, TypeError):
                code, message = "http_error", f"The API answered {response.status_code}."
            fields = (
                response.json().get("error", {}).get("fields")
                if code == "validation_error"
                else None
            ) or []
            if fields:
                message = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
            if response.status_code == 401 and self.token:
                raise SessionExpired(401, code, "Your session has ended. Please log in again.")
            raise ApiError(response.status_code, code, message)
        if not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=body, **kwargs)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def all_items(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paged list (up to 2,000, for the dashboard's tables)."""
        items: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None and len(items) < 2000:
            page = self.get(path, limit=200, offset=offset, **params)
            items.extend(page["items"])
            offset = page["next_offset"]
        return items

    def login(self, username: str, password: str) -> dict[str, Any]:
        session: dict[str, Any] = self.post(
            "/v1/admin/login", {"username": username, "password": password}
        )
        self.token = session["token"]
        return session
