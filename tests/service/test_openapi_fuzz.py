"""Schemathesis against the served OpenAPI schema: no 5xx and no response that breaks the schema."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from service.config import Settings
from service.main import create_app
from tests.service.databases import fresh_database, new_api_key

STATE: dict[str, str] = {}
EXAMPLES_PER_OPERATION = 15


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("fuzz")
    with fresh_database("sqlite", folder) as url:
        app_settings = Settings(
            data_dir=folder, database_url=url, broker_url=f"sqla+sqlite:///{folder / 'broker.sqlite'}",
            model_roots=[folder / "models"], max_upload_bytes=100_000,
        )  # fmt: skip
        STATE["token"] = new_api_key(url)
        yield schemathesis.openapi.from_asgi("/openapi.json", create_app(app_settings))


def test_no_server_error_and_responses_match_the_schema(api_schema: schemathesis.BaseSchema) -> None:
    """Every operation, with generated requests (schemathesis' pytest plugin predates this pytest)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {STATE['token']}"},
                checks=[not_a_server_error, response_schema_conformance],
            )

        check()
