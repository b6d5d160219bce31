"""Fixtures for the browser tests: the real API (uvicorn, SQLite migrated by Alembic) and headless Chromium."""

import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from service.config import Settings
from service.db import session_scope
from service.keys.service import create_key
from tests.dashboard.browser import CHROMIUM, LAPTOP, chromium
from tests.service.databases import fresh_database
from tests.service.servers import CLI, REPO, free_port, kill, running_api, settings_env, wait_for
from tests.tiny_world import stand_in_models


@dataclass(frozen=True)
class LiveService:
    url: str
    settings: Settings

    def new_key(self) -> str:
        """An API key of a new tenant (what `unlearn-audit keys create` prints)."""
        with session_scope(self.settings.sqlalchemy_url) as session:
            return create_key(session, f"tenant-{uuid.uuid4().hex[:8]}").token

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


@pytest.fixture(scope="module")
def live_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The API on a SQLite database built by the migrations, with no worker: audits stay queued."""
    folder = tmp_path_factory.mktemp("live")
    with fresh_database("sqlite", folder) as database_url:
        settings = Settings(
            data_dir=folder,
            database_url=database_url,
            broker_url=f"sqla+sqlite:///{folder / 'broker.sqlite'}",
            model_roots=[stand_in_models(folder / "models", ("target", "ga", "ga_klr"))],
            shared_model_roots=True,
        )
        with running_api(settings) as url:
            yield LiveService(url, settings)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install chromium)")
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh browser context (its own sessionStorage) at laptop size; page errors and anything the
    Content-Security-Policy blocks fail the test (the dashboard must work under the policy it is served with)."""
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: "Content Security Policy" in message.text and errors.append(message.text))
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="module")
def embedded_service(tmp_path_factory: pytest.TempPathFactory, tiny_target_dir: Path) -> Iterator[LiveService]:
    """`unlearn-audit serve` (SQLite, in-process worker) in its own process, reading models under tmp."""
    folder = tmp_path_factory.mktemp("embedded")
    settings = Settings(
        data_dir=folder / "data",
        model_roots=[tmp_path_factory.getbasetemp()],
        shared_model_roots=True,
        progress_interval_s=0.2,
    )
    port = free_port()
    log = folder / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", str(port)], env=settings_env(settings), cwd=REPO,
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url) or process.poll() is not None, 120, f"`unlearn-audit serve` on {url}")
        if process.poll() is not None:
            raise RuntimeError(f"`unlearn-audit serve` stopped:\n{log.read_text()[-3000:]}")
        yield LiveService(url, settings)
    finally:
        kill(process, signal.SIGTERM)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
