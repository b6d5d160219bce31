"""`GET /metrics` in the Prometheus text format: HTTP metrics from the instrumentator (by route template,
method and status class) and the state of the work (service.metrics.collector), each app with a registry of
its own. Off by default; `metrics_access` serves it openly or behind its own bearer token (`metrics_token`,
not an API key: a scraper is no tenant)."""

import hmac

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_fastapi_instrumentator import Instrumentator

from service.config import Settings
from service.deps import SettingsDep, bearer_token
from service.metrics.collector import WorkCollector

METRICS_PATH = "/metrics"


def add_metrics(app: FastAPI, settings: Settings) -> None:
    if settings.metrics_access == "off":
        return
    registry = CollectorRegistry()
    registry.register(WorkCollector(settings.sqlalchemy_url, str(settings.broker_url)))
    Instrumentator(registry=registry, excluded_handlers=[METRICS_PATH]).instrument(app)
    guard = [Depends(require_metrics_token)] if settings.metrics_access == "token" else []

    @app.get(METRICS_PATH, include_in_schema=False, dependencies=guard)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def require_metrics_token(request: Request, settings: SettingsDep) -> None:
    presented = bearer_token(request.headers.get("authorization", "")) or ""
    expected = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if not (expected and hmac.compare_digest(presented.encode(), expected.encode())):
        raise HTTPException(
            401,
            detail="Authorization: /metrics needs the metrics token (Bearer)",
            headers={"WWW-Authenticate": "Bearer"},
        )
