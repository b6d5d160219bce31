"""The API's documentation routes (/openapi.json, /docs, /redoc): open, behind an API key, or off (a setting).

Behind a key, a request shows any tenant's valid API key as a bearer token, or as the password of HTTP Basic
authentication, which is what a browser can send to /docs after asking for it.
"""

import base64
import binascii
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from service.config import Settings
from service.deps import SettingsDep, bearer_token, known_key
from service.problems import problem_schemas

OPENAPI_URL = "/openapi.json"


def add_docs_routes(app: FastAPI, settings: Settings) -> None:
    """Call with an app made with `openapi_url=None, docs_url=None, redoc_url=None`."""
    if settings.docs_access == "off":
        return
    guard = [Depends(require_docs_key)] if settings.docs_access == "key" else []

    @app.get(OPENAPI_URL, include_in_schema=False, dependencies=guard)
    def openapi() -> JSONResponse:
        return JSONResponse(openapi_document(app))

    @app.get("/docs", include_in_schema=False, dependencies=guard)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_URL, title=f"{app.title} - API docs")

    @app.get("/redoc", include_in_schema=False, dependencies=guard)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=OPENAPI_URL, title=f"{app.title} - API docs")


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with the schemas of the problem answers that routes refer to."""
    document = app.openapi()
    document.setdefault("components", {}).setdefault("schemas", {}).update(problem_schemas())
    return document


def require_docs_key(request: Request, settings: SettingsDep) -> None:
    if known_key(settings.sqlalchemy_url, _presented_key(request.headers.get("authorization", ""))):
        return
    raise HTTPException(
        401,
        detail="the API docs need an API key: as a Bearer token, or as the password of Basic authentication",
        headers={"WWW-Authenticate": 'Basic realm="unlearn-audit API docs", Bearer'},
    )


def _presented_key(authorization: str) -> str | None:
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        return bearer_token(authorization)
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None
