"""Errors the service layer raises; each names its problem kind (service.problems), and main.py answers it."""

from service.problems import FieldProblem, ProblemKind, field_problem, problem_kind


class ServiceError(Exception):
    """An error with a problem kind; its message is the answer's `detail`."""

    def __init__(self, kind: ProblemKind, message: str):
        self.kind = kind
        super().__init__(message)


class NotFoundError(ServiceError, LookupError):
    """An id that does not exist for this tenant (another tenant's id is not found either)."""

    def __init__(self, kind: str, identifier: str):
        super().__init__(problem_kind("not-found"), f"{kind} '{identifier}' not found")


class ConflictError(ServiceError):
    """A request that conflicts with the current state; `code` is one of the 409 problem kinds."""

    def __init__(self, code: str, message: str):
        super().__init__(problem_kind(code), message)


class QuotaError(ServiceError):
    """A tenant quota (a setting) that this request would exceed: answered 429 with a Retry-After."""

    def __init__(self, message: str):
        super().__init__(problem_kind("quota-exceeded"), message)


class FieldError(ValueError):
    """A request that is well-formed JSON but wrong: answered 422, one entry per problem in `errors`."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]):
        self.problems = problems
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))

    def field_problems(self) -> list[FieldProblem]:
        return [field_problem(("body", *loc), msg) for loc, msg in self.problems]
