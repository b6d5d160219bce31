"""A full disk on SQLite and PostgreSQL: writes are answered 507 in JSON with a clear message and store
nothing, deletes still work (and free space), and /readyz says when free space runs low.

The fault is controlled at the database: SQLite's page count is capped where it stands (`max_page_count`,
so that a write needing a new page fails with SQLITE_FULL, "database or disk is full", as on a full disk),
and PostgreSQL gets a trigger that raises disk_full (SQLSTATE 53100, what it raises when it cannot extend
a file) for every new corpus row. Both are the errors a full disk produces, without filling one.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import event

from service.db import engine_for
from service.disk import DISK_FULL_DETAIL
from service.main import create_app
from tests.service.problems import problem
from tests.service.submissions import spec_for
from tests.tiny_world import make_bundle

FULL_DISK_TRIGGER = """
CREATE FUNCTION fail_as_a_full_disk() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$;
CREATE TRIGGER full_disk BEFORE INSERT ON corpora FOR EACH ROW EXECUTE FUNCTION fail_as_a_full_disk();
"""
NO_TRIGGER = "DROP TRIGGER full_disk ON corpora; DROP FUNCTION fail_as_a_full_disk();"


@contextmanager
def disk_full(database_url: str) -> Iterator[None]:
    engine = engine_for(database_url)
    if not database_url.startswith("sqlite"):
        with engine.begin() as connection:
            connection.exec_driver_sql(FULL_DISK_TRIGGER)
        try:
            yield
        finally:
            with engine.begin() as connection:
                connection.exec_driver_sql(NO_TRIGGER)
        return
    with engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()

    def cap(dbapi_connection, _record) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    engine.dispose()  # every connection from now on is opened with the cap
    event.listen(engine, "connect", cap)
    try:
        yield
    finally:
        event.remove(engine, "connect", cap)
        engine.dispose()


def big_bundle(marker: str) -> dict:
    """A bundle that needs new database pages (about 60 KB of text)."""
    document = make_bundle().to_document()
    document["raw"]["forget"] = [f"{marker} " + "forget text " * 5000]
    return document


def test_writes_on_a_full_disk_are_507_and_store_nothing(client, auth, database_url, model_root, caplog):
    with disk_full(database_url), caplog.at_level(logging.INFO):
        upload = client.post("/v1/corpora", json=big_bundle("secret-passage-1"), headers=auth)
        inline = client.post("/v1/audits", json=spec_for(model_root, corpus=big_bundle("secret-2")), headers=auth)
    for response in (upload, inline):
        assert problem(response, 507, "disk-full")["detail"] == DISK_FULL_DETAIL
    assert client.get("/v1/corpora", headers=auth).json()["total"] == 0
    assert client.get("/v1/audits", headers=auth).json()["total"] == 0
    assert "disk full on POST /v1/corpora" in caplog.text
    assert "secret-passage-1" not in caplog.text and "secret-2" not in caplog.text  # no parameters logged


def test_deletes_work_on_a_full_disk_and_free_its_space(client, auth, database_url):
    corpus_id = client.post("/v1/corpora", json=big_bundle("first"), headers=auth).json()["id"]
    with disk_full(database_url):
        assert client.post("/v1/corpora", json=big_bundle("second"), headers=auth).status_code == 507
        assert client.delete(f"/v1/corpora/{corpus_id}", headers=auth).status_code == 204
        if database_url.startswith("sqlite"):  # the freed pages take the next corpus of that size
            assert client.post("/v1/corpora", json=big_bundle("second"), headers=auth).status_code == 201
    assert client.get(f"/v1/corpora/{corpus_id}", headers=auth).status_code == 404


def test_readiness_reports_low_disk_space(settings):
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["disk"] == "ok"
    with TestClient(create_app(settings.model_copy(update={"min_free_bytes": 2**62}))) as client:
        low = client.get("/readyz")
        assert low.status_code == 503
        assert low.json() == {"status": "unavailable", "database": "ok", "broker": "ok", "disk": "low"}
