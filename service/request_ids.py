"""Request ids: every response carries `X-Request-ID`, and every log record made while serving it.

The client's own `X-Request-ID` is kept when it is sane (1 to 128 characters of letters, digits and
`._:-/+=@`, so that it can neither forge log lines nor hold secrets of any length); otherwise one is made.
Log records get the attribute `request_id` (`-` outside a request), so a log format can show `%(request_id)s`.
"""

import logging
import re
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
SANE_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
NO_REQUEST = "-"

current_request_id: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)


def request_id_for(given: str | None) -> str:
    return given if given is not None and SANE_ID.fullmatch(given) else uuid.uuid4().hex


class RequestIds:
    """Outermost middleware: the id in `scope["state"]["request_id"]`, in the log context, and on the answer.

    The context variable is left set: each request is served in its own task (and so its own context), and
    the 500 answer, made after this middleware has returned, still logs under the id.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", [])).get(HEADER.encode())
        request_id = request_id_for(None if given is None else given.decode("latin-1"))
        scope.setdefault("state", {})["request_id"] = request_id
        current_request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(name, value) for name, value in message.get("headers", []) if name.lower() != HEADER.encode()]
                message = {**message, "headers": [*kept, (HEADER.encode(), request_id.encode())]}
            await send(message)

        await self.app(scope, receive, send_with_id)


def install_log_field() -> None:
    """Give every log record a `request_id` attribute (once per process; later calls change nothing)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "adds_request_id", False):
        return

    def record_with_request_id(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.request_id = current_request_id.get()
        return record

    record_with_request_id.adds_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(record_with_request_id)
