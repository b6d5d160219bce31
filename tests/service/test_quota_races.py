"""Two concurrent requests of one tenant are counted one after the other: the second sees what the first stored
and is refused when both together go over the quota (PostgreSQL, where requests run in parallel)."""

import threading

from service.corpora.service import store_bundle
from service.db import session_scope
from service.errors import QuotaError
from service.keys.service import create_key
from service.specs.corpus import content_address
from tests.service.databases import fresh_database


def document(text: str) -> dict:
    return {"raw": {"forget": [text * 200]}}


def test_concurrent_corpus_uploads_cannot_both_pass_the_quota(tmp_path):
    quota = content_address(document("a"))[1] * 3 // 2  # one corpus fits, two do not
    with fresh_database("postgresql", tmp_path) as url:
        with session_scope(url) as session:
            tenant_id = create_key(session, "racer").tenant_id
        first_checked, release_first = threading.Event(), threading.Event()
        outcome: dict[str, object] = {}

        def first() -> None:
            with session_scope(url) as session:
                store_bundle(session, tenant_id, document("a"), None, {}, max_tenant_bytes=quota)
                first_checked.set()
                release_first.wait(timeout=30)  # the request is still open: its corpus is not committed yet

        def second() -> None:
            try:
                with session_scope(url) as session:
                    store_bundle(session, tenant_id, document("b"), None, {}, max_tenant_bytes=quota)
                outcome["second"] = "stored"
            except QuotaError as error:
                outcome["second"] = error

        first_thread = threading.Thread(target=first)
        first_thread.start()
        assert first_checked.wait(timeout=30)
        second_thread = threading.Thread(target=second)
        second_thread.start()
        second_thread.join(timeout=1.0)
        assert second_thread.is_alive()  # waiting for the first request's lock on the tenant
        release_first.set()
        first_thread.join(timeout=30)
        second_thread.join(timeout=30)
        assert isinstance(outcome["second"], QuotaError), outcome
        assert "this tenant's corpora take" in str(outcome["second"])
