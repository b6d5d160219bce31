"""Schemathesis against the served OpenAPI schema, on SQLite and PostgreSQL: no 5xx and no response that
breaks the schema. Strings include NUL characters (schemathesis' default for bodies; path and query values
get one appended half of the time: PostgreSQL refuses to store or compare them) and JSON bodies sometimes
carry non-finite numbers (Infinity, NaN: Python's JSON parser reads them)."""

import json
import math
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.transport.asgi import ASGI_TRANSPORT
from schemathesis.transport.requests import json_serializer

from service.config import Settings
from service.main import create_app
from tests.service.databases import fresh_database, new_api_key

STATE: dict[str, str] = {}
EXAMPLES_PER_OPERATION = 15
NON_FINITE = (math.inf, -math.inf, math.nan)


def with_nul(parameters: dict[str, Any] | None) -> dict[str, Any] | None:
    """The parameters with a NUL character appended to each string value."""
    if not parameters:
        return parameters
    return {name: f"{value}\x00" if isinstance(value, str) else value for name, value in parameters.items()}


def with_numbers_as(body: Any, value: float) -> Any:
    """The body with every number (not booleans) replaced by `value`."""
    if isinstance(body, dict):
        return {key: with_numbers_as(item, value) for key, item in body.items()}
    if isinstance(body, list):
        return [with_numbers_as(item, value) for item in body]
    return value if isinstance(body, int | float) and not isinstance(body, bool) else body


@pytest.fixture(scope="module")
def non_finite_json():
    """JSON bodies serialised as Python writes them, Infinity and NaN included (schemathesis' own serialiser
    refuses them), for as long as this module runs."""

    @ASGI_TRANSPORT.serializer("application/json")
    def python_json(_context, body: Any) -> dict[str, Any]:
        return {"data": json.dumps(body).encode()}

    yield
    ASGI_TRANSPORT.serializer("application/json")(json_serializer)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_schema(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, non_finite_json):
    folder = tmp_path_factory.mktemp("fuzz")
    with fresh_database(request.param, folder) as url:
        app_settings = Settings(
            data_dir=folder, database_url=url, broker_url=f"sqla+sqlite:///{folder / 'broker.sqlite'}",
            model_roots=[folder / "models"], max_upload_bytes=100_000,
        )  # fmt: skip
        STATE["token"] = new_api_key(url)
        schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(app_settings))

        @schema.hook
        def flatmap_body(_context, body: Any) -> st.SearchStrategy:
            return st.one_of(st.just(body), st.sampled_from(NON_FINITE).map(lambda v: with_numbers_as(body, v)))

        @schema.hook
        def flatmap_path_parameters(_context, parameters: dict[str, Any]) -> st.SearchStrategy:
            return st.sampled_from([parameters, with_nul(parameters)])

        @schema.hook
        def flatmap_query(_context, query: dict[str, Any]) -> st.SearchStrategy:
            return st.sampled_from([query, with_nul(query)])

        yield schema


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
