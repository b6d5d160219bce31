"""Request dependencies as named types, so that routes read like their purpose."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.config import Settings
from service.db import session_scope
from service.keys.service import tenant_for_token
from service.models import Tenant
from service.queue import use_broker

bearer = HTTPBearer(auto_error=False, description="an API key from `unlearn-audit keys create`")
UNAUTHORIZED_DETAIL = "Authorization: a valid API key is required (Bearer token)"


def bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header value, None for any other value."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def known_key(database_url: str, token: str | None) -> bool:
    """Whether the token is an active API key (checks made outside a route's own session)."""
    if not token:
        return False
    with session_scope(database_url) as session:
        return tenant_for_token(session, token) is not None


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    """One session per request, committed when the route returns (then queued tasks are sent)."""
    with session_scope(settings.sqlalchemy_url) as session:
        use_broker(session, str(settings.broker_url))
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_tenant(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Tenant:
    unauthorized = HTTPException(401, detail=UNAUTHORIZED_DETAIL, headers={"WWW-Authenticate": "Bearer"})
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized
    tenant = tenant_for_token(session, credentials.credentials)
    if tenant is None:
        raise unauthorized
    return tenant


CurrentTenant = Annotated[Tenant, Depends(get_tenant)]
