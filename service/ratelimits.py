"""Rate limits at the edge (the `limits` library): failed authentications per client address, and writes per
API key, each answered 429 with a Retry-After once its rate (a setting) is spent.

The counters live in the configured Redis (shared by every API process) or, in the embedded default without
Redis, in this process's memory. A key is counted by its hash, never by the token itself.
"""

import math
import time

from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.config import Settings
from service.deps import bearer_token
from service.keys.service import hash_token

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def limit_storage(settings: Settings) -> Storage:
    if settings.redis_url:
        return RedisStorage(f"async+{settings.redis_url}", implementation="redispy")
    return MemoryStorage()


class RateLimits:
    """Pure ASGI, outside the key check: an address over its failure rate is refused before its key is looked
    at; every 401 answered inside counts as a failure of the client's address."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.limiter = MovingWindowRateLimiter(limit_storage(settings))
        self.auth_failures = parse(settings.auth_failure_rate)
        self.writes = parse(settings.write_rate)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("unknown",))[0]
        if not await self.limiter.test(self.auth_failures, "auth-failures", address):
            detail = "too many failed authentications from this address"
            await self._refuse(scope, receive, send, self.auth_failures, detail, "auth-failures", address)
            return
        key = self._key_hash(scope)
        if key and scope["method"] in WRITE_METHODS and not await self.limiter.hit(self.writes, "writes", key):
            await self._refuse(scope, receive, send, self.writes, "too many writes with this API key", "writes", key)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                await self.limiter.hit(self.auth_failures, "auth-failures", address)
            await send(message)

        await self.app(scope, receive, counting_send)

    @staticmethod
    def _key_hash(scope: Scope) -> str | None:
        authorization = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1")
        token = bearer_token(authorization)
        return hash_token(token) if token else None

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, item: RateLimitItem, detail: str, *identifiers: str
    ) -> None:
        stats = await self.limiter.get_window_stats(item, *identifiers)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        body = {"detail": f"{detail} (at most {item}); retry after {retry_after} s"}
        headers = {"Retry-After": str(retry_after), "Connection": "close"}  # a refused body is never read
        await JSONResponse(body, status_code=429, headers=headers)(scope, receive, send)
