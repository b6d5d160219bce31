"""The compose file and Dockerfile describe the deployment of DESIGN 4 (Docker does not run here)."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_and_start_order():
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "api", "gpu-worker", "cpu-worker", "flower"} <= set(services)
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("api", "gpu-worker", "cpu-worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["redis"] == {"condition": "service_healthy"}, name
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert services["flower"]["profiles"] == ["monitoring"]


def test_health_checks():
    services = compose()["services"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])


def test_workers_consume_their_queues_and_reserve_gpus():
    services = compose()["services"]
    gpu = services["gpu-worker"]
    assert gpu["command"][:4] == ["unlearn-audit", "worker", "--queues", "gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert devices["capabilities"] == ["gpu"] and devices["count"] == 1
    assert services["cpu-worker"]["command"][:4] == ["unlearn-audit", "worker", "--queues", "cpu"]


def test_every_service_reads_the_same_settings():
    services = compose()["services"]
    settings = [services[name]["environment"] for name in ("migrate", "api", "gpu-worker", "cpu-worker")]
    urls = {(env["DATABASE_URL"], env["REDIS_URL"]) for env in settings}
    assert len(urls) == 1 and next(iter(urls))[0].startswith("postgresql+psycopg://")


def test_dockerfile_has_a_light_api_image_and_a_cuda_worker_image():
    stages = {}
    current = None
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("FROM "):
            current = line.split(" AS ")[-1].strip()
            stages[current] = [line]
        elif current and not line.startswith("#"):
            stages[current].append(line)
    assert {"base", "api", "worker"} <= set(stages)
    api = "\n".join(stages["api"])
    assert "torch" not in api and "worker]" not in api and 'pip install ".[s3]"' in api
    worker = "\n".join(stages["worker"])
    assert stages["worker"][0].startswith("FROM nvidia/cuda:") and '".[worker,s3]"' in worker


def test_every_service_finds_the_same_artifact_store():
    services = compose()["services"]
    for name in ("api", "gpu-worker", "cpu-worker"):
        environment = services[name]["environment"]
        assert environment["UNLEARN_AUDIT_ARTIFACT_URL"] == "${ARTIFACT_URL:-}", name
        assert environment["UNLEARN_AUDIT_ARTIFACT_ENDPOINT_URL"] == "${ARTIFACT_ENDPOINT_URL:-}", name


def test_the_database_password_has_no_default():
    """`${VAR:?message}` stops compose with the message when VAR is unset; `${VAR:-default}` would not."""
    raw = (ROOT / "docker-compose.yml").read_text()
    assert "POSTGRES_PASSWORD:-" not in raw
    services = compose()["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert "${POSTGRES_PASSWORD:?" in services["api"]["environment"]["DATABASE_URL"]


def test_flower_listens_on_this_machine_only_and_needs_a_password():
    flower = compose()["services"]["flower"]
    assert flower["ports"] and all(port.startswith("127.0.0.1:") for port in flower["ports"])
    assert "FLOWER_BASIC_AUTH" in flower["environment"]
    start = " ".join(flower["command"])
    assert 'test -n "$$FLOWER_BASIC_AUTH" ||' in start and "exit 1" in start  # no password: it does not start


def test_the_api_hides_its_docs_behind_a_key_and_cuts_off_slow_clients():
    assert compose()["services"]["api"]["environment"]["UNLEARN_AUDIT_DOCS_ACCESS"] == "${DOCS_ACCESS:-key}"
    command = next(line for line in (ROOT / "Dockerfile").read_text().split("\nCMD ") if line.startswith('["uvicorn"'))
    assert '"--http", "service.server:BoundedH11Protocol"' in command and '"--timeout-keep-alive"' in command
