"""`unlearn-audit serve` (SQLite + in-process worker) runs an audit end to end; a key made beside it works."""

import stat

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_serve_runs_a_tiny_audit_and_serves_its_results(live_audit_server):
    headers = {"Authorization": f"Bearer {live_audit_server.api_key}"}
    base = f"{live_audit_server.url}/v1/audits/{live_audit_server.audit_id}"
    results = httpx.get(f"{base}/results", headers=headers, timeout=30).json()
    assert results["status"] == "succeeded"
    assert results["verdict"] in ("pass", "fail", "inconclusive", "utility_lost", "undefined")
    assert len(results["matrix"]) == 4 and results["collisions"][0]["model"] == "noisy"
    assert results["summary"]["skipped_metrics"] == {}
    for name in ("unlearn-audit.sqlite", "unlearn-audit.sqlite-wal", "broker.sqlite"):  # private to the user
        assert stat.S_IMODE((live_audit_server.data_dir / name).stat().st_mode) == 0o600, name
    ready = httpx.get(f"{live_audit_server.url}/readyz", timeout=10).json()
    assert ready == {"status": "ok", "database": "ok", "broker": "ok", "disk": "ok"}
    page = httpx.get(f"{live_audit_server.url}/", timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower()
