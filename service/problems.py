"""Every error answer as an RFC 9457 problem (`application/problem+json`), from one registry of problem kinds.

A kind has a stable `code`, its HTTP status, a title and a description; its `type` is the URI
`/problems/{code}`, which this service answers with the kind's description (docs/problems.md lists them all).
An answer adds the occurrence: `detail` (always one string), `instance` (the request's path), `request_id`
(the `X-Request-ID` of the answer, under which the server logs the request) and, for 422, `errors`: one
`{location, field, message}` per problem.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.types import Scope

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "/problems/"
SCHEMA_REF = "#/components/schemas/"


@dataclass(frozen=True)
class ProblemKind:
    code: str
    status: int
    title: str
    description: str

    @property
    def type(self) -> str:
        return f"{TYPE_PREFIX}{self.code}"


PROBLEM_KINDS: dict[str, ProblemKind] = {
    kind.code: kind
    for kind in (
        ProblemKind("bad-request", 400, "The request could not be read", "The client stopped sending the body."),
        ProblemKind(
            "unauthorized",
            401,
            "An API key is required",
            "No API key, or one that is unknown or revoked. Send `Authorization: Bearer KEY` (a key from "
            "`unlearn-audit keys create`); the API docs also take the key as the password of Basic authentication.",
        ),
        ProblemKind(
            "not-found",
            404,
            "Not found",
            "No such route, or no such id for this tenant (another tenant's id is not found either).",
        ),
        ProblemKind("method-not-allowed", 405, "Method not allowed", "The route exists but not with this method."),
        ProblemKind("request-timeout", 408, "The request body stalled", "Nothing of the body arrived for too long."),
        ProblemKind(
            "idempotency-key-reused",
            409,
            "Idempotency key already used",
            "The `Idempotency-Key` was already used for a different audit spec; a retry must send the same spec.",
        ),
        ProblemKind(
            "audit-finished", 409, "The audit has already finished", "Only a queued or running audit can be cancelled."
        ),
        ProblemKind(
            "corpus-in-use", 409, "The corpus is in use", "Audits use this corpus: delete them before the corpus."
        ),
        ProblemKind(
            "webhook-limit",
            409,
            "Too many webhooks",
            "The tenant has the most webhooks allowed (setting `UNLEARN_AUDIT_WEBHOOK_MAX_PER_TENANT`).",
        ),
        ProblemKind(
            "payload-too-large",
            413,
            "The request body is too large",
            "The body is above the upload limit (setting `UNLEARN_AUDIT_MAX_UPLOAD_BYTES`).",
        ),
        ProblemKind(
            "validation-failed",
            422,
            "The request has invalid fields",
            "Well-formed but wrong: `errors` names each field (`location`: body, query, path or header; `field`: "
            "its dotted path) with the reason.",
        ),
        ProblemKind(
            "quota-exceeded",
            429,
            "A tenant quota is reached",
            "The request would take the tenant above a quota (unfinished runs, stored corpus bytes: settings); "
            "`Retry-After` says when to try again, once runs have finished or corpora were deleted.",
        ),
        ProblemKind(
            "internal-error",
            500,
            "Internal error",
            "The request failed on the server; nothing about it is shown. The server log has the details under the "
            "answer's `request_id`.",
        ),
        ProblemKind(
            "disk-full",
            507,
            "The server's disk is full",
            "Nothing was stored. Deleting audits or corpora frees space.",
        ),
        ProblemKind("http-error", 0, "HTTP error", "Any other HTTP error; the status says which (RFC 9110)."),
    )
}


def problem_kind(code: str) -> ProblemKind:
    return PROBLEM_KINDS[code]


def kind_for_status(status: int) -> ProblemKind:
    """The kind of a plain HTTP error (a route that does not exist, a missing key): the first of its status."""
    return next((kind for kind in PROBLEM_KINDS.values() if kind.status == status), PROBLEM_KINDS["http-error"])


Location = Literal["body", "query", "path", "header", "cookie"]


class FieldProblem(BaseModel):
    location: Location = Field(description="where the field is")
    field: str = Field(description="its dotted path there (`precisions.1.bits`); empty for the whole body")
    message: str


class Problem(BaseModel):
    """An error answer (RFC 9457)."""

    type: str = Field(description="a URI per kind of error, `/problems/{code}`; GET it for the description")
    title: str = Field(description="the kind's short summary, the same for every occurrence")
    status: int
    detail: str = Field(description="this occurrence, for people")
    instance: str = Field(description="the path of the request")
    code: str = Field(description="the kind's stable code, for programs")
    request_id: str = Field(description="the answer's X-Request-ID: the server's log has the request under it")
    errors: list[FieldProblem] | None = Field(None, description="422 only: each invalid field")


def field_problem(loc: Sequence[str | int], message: str) -> FieldProblem:
    """A problem at a FastAPI-style location (`("body", "target", "model")`)."""
    location = str(loc[0]) if loc and loc[0] in ("body", "query", "path", "header", "cookie") else "body"
    path = loc[1:] if loc and loc[0] == location else loc
    return FieldProblem(location=location, field=".".join(map(str, path)), message=message)


def request_id_of(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", ""))


def problem_response(
    scope: Scope,
    kind: ProblemKind,
    detail: str,
    *,
    status: int | None = None,
    errors: Iterable[FieldProblem] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    problem = Problem(
        type=kind.type,
        title=kind.title,
        status=status or kind.status,
        detail=detail,
        instance=scope.get("path", ""),
        code=kind.code,
        request_id=request_id_of(scope),
        errors=None if errors is None else list(errors),
    )
    body = problem.model_dump(mode="json", exclude_none=True)
    return JSONResponse(body, status_code=problem.status, headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE)


def validation_response(scope: Scope, problems: Sequence[FieldProblem]) -> JSONResponse:
    """422 with every problem; `detail` joins them into one sentence."""
    shown = [f"{p.location}{'.' if p.field else ''}{p.field}: {p.message}" for p in problems]
    return problem_response(scope, problem_kind("validation-failed"), "; ".join(shown), errors=problems)


ANSWERS: dict[int, str] = {
    400: "the body could not be read",
    401: "no API key, or an unknown one",
    404: "no such id for this tenant",
    409: "the request conflicts with the current state",
    413: "the body is above the upload limit",
    422: "invalid fields, each named in `errors`",
    429: "a tenant quota or a rate limit is reached; `Retry-After` says when to retry",
    507: "the server's disk is full; nothing was stored",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the errors a route can answer, each a Problem."""
    schema = {"$ref": f"{SCHEMA_REF}Problem"}
    content = {PROBLEM_MEDIA_TYPE: {"schema": schema}}
    return {status: {"description": ANSWERS[status], "content": content} for status in statuses}


def problem_schemas() -> dict[str, Any]:
    """The OpenAPI components `problem_responses` refers to."""
    schema = Problem.model_json_schema(ref_template=f"{SCHEMA_REF}{{model}}")
    return {"Problem": {key: value for key, value in schema.items() if key != "$defs"}, **schema.get("$defs", {})}
