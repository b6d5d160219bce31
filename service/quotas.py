"""Per-tenant quotas (settings): how much unfinished work and stored corpus text one tenant may hold.

A request that would go over one is refused with QuotaError (429 with Retry-After): it may succeed once the
tenant's runs finish or it deletes corpora. Each check first locks the tenant's row until the request's
transaction ends (SELECT ... FOR UPDATE on PostgreSQL), so that two concurrent requests of one tenant are
counted one after the other instead of both passing on the same count. SQLite has no row locks; the embedded
server it backs serves one user.
"""

from sqlalchemy.orm import Session

from service.corpora import repository as corpora_repository
from service.errors import QuotaError
from service.keys import repository as keys_repository
from service.runs import repository as run_repository


def check_unfinished_runs(session: Session, tenant_id: str, new_runs: int, limit: int) -> None:
    keys_repository.lock_tenant(session, tenant_id)  # the tenant's other requests wait for this one
    unfinished = run_repository.unfinished_count_of_tenant(session, tenant_id)
    if unfinished + new_runs > limit:
        raise QuotaError(
            f"runs: {unfinished} of this tenant's runs are unfinished and this audit adds {new_runs}, above the "
            f"quota of {limit} (UNLEARN_AUDIT_MAX_UNFINISHED_RUNS_PER_TENANT); retry when some have finished"
        )


def check_corpus_bytes(session: Session, tenant_id: str, new_bytes: int, limit: int) -> None:
    keys_repository.lock_tenant(session, tenant_id)  # the tenant's other requests wait for this one
    stored = corpora_repository.stored_bytes(session, tenant_id)
    if stored + new_bytes > limit:
        raise QuotaError(
            f"corpus: this tenant's corpora take {stored} bytes and this one {new_bytes}, above the quota of "
            f"{limit} bytes (UNLEARN_AUDIT_MAX_CORPUS_BYTES_PER_TENANT); delete unused corpora first"
        )
