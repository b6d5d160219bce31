"""Conditional requests (RFC 9110): a strong ETag of the exact bytes of a JSON answer, 304 when they are known.

The tag is a hash of the body itself, so that it changes exactly when the representation does (byte for byte,
as a strong validator must); the server still builds the body, and a poller that has it downloads nothing.
"""

import hashlib

from fastapi import Request, Response

# per tenant (behind an API key): shared caches keep none, clients revalidate every time
CACHE_CONTROL = "private, no-cache"


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def none_match(if_none_match: str | None, etag: str) -> bool:
    """False when If-None-Match names this tag or `*` (compared weakly, as RFC 9110 13.1.2 asks)."""
    if not if_none_match:
        return True
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" not in tags and etag not in tags


def conditional_json(request: Request, body: bytes) -> Response:
    """The JSON body with its ETag, or 304 with only the ETag when the request's If-None-Match has it."""
    headers = {"ETag": etag_of(body), "Cache-Control": CACHE_CONTROL}
    if not none_match(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def headers_only(response: Response) -> Response:
    """The answer to HEAD: the GET's status and headers (Content-Length included), no body."""
    return Response(status_code=response.status_code, headers=dict(response.headers))
