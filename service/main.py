"""The app factory: routers, error handlers that name the field and the reason, health, the dashboard."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu import Connection
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.audits.endpoints import router as audits_router
from service.audits.resend import ResendLoop
from service.config import Settings, get_settings
from service.corpora.endpoints import router as corpora_router
from service.dashboard.mount import STATIC_DIR, mount_dashboard
from service.db import engine_for
from service.disk import DISK_FULL_DETAIL, free_bytes, is_disk_full
from service.docs import add_docs_routes
from service.errors import FieldError, QuotaError, ServiceError
from service.known_parameters import known_query_parameters
from service.middleware import add_middleware, security_headers, storable_path_parameters
from service.problem_docs import router as problems_router
from service.problems import (
    ProblemKind,
    field_problem,
    kind_for_status,
    problem_kind,
    problem_response,
    request_id_of,
    validation_response,
)
from service.request_ids import HEADER, install_log_field
from service.webhooks.endpoints import router as webhooks_router

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="unlearn-audit",
        version="1",
        description="Audits LLM unlearning at every precision a model may be run at (full, 8-bit, 4-bit).",
        lifespan=_resending_unsent_runs,
        openapi_url=None,  # served by add_docs_routes, as the settings say
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(storable_path_parameters), Depends(known_query_parameters)],
    )
    app.state.settings = settings
    install_log_field()
    add_middleware(app, settings)
    app.include_router(audits_router)
    app.include_router(corpora_router)
    app.include_router(webhooks_router)
    app.include_router(problems_router)
    add_error_handlers(app)
    add_failure_handlers(app)
    add_health_routes(app)
    add_docs_routes(app, settings)
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
    """Every error answered as a problem (service.problems)."""

    @app.exception_handler(FieldError)
    def field_error(request: Request, error: FieldError) -> JSONResponse:
        return validation_response(request.scope, error.field_problems())

    @app.exception_handler(ServiceError)
    def service_error(request: Request, error: ServiceError) -> JSONResponse:
        return problem_response(request.scope, error.kind, str(error))

    @app.exception_handler(QuotaError)
    def over_quota(request: Request, error: QuotaError) -> JSONResponse:
        retry_after = str(request.app.state.settings.quota_retry_after_s)
        return problem_response(request.scope, error.kind, str(error), headers={"Retry-After": retry_after})

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        """Only the location and message of each (pydantic's `ctx` may hold exceptions)."""
        return validation_response(request.scope, [field_problem(e["loc"], e["msg"]) for e in error.errors()])

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code < 400:  # not an error (a 304 of the static files)
            return Response(status_code=error.status_code, headers=error.headers)
        kind = kind_for_status(error.status_code)
        detail = error.detail if error.detail != HTTPStatus(error.status_code).phrase else _plain_detail(request, kind)
        return problem_response(request.scope, kind, detail, status=error.status_code, headers=error.headers)


def _plain_detail(request: Request, kind: ProblemKind) -> str:
    """The detail of Starlette's own errors (no such route, no such method), which only give the status."""
    return f"{request.method} {request.url.path}: {kind.title.lower()}"


def add_failure_handlers(app: FastAPI) -> None:
    """A full disk is answered 507; anything else unexpected 500. Both in JSON, without internals: the
    details go to the log, under a reference that the answer gives."""
    app.add_exception_handler(OSError, storage_error)
    app.add_exception_handler(SQLAlchemyError, storage_error)
    app.add_exception_handler(Exception, unexpected_error)


def storage_error(request: Request, error: Exception) -> JSONResponse:
    if is_disk_full(error):
        logger.warning("disk full on %s %s: %s", request.method, request.url.path, error)
        return problem_response(request.scope, problem_kind("disk-full"), DISK_FULL_DETAIL)
    return unexpected_error(request, error)


def unexpected_error(request: Request, error: Exception) -> JSONResponse:
    reference = request_id_of(request.scope)
    logger.error("unexpected error %s on %s %s", reference, request.method, request.url.path, exc_info=error)
    detail = f"internal error: the request failed on the server (reference {reference} in the server log)"
    # Starlette sends the answer to Exception outside every middleware: their headers are added here
    headers = {**security_headers(request.url.path), HEADER: reference}
    return problem_response(request.scope, problem_kind("internal-error"), detail, headers=headers)


def add_health_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        responses={503: {"description": "the database or the broker is down, or the disk is nearly full"}},
    )
    def readyz() -> JSONResponse:
        """Readiness: the database and the broker answer, and the data and checkpoint folders have free space."""
        settings: Settings = app.state.settings
        checks = {
            "database": "ok" if _database_ok(settings) else "down",
            "broker": "ok" if _broker_ok(settings) else "down",
            "disk": "ok" if _disk_ok(settings) else "low",
        }
        ready = all(state == "ok" for state in checks.values())
        return JSONResponse({"status": "ok" if ready else "unavailable", **checks}, status_code=200 if ready else 503)


def _database_ok(settings: Settings) -> bool:
    try:
        with engine_for(settings.sqlalchemy_url).connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:  # any failure means not ready; the answer names the check that failed
        return False


def _disk_ok(settings: Settings) -> bool:
    for folder in (Path(settings.data_dir), Path(str(settings.checkpoint_dir))):
        free = free_bytes(folder)
        if free < settings.min_free_bytes:
            logger.warning(
                "not ready: %d bytes free under %s, below min_free_bytes %d", free, folder, settings.min_free_bytes
            )
            return False
    return True


def _broker_ok(settings: Settings) -> bool:
    try:
        with Connection(settings.broker_url, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False
