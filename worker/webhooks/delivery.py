"""One delivery attempt: claim it, send it signed (Standard Webhooks), record how it went.

The request goes to the address that was checked (the host is resolved once, checked, and connected to by
address with the original Host header and TLS server name), so a name that resolves elsewhere between the
check and the connection (DNS rebinding) cannot reach a private address. Proxies from the environment are not
used, redirects are not followed, the answer's body is not read, and the whole attempt has one deadline.
"""

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
from standardwebhooks import Webhook as Signer

from service.config import Settings
from service.db import session_scope
from service.models.base import utc_now
from service.webhooks import destinations
from service.webhooks import service as webhooks
from service.webhooks.schemas import AttemptOut
from service.webhooks.service import ClaimedAttempt
from service.webhooks.signing_secrets import unseal

USER_AGENT = "unlearn-audit-webhooks/1"
# DNS lookups run here, not in asyncio's default executor, which asyncio.run waits for when it closes: a
# lookup that hangs is abandoned at the attempt's deadline instead of holding the task until it returns
RESOLVER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")
logger = logging.getLogger(__name__)


def attempt(settings: Settings, delivery_id: str) -> None:
    """Make the delivery's next attempt if it is due and no other worker is making it."""
    with session_scope(settings.sqlalchemy_url) as session:
        claimed = webhooks.claim_attempt(session, settings, delivery_id)
    if claimed is None:
        return
    outcome = send(settings, claimed)
    logger.info(
        "webhook delivery %s attempt %d to %s: %s",
        delivery_id, outcome.number, claimed.url, outcome.error or f"HTTP {outcome.status_code}",
    )  # fmt: skip
    with session_scope(settings.sqlalchemy_url) as session:
        webhooks.record_attempt(session, settings, delivery_id, outcome)


def send(settings: Settings, claimed: ClaimedAttempt) -> AttemptOut:
    """POST the delivery once; every way it can fail becomes the attempt's error, so that it is retried."""
    at, started = utc_now(), time.monotonic()
    status_code, error = None, None
    try:
        status_code = asyncio.run(asyncio.wait_for(_post(settings, claimed), settings.webhook_timeout_s))
        if not 200 <= status_code < 300:
            error = f"the receiver answered HTTP {status_code}" + (
                " (redirects are not followed)" if 300 <= status_code < 400 else ""
            )
    except destinations.DestinationError as refused:
        error = f"refused: {refused}"
    except TimeoutError:
        error = f"no answer within {settings.webhook_timeout_s} s"
    except Exception as failure:  # connection errors, a secret this worker cannot decrypt, ...: logged and retried
        error = f"{type(failure).__name__}: {failure}"[:1000]
    duration_ms = (time.monotonic() - started) * 1000
    return AttemptOut(number=claimed.number, at=at, status_code=status_code, error=error, duration_ms=duration_ms)


async def _post(settings: Settings, claimed: ClaimedAttempt) -> int:
    parts = destinations.parse(claimed.url)
    host, port = parts.hostname or "", destinations.port_of(parts)
    loop = asyncio.get_running_loop()
    addresses = await loop.run_in_executor(
        RESOLVER, destinations.addresses_to_call, host, port, settings.webhook_allow_private
    )
    address = addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    pinned = parts._replace(netloc=f"{literal}:{port}").geturl()
    headers = {
        **signature_headers(unseal(settings, claimed.sealed_secret), claimed.delivery_id, utc_now(), claimed.payload),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": parts.netloc,
    }
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    async with (
        httpx.AsyncClient(trust_env=False, follow_redirects=False, timeout=settings.webhook_timeout_s) as client,
        client.stream("POST", pinned, content=claimed.payload.encode(), headers=headers, extensions=extensions) as r,
    ):
        return r.status_code


def signature_headers(secret: str, message_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    """Standard Webhooks' three headers; the signature covers `{id}.{timestamp}.{body}`."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Signer(secret).sign(message_id, timestamp, body),
    }
