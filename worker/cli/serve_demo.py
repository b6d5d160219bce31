"""The built-in demo audit run THROUGH the API of a starting embedded server (`serve --demo`).

Builds the demo's models under the first allowed model root, uploads the bundle as a corpus, submits the
spec, prints progress until the audit finishes, then the verdict table and where to see the results.
"""

import time

import httpx
import uvicorn

from service.config import Settings
from service.db import session_scope
from service.keys.service import create_key
from service.models.states import AuditStatus, RunStatus
from service.specs.corpus import load_bundle
from service.specs.report import Report
from worker.cli.progress_bars import StageBars
from worker.cli.report_output import format_results_table
from worker.engine.demo import DemoConfig, demo_spec, prepare_demo
from worker.engine.threads import temporary_thread_count

POLL_INTERVAL_S = 2.0


def run_demo_when_ready(server: uvicorn.Server, base_url: str, settings: Settings, size: str, exit_after: bool) -> None:
    try:
        while not server.started:
            time.sleep(0.1)
        server.demo_exit_code = run_demo(base_url, settings, size)  # type: ignore[attr-defined]
    except Exception as error:  # the demo's failure is reported; the server keeps serving unless told to stop
        print(f"demo failed: {type(error).__name__}: {error}", flush=True)
        server.demo_exit_code = 1  # type: ignore[attr-defined]
    if exit_after:
        server.should_exit = True


def run_demo(base_url: str, settings: Settings, size: str) -> int:
    with session_scope(settings.sqlalchemy_url) as session:
        token = create_key(session, "demo").token
    print("building the demo's models (cached after the first run) ...", flush=True)
    bars = StageBars(enabled=True)
    config = DemoConfig.fast() if size == "fast" else DemoConfig()
    with temporary_thread_count(settings.torch_threads):  # the worker keeps a core for the API while it audits
        assets = prepare_demo(settings.model_roots[0] / "demo", config, progress=bars)
    bars.close()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        document = load_bundle(assets.bundle_dir).to_document()
        corpus = _ok(client.post("/v1/corpora", params={"name": "demo"}, json=document))
        spec = {**demo_spec(assets), "corpus": corpus["id"]}
        audit_id = _ok(client.post("/v1/audits", json=spec))["id"]
        print(f"submitted audit {audit_id} through {base_url}/v1/audits", flush=True)
        started = time.monotonic()
        status = follow(client, audit_id)
        elapsed_s = time.monotonic() - started
        report = Report.model_validate(_ok(client.get(f"/v1/audits/{audit_id}/report", params={"format": "json"})))
    print(format_results_table(report), flush=True)
    print(
        f"\naudit {status} in {elapsed_s:.0f} s. dashboard: {base_url}/  (sign in with the demo key: {token})\n"
        f"results: {base_url}/v1/audits/{audit_id}/results\n"
        f"report:  {base_url}/v1/audits/{audit_id}/report?format=html",
        flush=True,
    )
    return 0 if status == AuditStatus.SUCCEEDED else 1


def follow(client: httpx.Client, audit_id: str) -> str:
    """Print one progress line per change until the audit finishes; its final status."""
    last_line = ""
    while True:
        audit = _ok(client.get(f"/v1/audits/{audit_id}", params={"include": "runs", "limit": 200}))
        runs = [r for r in audit["runs"] if r["status"] == RunStatus.RUNNING]
        running = [f"{r['model']} @ {r['precision_label']}: {r['stage']}" for r in runs]
        done = audit["progress"]
        line = f"[{done['share_done']:4.0%}] {done['runs_done']}/{done['runs_total']} runs  " + "; ".join(running)
        if line != last_line:
            print(line, flush=True)
            last_line = line
        if audit["status"] in AuditStatus.finished():
            if audit["error"]:
                print(f"errors: {audit['error']}", flush=True)
            return audit["status"]
        time.sleep(POLL_INTERVAL_S)


def _ok(response: httpx.Response) -> dict:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return response.json()
