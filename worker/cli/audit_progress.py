"""Waiting for an audit on the service: conditional polls (ETag) with progress bars, until it has finished."""

import time
from typing import Any

import httpx

from service.models.states import AuditStatus
from worker.cli.api_client import call
from worker.cli.progress_bars import StageBars

POLL_FIELDS = "status,progress,verdict,error"
KIND_ORDER = ("unlearn", "evaluate", "collision")


def show_progress(bars: StageBars, audit: dict[str, Any]) -> None:
    """One bar for the runs of the first kind that still has runs to do."""
    by_kind = audit["progress"]["by_kind"]
    for kind in sorted(by_kind, key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER)):
        stage = by_kind[kind]
        if stage["done"] < stage["total"]:
            bars(f"{kind} runs", stage["done"], stage["total"])
            return


def wait_for_audit(client: httpx.Client, audit_id: str, interval_s: float, bars: StageBars) -> dict[str, Any]:
    """The audit's status, progress, verdict and error once it has finished (polled with If-None-Match: an
    unchanged audit costs a 304 and no body)."""
    finished = {status.value for status in AuditStatus.finished()}
    etag: str | None = None
    audit: dict[str, Any] = {}
    while True:
        headers = {"If-None-Match": etag} if etag else {}
        response = call(client, "GET", f"/v1/audits/{audit_id}", params={"fields": POLL_FIELDS}, headers=headers)
        if response.status_code != 304:
            audit, etag = response.json(), response.headers.get("etag")
            show_progress(bars, audit)
        if audit["status"] in finished:
            bars.close()
            return audit
        time.sleep(interval_s)
