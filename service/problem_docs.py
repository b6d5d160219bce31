"""The problem kinds as documents: `GET /problems` and `GET /problems/{code}` (each kind's `type` URI), and
docs/problems.md, which is rendered from the same registry (a test keeps the file in step)."""

from fastapi import APIRouter
from pydantic import BaseModel

from service.errors import NotFoundError
from service.problems import PROBLEM_KINDS, ProblemKind, problem_responses

router = APIRouter(prefix="/problems", tags=["problems"])


class ProblemKindOut(BaseModel):
    type: str
    code: str
    status: int | None
    title: str
    description: str


def kind_out(kind: ProblemKind) -> ProblemKindOut:
    return ProblemKindOut(
        type=kind.type, code=kind.code, status=kind.status or None, title=kind.title, description=kind.description
    )


@router.get(
    "",
    operation_id="listProblemKinds",
    summary="List the error kinds",
    description="Every kind of error answer, with its stable code, status, title and description.",
)
def list_problem_kinds() -> list[ProblemKindOut]:
    return [kind_out(kind) for kind in PROBLEM_KINDS.values()]


@router.get(
    "/{code}",
    operation_id="getProblemKind",
    summary="Describe an error kind",
    description="What a problem's `type` URI names: the kind's code, status, title and description.",
    responses=problem_responses(404),
)
def get_problem_kind(code: str) -> ProblemKindOut:
    if code not in PROBLEM_KINDS:
        raise NotFoundError("problem kind", code)
    return kind_out(PROBLEM_KINDS[code])


def problems_markdown() -> str:
    """docs/problems.md."""
    lines = [
        "# Error answers",
        "",
        "Every error is an RFC 9457 problem (`application/problem+json`): `type` (`/problems/{code}`, served by",
        "the API), `title`, `status`, `detail` (one string), `instance` (the request's path), `code` (stable),",
        "`request_id` (the answer's `X-Request-ID`) and, for 422, `errors`: `[{location, field, message}]`.",
        "",
        "| code | status | title | meaning |",
        "|---|---|---|---|",
    ]
    for kind in PROBLEM_KINDS.values():
        status = kind.status or "any other"
        lines.append(f"| `{kind.code}` | {status} | {kind.title} | {kind.description} |")
    return "\n".join(lines) + "\n"
