"""API keys: high-entropy bearer tokens, of which only the sha256 is stored (shown once at creation)."""

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from service.keys import repository
from service.models import Tenant
from service.models.base import utc_now
from service.specs.naming import is_plain_name

TOKEN_PREFIX = "ua_"


@dataclass(frozen=True)
class CreatedKey:
    key_id: str
    tenant_id: str
    tenant_name: str
    token: str


class KeyNotFoundError(LookupError):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_key(session: Session, tenant_name: str) -> CreatedKey:
    """A new key for the tenant (created on first use of its name: a plain name, as it names its model folders)."""
    name = tenant_name.strip()
    if not is_plain_name(name):
        raise ValueError("tenant: up to 64 letters, digits, '_', '-' or '.', starting with a letter or a digit")
    tenant = repository.tenant_by_name(session, name) or repository.add_tenant(session, name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = repository.add_key(session, tenant, hash_token(token))
    return CreatedKey(key_id=key.id, tenant_id=tenant.id, tenant_name=tenant.name, token=token)


def revoke_key(session: Session, key_id: str) -> None:
    key = repository.key_by_id(session, key_id)
    if key is None:
        raise KeyNotFoundError(f"key_id: no API key with id '{key_id}'")
    if key.revoked_at is None:
        key.revoked_at = utc_now()


def tenant_for_token(session: Session, token: str) -> Tenant | None:
    return repository.active_tenant_for_hash(session, hash_token(token))
