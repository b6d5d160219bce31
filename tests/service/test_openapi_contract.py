"""The OpenAPI document is valid and worth generating clients from: camelCase operation ids, a summary and
a description on every operation, the errors each route can answer as problems, a schema for the JSON report,
and examples that the API itself accepts."""

import re

import pytest
from openapi_spec_validator import validate

from service.audits.schemas import AuditResults
from service.examples import CORPUS_EXAMPLE, RESULTS_EXAMPLE, SPEC_EXAMPLES
from service.specs.audit import AuditSpec
from service.specs.corpus import check_document

METHODS = ("get", "head", "post", "put", "patch", "delete")


@pytest.fixture
def document(client) -> dict:
    return client.get("/openapi.json").json()


def operations(document: dict) -> dict[str, dict]:
    return {
        operation["operationId"]: operation
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    }


def test_the_document_is_valid_openapi(document):
    validate(document)


def test_every_operation_is_named_summarised_and_described(document):
    named = operations(document)
    assert {"submitAudit", "getAudit", "headAudit", "listAudits", "getReport", "uploadCorpus", "createWebhook"} <= set(
        named
    )
    for operation_id, operation in named.items():
        assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)*", operation_id), operation_id
        assert operation.get("summary") and operation.get("description"), operation_id


def error_statuses(operation: dict) -> set[int]:
    return {int(status) for status in operation["responses"] if status.isdigit() and int(status) >= 400}


def test_each_route_documents_the_errors_it_can_answer_as_problems(document):
    named = operations(document)
    assert error_statuses(named["submitAudit"]) == {401, 409, 413, 415, 422, 429, 507}
    assert error_statuses(named["getAudit"]) == {401, 404, 422}
    assert error_statuses(named["listAudits"]) == {401, 422}
    assert error_statuses(named["deleteCorpus"]) == {401, 404, 409, 422}
    assert error_statuses(named["getProblemKind"]) == {404, 422}  # 422: unstorable text in the path
    for operation_id, operation in named.items():
        for status in error_statuses(operation) if operation_id != "readyz" else ():  # its 503 is its report
            (media,) = operation["responses"][str(status)]["content"]
            assert media == "application/problem+json"
    assert "Problem" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]  # FastAPI's own 422 shape: none left


def test_the_json_report_has_a_schema(document):
    report = operations(document)["getReport"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert report == {"$ref": "#/components/schemas/Report"}
    assert {"variants", "summary", "provenance"} <= set(document["components"]["schemas"]["Report"]["properties"])


def test_the_examples_are_valid(document):
    body = operations(document)["submitAudit"]["requestBody"]["content"]["application/json"]
    assert set(body["examples"]) == set(SPEC_EXAMPLES)
    for example in SPEC_EXAMPLES.values():
        AuditSpec.model_validate(example["value"])
    AuditResults.model_validate(RESULTS_EXAMPLE)
    check_document(CORPUS_EXAMPLE, source="corpus", max_items=None)
