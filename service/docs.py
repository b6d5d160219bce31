"""The API's documentation routes (/openapi.json, /docs, /redoc): open, behind an API key, or off (a setting).

Swagger UI and ReDoc come from the assets packaged with `fastapi-offline`, served here (`/docs-assets`), so
the pages work without the internet and the Content-Security-Policy allows no other origin.

Behind a key, a request shows any tenant's valid API key as a bearer token, or as the password of HTTP Basic
authentication, which is what a browser can send to /docs after asking for it.
"""

import base64
import binascii
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from service.config import Settings
from service.deps import SettingsDep, bearer_token, known_key
from service.problems import SCHEMA_REF, Problem
from service.specs.report import Report

OPENAPI_URL = "/openapi.json"
ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"


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
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title=f"{app.title} - API docs",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False, dependencies=guard)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=OPENAPI_URL,
            title=f"{app.title} - API docs",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")  # library code: no key needed


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with the schemas that routes refer to by hand: problems, and the JSON report."""
    document = app.openapi()
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, Report):
        for name, schema in component_schemas(model).items():
            schemas.setdefault(name, schema)
    return document


def component_schemas(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema and those it refers to, as OpenAPI components."""
    schema = model.model_json_schema(ref_template=f"{SCHEMA_REF}{{model}}", mode="serialization")
    nested = schema.pop("$defs", {})
    return {model.__name__: schema, **nested}


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
