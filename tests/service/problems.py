"""Reading the API's problem answers (RFC 9457) in tests."""

PROBLEM_JSON = "application/problem+json"


def problem(response, status: int, code: str) -> dict:
    """The problem of an error answer, checked to be one, of this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert (body["status"], body["code"], body["type"]) == (status, code, f"/problems/{code}"), body
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def field_errors(response) -> list[tuple[list, str]]:
    """(location, message) of each invalid field of a 422, the location as a list: ["body", "unlearning", 0]."""
    errors = problem(response, 422, "validation-failed")["errors"]
    return [([e["location"], *(_segment(part) for part in e["field"].split(".") if e["field"])], e["message"])
            for e in errors]  # fmt: skip


def field_problems(response) -> dict[str, str]:
    """The 422's messages by dotted location: {'query.label': reason, ...}."""
    return {".".join(map(str, location)): message for location, message in field_errors(response)}


def _segment(part: str) -> str | int:
    return int(part) if part.isdigit() else part
