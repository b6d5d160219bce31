"""The HTTP side of the client commands (corpus upload, submit, status, report): the service's URL and key
from the environment (or flags), its errors turned into one clear message, and the exit codes they share.

Exit codes, so that a CI pipeline can gate on an audit: 0 pass, 1 fail or utility_lost, 3 inconclusive or no
verdict (yet), 2 usage error (bad arguments, a spec or corpus the service refuses), 4 server unreachable.
"""

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

URL_VARIABLE = "UNLEARN_AUDIT_URL"
KEY_VARIABLE = "UNLEARN_AUDIT_API_KEY"
EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_NO_VERDICT, EXIT_UNREACHABLE = 0, 1, 2, 3, 4
VERDICT_EXIT_CODES = {"pass": EXIT_PASS, "fail": EXIT_FAIL, "utility_lost": EXIT_FAIL}


class ClientError(Exception):
    """A failure with the message to print and the exit code to end with."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help=f"the service's base URL (default: ${URL_VARIABLE})")
    parser.add_argument("--api-key", help=f"an API key (default: ${KEY_VARIABLE})")


def verdict_exit_code(verdict: str | None) -> int:
    return VERDICT_EXIT_CODES.get(verdict or "", EXIT_NO_VERDICT)


@contextmanager
def api_client(args: argparse.Namespace, timeout_s: float = 60) -> Iterator[httpx.Client]:
    """A client of the service named by the flags or the environment; a ClientError when one is missing."""
    url = args.url or os.environ.get(URL_VARIABLE)
    key = args.api_key or os.environ.get(KEY_VARIABLE)
    if not url:
        raise ClientError(f"no service URL: set {URL_VARIABLE} (e.g. http://127.0.0.1:8000) or give --url", EXIT_USAGE)
    if not key:
        raise ClientError(f"no API key: set {KEY_VARIABLE} or give --api-key", EXIT_USAGE)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s) as client:
        yield client


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The answer to one request; a ClientError with the API's own words when it is not a success."""
    try:
        response = client.request(method, path, **kwargs)
    except httpx.TransportError as error:
        raise ClientError(f"the service at {client.base_url} is unreachable: {error}", EXIT_UNREACHABLE) from None
    if response.status_code >= 400:
        raise ClientError(error_message(response), EXIT_USAGE if response.status_code < 500 else EXIT_UNREACHABLE)
    return response


def error_message(response: httpx.Response) -> str:
    """`HTTP 422 validation-failed:` and one line per problem (`body.labels: at most 20 labels`), from the API's
    problem document (RFC 9457); the body's first characters for anything else (e.g. a proxy's page)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "status" not in body:
        return f"HTTP {response.status_code}: {response.text.strip()[:500] or response.reason_phrase}"
    errors = body.get("errors") or []
    lines = [f"{'.'.join(filter(None, (e.get('location'), e.get('field'))))}: {e.get('message')}" for e in errors]
    head = " ".join(str(part) for part in ("HTTP", response.status_code, body.get("code")) if part)
    return head + ":" + "".join(f"\n  {line}" for line in lines or [str(body.get("detail") or body.get("title"))])
