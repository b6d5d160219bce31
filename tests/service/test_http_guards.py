"""HTTP guards: security headers on every answer, a sandboxed HTML report, the API docs open, behind a key or
off, and the server's limits on slow or unauthenticated clients, tested over a raw socket on a real server."""

import base64
import re
import socket
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app
from tests.service.databases import fresh_database, new_api_key
from tests.service.servers import running_api
from tests.service.submissions import spec_for

SLOW_CLIENT_LIMIT_S = 1.0  # the test server's header, body and keep-alive timeouts
CLOSED_WITHIN_S = 6.0  # far below the 30 s a half-sent request used to hold a connection


def assert_security_headers(response) -> None:
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_every_answer_carries_the_security_headers(client, auth, settings):
    too_large = b"{" + b" " * settings.max_upload_bytes + b"}"
    answers = [
        client.get("/"),
        client.get("/healthz"),
        client.get("/v1/audits"),  # 401
        client.get("/v1/audits/nope", headers=auth),  # 404
        client.get("/v1/audits?limit=0", headers=auth),  # 422
        client.post("/v1/corpora", content=too_large, headers=auth),  # 413
        client.get("/v1/corpora?name=%00", headers=auth),  # 422 before any route
    ]
    assert [a.status_code for a in answers] == [200, 200, 401, 404, 422, 413, 422]
    for answer in answers:
        assert_security_headers(answer)
    assert client.get("/").headers["content-security-policy"].startswith("default-src 'self'")


def test_the_html_report_is_sandboxed_and_runs_no_script(client, auth, model_root):
    audit_id = client.post("/v1/audits", json=spec_for(model_root), headers=auth).json()["id"]
    html = client.get(f"/v1/audits/{audit_id}/report?format=html", headers=auth)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    policy = [directive.strip() for directive in html.headers["content-security-policy"].split(";")]
    assert "sandbox" in policy and "default-src 'none'" in policy
    assert not any(directive.startswith("script-src") for directive in policy)
    assert_security_headers(html)


def docs_client(settings: Settings, access: str) -> TestClient:
    return TestClient(create_app(settings.model_copy(update={"docs_access": access})))


def test_the_api_docs_can_be_public_off_or_behind_a_key(settings, auth):
    paths = ("/openapi.json", "/docs", "/redoc")
    with docs_client(settings, "public") as client:
        assert [client.get(p).status_code for p in paths] == [200, 200, 200]
        for page in ("/docs", "/redoc"):  # offline: every script and style is the service's own
            answer = client.get(page)
            assert "https://" not in answer.headers["content-security-policy"]
            assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', answer.text)
            assert assets and all(a.startswith("/docs-assets/") and client.get(a).status_code == 200 for a in assets)
    with docs_client(settings, "off") as client:
        assert [client.get(p).status_code for p in paths] == [404, 404, 404]
    key = auth["Authorization"].removeprefix("Bearer ")
    basic = {"Authorization": "Basic " + base64.b64encode(f"any:{key}".encode()).decode()}
    with docs_client(settings, "key") as client:
        refused = client.get("/docs")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
        assert client.get("/openapi.json", headers={"Authorization": "Bearer ua_wrong"}).status_code == 401
        assert [client.get(p, headers=auth).status_code for p in paths] == [200, 200, 200]
        assert client.get("/openapi.json", headers=basic).json()["info"]["title"] == "unlearn-audit"


@pytest.fixture(scope="module")
def slow_client_server(tmp_path_factory) -> Iterator[tuple[str, int, str]]:
    """A real server with short limits: (host, port, an API key)."""
    folder = tmp_path_factory.mktemp("limits")
    with fresh_database("sqlite", folder) as url:
        settings = Settings(
            data_dir=folder, database_url=url, broker_url=f"sqla+sqlite:///{folder / 'broker.sqlite'}",
            header_timeout_s=SLOW_CLIENT_LIMIT_S, body_timeout_s=SLOW_CLIENT_LIMIT_S,
            keep_alive_timeout_s=SLOW_CLIENT_LIMIT_S,
        )  # fmt: skip
        with running_api(settings) as base_url:
            port = int(base_url.rsplit(":", 1)[1])
            yield "127.0.0.1", port, new_api_key(url)


def read_until_closed(connection: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    started, received = time.monotonic(), b""
    connection.settimeout(CLOSED_WITHIN_S * 2)
    while chunk := connection.recv(65536):
        received += chunk
    return received, time.monotonic() - started


def test_a_half_sent_request_does_not_hold_a_connection(slow_client_server):
    host, port, _key = slow_client_server
    with socket.create_connection((host, port)) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # the headers never end
        received, waited_s = read_until_closed(connection)
    assert received == b"" and waited_s < CLOSED_WITHIN_S


def test_a_stalled_body_is_answered_408(slow_client_server):
    host, port, key = slow_client_server
    head = f"POST /v1/corpora HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n"
    with socket.create_connection((host, port)) as connection:
        connection.sendall(f"{head}Content-Length: 1000\r\n\r\n".encode() + b'{"raw": ')
        received, waited_s = read_until_closed(connection)
    assert received.startswith(b"HTTP/1.1 408") and waited_s < CLOSED_WITHIN_S


def test_an_idle_kept_alive_connection_is_closed(slow_client_server):
    host, port, _key = slow_client_server
    with socket.create_connection((host, port)) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        received, waited_s = read_until_closed(connection)
    assert received.startswith(b"HTTP/1.1 200") and waited_s < CLOSED_WITHIN_S


def test_a_write_without_a_valid_key_is_refused_before_its_body_is_read(slow_client_server):
    """The headers announce 24 MB, none of which is sent: the 401 comes without waiting for them."""
    host, port, _key = slow_client_server
    head = "POST /v1/corpora HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ua_not-a-key\r\n"
    with socket.create_connection((host, port)) as connection:
        connection.sendall(f"{head}Content-Type: application/json\r\nContent-Length: 24000000\r\n\r\n".encode())
        answer, waited_s = read_until_closed(connection)
    assert answer.startswith(b"HTTP/1.1 401") and b"a valid API key is required" in answer
    assert waited_s < CLOSED_WITHIN_S
