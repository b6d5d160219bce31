"""HTTP guards that act before a route runs (pure ASGI, so that they also cover mounts and every error answer).

Outermost first: the request id (service.request_ids); security headers on every response; unstorable text
(NUL, unpaired surrogates) in the query or a header refused with 422 naming it (in path parameters:
`storable_path_parameters`, once the route is known); the API key checked before a request body is read; the
body's size and pace limited (413 above the upload limit, 408 when it stalls).
"""

from urllib.parse import parse_qsl

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.config import Settings
from service.deps import UNAUTHORIZED_DETAIL, bearer_token, known_key
from service.problems import field_problem, kind_for_status, problem_response, validation_response
from service.request_ids import RequestIds
from service.specs.text import text_problem

DASHBOARD_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = (  # FastAPI's Swagger UI and ReDoc pages: their scripts and styles come from a CDN, with an inline start
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
REPORT_CSP = (  # the HTML report is data: no script at all, its own inline styles, sandboxed in a unique origin
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
BODY_METHODS = ("POST", "PUT", "PATCH")


def add_middleware(app: FastAPI, settings: Settings) -> None:
    """Installed innermost first (Starlette wraps each new middleware around the ones before it)."""
    app.add_middleware(BodyLimits, max_bytes=settings.max_upload_bytes, idle_timeout_s=settings.body_timeout_s)
    app.add_middleware(AuthenticateBeforeBody, database_url=settings.sqlalchemy_url)
    app.add_middleware(RefuseUnstorableText)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestIds)


def security_headers(path: str) -> dict[str, str]:
    """The headers every response carries; a response that sets its own Content-Security-Policy keeps it."""
    csp = DOCS_CSP if path in DOCS_PATHS else DASHBOARD_CSP
    return {
        "content-security-policy": csp,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
    }


class SecurityHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [(k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RefuseUnstorableText:
    """422 for a NUL character or an unpaired surrogate in a query parameter or a header, naming it.

    PostgreSQL can neither compare nor store such text: `items?model=%00` was a 500 there.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = _query_or_header_problem(scope) if scope["type"] == "http" else None
        if problem is None:
            await self.app(scope, receive, send)
            return
        location, reason = problem
        await validation_response(scope, [field_problem(location, reason)])(scope, receive, send)


def _query_or_header_problem(scope: Scope) -> tuple[list[str], str] | None:
    for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
        if reason := text_problem(name) or text_problem(value):
            return ["query", name], reason
    for name, value in scope.get("headers", []):
        if b"\x00" in value:
            return ["header", name.decode("latin-1")], "contains a NUL character (\\u0000)"
    return None


def storable_path_parameters(request: Request) -> None:
    """An app-wide dependency: 422 naming the path parameter that holds unstorable text (`/v1/audits/%00`).

    The static dashboard needs no such check: a path it cannot serve is a 404 there.
    """
    for name, value in request.path_params.items():
        if isinstance(value, str) and (reason := text_problem(value)):
            raise RequestValidationError([{"loc": ("path", name), "msg": reason, "type": "value_error"}])


class AuthenticateBeforeBody:
    """401 for a write to the API without a valid key, answered before its body is read.

    The routes check the key again (service.deps.get_tenant); this only spares the server from receiving and
    parsing the body of a request that will be refused anyway.
    """

    def __init__(self, app: ASGIApp, database_url: str):
        self.app = app
        self.database_url = database_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guarded = scope["type"] == "http" and scope["method"] in BODY_METHODS and scope["path"].startswith("/v1/")
        authorization = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1")
        if guarded and not await run_in_threadpool(known_key, self.database_url, bearer_token(authorization)):
            headers = {"WWW-Authenticate": "Bearer", "Connection": "close"}  # its body is never read
            response = problem_response(scope, kind_for_status(401), UNAUTHORIZED_DETAIL, headers=headers)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimits:
    """413 for a body above the limit (by its Content-Length or as it streams in), 408 for a body that stops
    arriving for `idle_timeout_s` (a slow sender must not hold a worker thread and a connection open).

    A refused body is cut off: the app sees a disconnect, the client gets the error, and whatever the app
    answers after that is dropped.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, idle_timeout_s: float):
        self.app = app
        self.max_bytes = max_bytes
        self.idle_timeout_s = idle_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request body: larger than the upload limit of {self.max_bytes} bytes"
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(scope, receive, send, 413, too_large)
            return
        received = 0
        refused = body_done = False

        async def limited_receive() -> Message:
            nonlocal received, refused, body_done
            if refused or body_done:  # after the body, receive() only waits for the client to leave
                return {"type": "http.disconnect"} if refused else await receive()
            message: Message | None = None
            with anyio.move_on_after(self.idle_timeout_s):
                message = await receive()
            if message is not None:
                received += len(message.get("body", b""))
                body_done = message["type"] != "http.request" or not message.get("more_body", False)
                if received <= self.max_bytes:
                    return message
            refused = True
            stalled = f"request body: nothing arrived for {self.idle_timeout_s:g} s"
            await _refuse(scope, receive, send, *((413, too_large) if message is not None else (408, stalled)))
            return {"type": "http.disconnect"}

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    """A problem that closes the connection (the rest of the body is never read)."""
    response = problem_response(scope, kind_for_status(status), detail, headers={"Connection": "close"})
    await response(scope, receive, send)
