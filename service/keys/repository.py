"""Every query on tenants and API keys."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.models import ApiKey, Tenant


def tenant_by_name(session: Session, name: str) -> Tenant | None:
    return session.scalars(select(Tenant).where(Tenant.name == name)).one_or_none()


def has_tenants(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Tenant)))


def lock_tenant(session: Session, tenant_id: str) -> None:
    """Hold the tenant's row until this transaction ends (SELECT ... FOR UPDATE; nothing on SQLite)."""
    session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())


def add_tenant(session: Session, name: str) -> Tenant:
    tenant = Tenant(name=name)
    session.add(tenant)
    session.flush()
    return tenant


def add_key(session: Session, tenant: Tenant, token_sha256: str) -> ApiKey:
    key = ApiKey(tenant_id=tenant.id, token_sha256=token_sha256)
    session.add(key)
    session.flush()
    return key


def key_by_id(session: Session, key_id: str) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def active_tenant_for_hash(session: Session, token_sha256: str) -> Tenant | None:
    query = (
        select(Tenant)
        .join(ApiKey, ApiKey.tenant_id == Tenant.id)
        .where(ApiKey.token_sha256 == token_sha256, ApiKey.revoked_at.is_(None))
    )
    return session.scalars(query).one_or_none()
