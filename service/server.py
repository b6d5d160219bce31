"""The API's HTTP server (uvicorn), with limits on slow clients.

A request's headers must arrive within `header_timeout_s` (uvicorn alone waits for ever for a half-sent
request, one open connection per slow client), an idle kept-alive connection closes after
`keep_alive_timeout_s`, and a header block is at most 16 KB; service.middleware.BodyLimits limits the body's
size and pace. `unlearn-audit serve` builds its server with `server_config`; a deployment that runs uvicorn
itself passes `--http service.server:BoundedH11Protocol --timeout-keep-alive 5
--h11-max-incomplete-event-size 16384` (the Dockerfile does).
"""

import asyncio
import copy
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from service.config import Settings, get_settings

MAX_HEADER_BYTES = 16 * 1024
SERVICE_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [request %(request_id)s] %(message)s"


class BoundedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol that closes a connection whose request headers are not complete in time."""

    header_timeout_s: float | None = None  # None: the process settings' (uvicorn given this class by name)
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._expect_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request line and headers are in
            self._stop_waiting()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._expect_headers()  # the next request on this connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _expect_headers(self) -> None:
        self._stop_waiting()
        timeout_s = self.header_timeout_s or get_settings().header_timeout_s
        self._header_deadline = self.loop.call_later(timeout_s, self._headers_too_slow)

    def _stop_waiting(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def server_config(app: ASGIApp, settings: Settings, host: str, port: int) -> uvicorn.Config:
    protocol = type("BoundedH11Protocol", (BoundedH11Protocol,), {"header_timeout_s": settings.header_timeout_s})
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=protocol,
        timeout_keep_alive=max(1, round(settings.keep_alive_timeout_s)),
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        log_config=log_config(),
    )


def log_config() -> dict[str, Any]:
    """uvicorn's logging, plus the service's own records with their request id (service.request_ids)."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["formatters"]["service"] = {"format": SERVICE_LOG_FORMAT}
    config["handlers"]["service"] = {
        "formatter": "service",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["service"] = {"handlers": ["service"]}
    return config
