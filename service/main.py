"""The app factory: routers, error handlers that name the field and the reason, health, the dashboard."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu import Connection
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.audits.endpoints import router as audits_router
from service.audits.resend import ResendLoop
from service.config import Settings, get_settings
from service.corpora.endpoints import router as corpora_router
from service.dashboard.mount import STATIC_DIR, mount_dashboard
from service.db import engine_for
from service.errors import ConflictError, FieldError, NotFoundError
from service.webhooks.endpoints import router as webhooks_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="unlearn-audit",
        version="1",
        description="Audits LLM unlearning at every precision a model may be run at (full, 8-bit, 4-bit).",
        lifespan=_resending_unsent_runs,
    )
    app.state.settings = settings
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes)
    app.include_router(audits_router)
    app.include_router(corpora_router)
    app.include_router(webhooks_router)
    add_error_handlers(app)
    add_health_routes(app)
    if STATIC_DIR.is_dir():
        mount_dashboard(app)  # last: a mount at `/` matches every path
    return app


@asynccontextmanager
async def _resending_unsent_runs(app: FastAPI) -> AsyncIterator[None]:
    """While the app serves, runs stored while the broker was down are sent when it answers again."""
    settings: Settings = app.state.settings
    if not settings.resend_interval_s:
        yield
        return
    loop = ResendLoop(settings.sqlalchemy_url, str(settings.broker_url), settings.resend_interval_s)
    loop.start()
    try:
        yield
    finally:
        loop.stop()


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FieldError)
    def field_error(_request: Request, error: FieldError) -> JSONResponse:
        return JSONResponse({"detail": error.detail()}, status_code=422)

    @app.exception_handler(NotFoundError)
    def not_found(_request: Request, error: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(ConflictError)
    def conflict(_request: Request, error: ConflictError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=409)

    @app.exception_handler(RequestValidationError)
    def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        """FastAPI's 422 shape, with only JSON-safe parts (pydantic's `ctx` may hold exceptions)."""
        detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()]
        return JSONResponse({"detail": detail}, status_code=422)


def add_health_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "the database or the broker is down"}})
    def readyz() -> JSONResponse:
        """Readiness: the database and the broker answer."""
        settings: Settings = app.state.settings
        checks = {"database": _database_ok(settings), "broker": _broker_ok(settings)}
        ready = all(checks.values())
        body = {"status": "ok" if ready else "unavailable", **{k: "ok" if v else "down" for k, v in checks.items()}}
        return JSONResponse(body, status_code=200 if ready else 503)


def _database_ok(settings: Settings) -> bool:
    try:
        with engine_for(settings.sqlalchemy_url).connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:  # any failure means not ready; the answer names the check that failed
        return False


def _broker_ok(settings: Settings) -> bool:
    try:
        with Connection(settings.broker_url, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False


class BodySizeLimit:
    """Answers 413 to a request body above the limit, by its Content-Length or as it streams in.

    A body that grows past the limit while streaming is cut off: the app sees a disconnect, the client gets
    the 413, and whatever the app answers after that is dropped.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        received = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes and not refused:
                refused = True
                await self._too_large(scope, receive, send)
            return {"type": "http.disconnect"} if refused else message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"request body: larger than the upload limit of {self.max_bytes} bytes"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
