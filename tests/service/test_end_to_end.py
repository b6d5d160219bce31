"""A real Celery worker process on Redis runs a tiny audit submitted over HTTP, on PostgreSQL, until the
results are served; a second test kills the worker mid-run and checks that a new one completes the audit with
every result present exactly once."""

import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from service.config import Settings
from service.db import session_scope
from service.keys.service import create_key
from service.models import ItemScore, Result
from tests.service.databases import fresh_database
from tests.service.servers import fresh_redis, kill, pause, resume, running_api, start_worker, wait_for, wait_for_audit

pytestmark = [pytest.mark.slow, pytest.mark.services]


@pytest.fixture
def redis_broker() -> str:
    return fresh_redis()


@pytest.fixture
def e2e_settings(tmp_path: Path, tmp_path_factory, redis_broker: str) -> Settings:
    with fresh_database("postgresql", tmp_path) as url:
        yield Settings(
            data_dir=tmp_path,
            database_url=url,
            broker_url=redis_broker,
            model_roots=[tmp_path_factory.getbasetemp()],
            shared_model_roots=True,
            visibility_timeout_s=3,
            progress_interval_s=0.0,
        )


def tiny_spec(target: Path, unlearned: Path, bundle) -> dict:
    return {
        "target": {"model": str(target)},
        "unlearned": [{"name": "noisy", "model": str(unlearned)}],
        "corpus": bundle.to_document(),
        "precisions": [{"method": "full"}, {"method": "rtn", "bits": 4, "group_size": 32}],
        "metrics": ["verbmem_f", "knowmem_f", "knowmem_r", "collision"],
        "limits": {"max_items": 4, "bootstrap_samples": 20},
    }


def api_client(base_url: str, settings: Settings) -> httpx.Client:
    with session_scope(settings.sqlalchemy_url) as session:
        token = create_key(session, f"e2e-{uuid.uuid4().hex[:6]}").token
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_a_real_worker_runs_an_audit_submitted_over_http(
    e2e_settings, tiny_target_dir, tiny_unlearned_dir, tiny_bundle, tmp_path
):
    from service.specs.audit import AuditSpec
    from service.specs.precision import FullPrecision
    from worker.engine.models import load_model
    from worker.engine.variant import evaluate_variant

    worker = start_worker(e2e_settings, tmp_path / "worker.log")
    try:
        with running_api(e2e_settings) as base_url, api_client(base_url, e2e_settings) as client:
            spec = tiny_spec(tiny_target_dir, tiny_unlearned_dir, tiny_bundle)
            audit_id = client.post("/v1/audits", json=spec).json()["id"]
            audit = wait_for_audit(client, audit_id, timeout_s=300)
            assert audit["status"] == "succeeded", (audit["error"], (tmp_path / "worker.log").read_text()[-3000:])
            results = client.get(f"/v1/audits/{audit_id}/results").json()
            items = client.get(f"/v1/audits/{audit_id}/items", params={"limit": 200}).json()
            risen = client.get(f"/v1/audits/{audit_id}/items", params={"rose": "true", "limit": 200}).json()
            html = client.get(f"/v1/audits/{audit_id}/report", headers={"Accept": "text/html"})
            csv = client.get(f"/v1/audits/{audit_id}/report", params={"format": "csv"})
    finally:
        kill(worker)
    cells = {(c["model"], c["precision_label"]): c for c in results["matrix"]}
    assert set(cells) == {(m, p) for m in ("target", "noisy") for p in ("full", "rtn-w4-g32-asym")}
    assert results["verdict"] in ("pass", "fail", "inconclusive", "utility_lost", "undefined")
    assert results["summary"]["verdicts"]["noisy"].keys() == {"full", "rtn-w4-g32-asym"}
    assert [(c["model"], c["precision_label"]) for c in results["collisions"]] == [("noisy", "rtn-w4-g32-asym")]
    assert 0.9 < results["collisions"][0]["overall"] <= 1.0  # noise of 1e-4 rarely crosses a 4-bit bucket edge
    # What the service stored is what the engine computes for the same variant.
    expected = evaluate_variant(
        load_model("target", str(tiny_target_dir)), FullPrecision(), AuditSpec.model_validate(spec), tiny_bundle
    )
    assert cells[("target", "full")]["metrics"] == pytest.approx(expected.variant.metrics)
    assert items["total"] == 4 * (4 + 4 + 4)  # 4 variants x (4 verbmem + 4 knowmem_f + 4 knowmem_r items)
    assert all(i["score"] > i["full_score"] and i["precision_label"] != "full" for i in risen["items"])
    score = {(i["model"], i["precision_label"], i["metric"], i["index"]): i["score"] for i in items["items"]}
    rose = [key for key, value in score.items() if key[1] != "full" and value > score[(key[0], "full", *key[2:])]]
    assert risen["total"] == len(rose)
    assert html.headers["content-type"].startswith("text/html") and "noisy" in html.text
    assert "sandbox" in html.headers["content-security-policy"]
    assert csv.text.splitlines()[0].startswith("model,precision,metric")
    # the worker logged at INFO all along: no corpus text and no model output reached its log
    worker_log = (tmp_path / "worker.log").read_text()
    assert "INFO" in worker_log
    texts = [i["truth"] for i in items["items"] if i["truth"]] + [i["output"] for i in items["items"] if i["output"]]
    assert texts and not [text for text in texts if len(text.strip()) > 12 and text.strip() in worker_log]


def test_a_killed_worker_loses_nothing(e2e_settings, tiny_target_dir, tiny_unlearned_dir, tiny_bundle, tmp_path):
    log = tmp_path / "workers.log"
    first = start_worker(e2e_settings, log)
    second = None
    try:
        with running_api(e2e_settings) as base_url, api_client(base_url, e2e_settings) as client:
            spec = tiny_spec(tiny_target_dir, tiny_unlearned_dir, tiny_bundle)
            audit_id = client.post("/v1/audits", json=spec).json()["id"]

            def evaluating() -> bool:
                runs = client.get(f"/v1/audits/{audit_id}?include=runs").json()["runs"]
                return any(r["status"] == "running" and r["stage"] not in (None, "starting") for r in runs)

            def paused_mid_run() -> bool:
                """The worker frozen while a run is under way. Frozen first and looked at after: a run seen
                running just before it stored its outputs would otherwise finish before the kill, and the kill
                would land between two runs, with no run to deliver again."""
                if not evaluating():
                    return False
                pause(first)
                time.sleep(0.2)  # a commit the worker sent just before it froze lands
                if evaluating():
                    return True
                resume(first)
                return False

            wait_for(paused_mid_run, 120, "a run to be under way")
            kill(first)
            second = start_worker(e2e_settings, log)
            audit = wait_for_audit(client, audit_id, timeout_s=300)
    finally:
        kill(first)
        if second is not None:
            kill(second)
    assert audit["status"] == "succeeded", (audit["error"], log.read_text()[-3000:])
    assert max(r["attempts"] for r in audit["runs"]) == 2  # the interrupted run was delivered again
    with session_scope(e2e_settings.sqlalchemy_url) as session:
        result_count = session.scalar(select(func.count()).select_from(Result).where(Result.audit_id == audit_id))
        duplicates = session.execute(
            select(ItemScore.model, ItemScore.precision_label, ItemScore.metric, ItemScore.item_index)
            .where(ItemScore.audit_id == audit_id)
            .group_by(ItemScore.model, ItemScore.precision_label, ItemScore.metric, ItemScore.item_index)
            .having(func.count() > 1)
        ).all()
        item_count = session.scalar(select(func.count()).select_from(ItemScore).where(ItemScore.audit_id == audit_id))
    assert result_count == 4 and duplicates == [] and item_count == 4 * 12


def test_an_identical_quantized_model_takes_the_targets_results(
    e2e_settings, tiny_target_dir, identical_copies, tiny_bundle, tmp_path
):
    label = "rtn-w4-g64-asym"
    spec = {
        "target": {"model": str(tiny_target_dir)},
        "unlearned": [{"name": name, "model": str(identical_copies[name])} for name in ("bucket", "moved")],
        "corpus": tiny_bundle.to_document(),
        "precisions": [{"method": "full"}, {"method": "rtn", "bits": 4, "group_size": 64}],
        "metrics": ["verbmem_f", "collision"],
        "limits": {"max_items": 3, "bootstrap_samples": 20},
    }
    worker = start_worker(e2e_settings, tmp_path / "worker.log")
    try:
        with running_api(e2e_settings) as base_url, api_client(base_url, e2e_settings) as client:
            audit_id = client.post("/v1/audits", json=spec).json()["id"]
            audit = wait_for_audit(client, audit_id, timeout_s=300)
            assert audit["status"] == "succeeded", (audit["error"], (tmp_path / "worker.log").read_text()[-3000:])
            cells = {
                (c["model"], c["precision_label"]): c
                for c in client.get(f"/v1/audits/{audit_id}/results").json()["matrix"]
            }
            items = client.get(f"/v1/audits/{audit_id}/items", params={"limit": 200}).json()["items"]
    finally:
        kill(worker)
    copied, target = cells[("bucket", label)], cells[("target", label)]
    assert copied["identical_to"] == "target" and copied["metrics"] == target["metrics"] and copied["timings"] == {}
    assert copied["state_digest"] == target["state_digest"] == copied["collision"]["target_digest"]
    assert cells[("moved", label)]["identical_to"] is None and cells[("moved", label)]["timings"]
    assert cells[("bucket", "full")]["identical_to"] is None
    evidence = {
        m: [(i["index"], i["output"], i["score"]) for i in items if (i["model"], i["precision_label"]) == (m, label)]
        for m in ("bucket", "target")
    }
    assert evidence["bucket"] and sorted(evidence["bucket"]) == sorted(evidence["target"])


def test_a_second_audit_of_the_same_target_reuses_the_tenants_results_only(
    e2e_settings, tiny_target_dir, identical_copies, tiny_bundle, tmp_path
):
    def spec(*names: str, **extra) -> dict:
        unlearned = [{"name": name, "model": str(identical_copies[name])} for name in names]
        return {"target": {"model": str(tiny_target_dir)}, "unlearned": unlearned, "corpus": tiny_bundle.to_document(),
                "metrics": ["verbmem_f"], "limits": {"max_items": 2, "bootstrap_samples": 20}, **extra}  # fmt: skip

    def audit(api: httpx.Client, document: dict) -> tuple[str, dict]:
        audit_id = api.post("/v1/audits", json=document).json()["id"]
        finished = wait_for_audit(api, audit_id, timeout_s=300)
        assert finished["status"] == "succeeded", finished["error"]
        matrix = api.get(f"/v1/audits/{audit_id}/results").json()["matrix"]
        return audit_id, {cell["model"]: cell for cell in matrix}

    worker = start_worker(e2e_settings, tmp_path / "worker.log")
    try:
        with (
            running_api(e2e_settings) as base_url,
            api_client(base_url, e2e_settings) as client,
            api_client(base_url, e2e_settings) as other_tenant,
        ):
            first_id, first = audit(client, spec("moved"))
            second_id, second = audit(client, spec("moved", "bucket"))
            _, forced = audit(client, spec("moved", cache=False))
            _, elsewhere = audit(other_tenant, spec("moved"))
            report = client.get(f"/v1/audits/{second_id}/report", params={"format": "json"}).json()
    finally:
        kill(worker)
    assert {model: cell["reused_from"] for model, cell in second.items()} == {
        "target": first_id, "moved": first_id, "bucket": None
    }  # fmt: skip
    assert all(second[m]["metrics"] == first[m]["metrics"] for m in ("target", "moved"))
    assert all(cell["reused_from"] is None for cell in (*forced.values(), *elsewhere.values()))
    assert report["provenance"]["audit_id"] == second_id
    assert set(report["provenance"]["models"]) == {"target", "moved", "bucket"}  # reused models are named too
