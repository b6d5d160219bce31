"""Unknown query parameters refused (422 naming them) rather than ignored: a misspelt filter must not list all."""

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub_dependant in dependant.dependencies:
        names |= _query_names(sub_dependant)
    return names


def known_query_parameters(request: Request) -> None:
    """An app-wide dependency: every query parameter must be one the route reads."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)  # a few dependants: cheaper than a cache keyed by route
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown:
        accepted = ", ".join(sorted(known)) or "none"
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": f"unknown query parameter; this route accepts: {accepted}",
                    "type": "extra_forbidden",
                }
                for name in unknown
            ]
        )
