"""Errors the service layer raises; main.py turns each into its HTTP answer, naming the field and reason."""

from typing import Any

from pydantic import BaseModel


class NotFoundError(LookupError):
    """An id that does not exist for this tenant (another tenant's id is not found either)."""

    def __init__(self, kind: str, identifier: str):
        super().__init__(f"{kind} '{identifier}' not found")


class ConflictError(RuntimeError):
    pass


class QuotaError(RuntimeError):
    """A tenant quota (a setting) that this request would exceed: answered 429 with a Retry-After."""


class FieldError(ValueError):
    """A request that is well-formed JSON but wrong: answered 422 in FastAPI's validation-error shape."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]):
        self.problems = problems
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))

    def detail(self) -> list[dict[str, Any]]:
        return [{"loc": ["body", *loc], "msg": msg, "type": "value_error"} for loc, msg in self.problems]


class ErrorOut(BaseModel):
    detail: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no or an unknown API key"},
    404: {"model": ErrorOut, "description": "no such id for this tenant"},
    409: {"model": ErrorOut, "description": "the request conflicts with the current state"},
    413: {"model": ErrorOut, "description": "the body is above the upload limit"},
    429: {"model": ErrorOut, "description": "a tenant quota or a rate limit is reached; see Retry-After"},
}
