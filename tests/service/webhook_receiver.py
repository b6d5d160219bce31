"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 in a thread, which verifies each request's
Standard Webhooks signature (with the reference implementation) and answers the statuses it is given in turn."""

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool  # the signature matched the secret, and the timestamp was recent


class Receiver:
    """`with Receiver([500, 204]) as receiver:` answers 500, then 204 to every later request; set `secret` to
    verify signatures (a request that does not verify is answered 401)."""

    def __init__(self, statuses: list[int], delay_s: float = 0.0):
        self.statuses, self.delay_s = list(statuses), delay_s
        self.secret: str | None = None
        self.received: list[Received] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]

    def url(self, host: str = "127.0.0.1", path: str = "/hook") -> str:
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> "Receiver":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        verified = False
        if self.secret is not None:
            try:
                Webhook(self.secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
        self.received.append(Received(path, headers, body, verified))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return status if verified or self.secret is None else 401

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                time.sleep(receiver.delay_s)
                status = receiver._answer(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.url(path="/redirected"))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        return Handler
