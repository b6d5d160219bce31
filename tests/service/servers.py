"""Real processes for the end-to-end tests: the API on a free port (uvicorn in a thread) and worker processes."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
import redis
import uvicorn

from service.config import Settings
from service.main import create_app
from service.models.states import AuditStatus
from service.server import server_config

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")
CLI = [str(Path(sys.executable).parent / "unlearn-audit")]


# a Redis database of its own (flushed per test); a second checkout testing at the same time sets another
TEST_REDIS_URL = os.environ.get("UNLEARN_AUDIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


def fresh_redis() -> str:
    """The tests' Redis database, emptied; the test is skipped when Redis is not answering."""
    try:
        redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    except redis.ConnectionError:
        pytest.skip("Redis is not answering on 127.0.0.1:6379 (scripts/services.sh starts it)")
    return TEST_REDIS_URL


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_api(settings: Settings) -> Iterator[str]:
    """The app served over real HTTP on 127.0.0.1, as `unlearn-audit serve` serves it; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(server_config(create_app(settings), settings, "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 20, "the API to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a worker process the same settings."""
    return {
        **os.environ,
        "UNLEARN_AUDIT_DATA_DIR": str(settings.data_dir),
        "UNLEARN_AUDIT_DATABASE_URL": str(settings.database_url),
        "UNLEARN_AUDIT_BROKER_URL": str(settings.broker_url),
        "UNLEARN_AUDIT_MODEL_ROOTS": "[" + ",".join(f'"{root}"' for root in settings.model_roots) + "]",
        "UNLEARN_AUDIT_SHARED_MODEL_ROOTS": str(settings.shared_model_roots).lower(),
        "UNLEARN_AUDIT_VISIBILITY_TIMEOUT_S": str(settings.visibility_timeout_s),
        "UNLEARN_AUDIT_PROGRESS_INTERVAL_S": str(settings.progress_interval_s),
        "UNLEARN_AUDIT_WEBHOOK_ALLOW_PRIVATE": str(settings.webhook_allow_private).lower(),
        "UNLEARN_AUDIT_WEBHOOK_RETRY_BASE_S": str(settings.webhook_retry_base_s),
        "UNLEARN_AUDIT_WEBHOOK_GIVE_UP_S": str(settings.webhook_give_up_s),
        "UNLEARN_AUDIT_WEBHOOK_TIMEOUT_S": str(settings.webhook_timeout_s),
        "PYTHONPATH": str(REPO),
    }


def start_worker(settings: Settings, log: Path) -> subprocess.Popen:
    """`unlearn-audit worker` in its own process group (so that a kill reaches everything it started)."""
    command = [*CLI, "worker", "--pool", "solo", "--loglevel", "INFO"]
    with log.open("ab") as sink:
        return subprocess.Popen(
            command, env=settings_env(settings), cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )


def kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        process.wait(30)


def pause(process: subprocess.Popen) -> None:
    """Freeze the process group where it stands (SIGSTOP): nothing it does moves on until `resume`."""
    os.killpg(process.pid, signal.SIGSTOP)


def resume(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGCONT)


def wait_for(condition: Callable[[], T | None], timeout_s: float, what: str, interval_s: float = 0.2) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")


def wait_for_audit(client: httpx.Client, audit_id: str, timeout_s: float) -> dict:
    def finished() -> dict | None:
        audit = client.get(f"/v1/audits/{audit_id}", params={"include": "runs", "limit": 200}).json()
        return audit if audit["status"] in AuditStatus.finished() else None

    return wait_for(finished, timeout_s, f"audit {audit_id} to finish", interval_s=1.0)
