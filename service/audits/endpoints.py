"""Audit routes: thin; parsing and answering only (the rules are in service.audits.service)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.background import BackgroundTask

from service.artifacts import remove_audit_files
from service.audits import service
from service.audits.report import load_report
from service.audits.repository import AuditFilter, ItemFilter
from service.audits.schemas import (
    AUDIT_VIEW_ALWAYS,
    AuditAccepted,
    AuditField,
    AuditListItem,
    AuditOut,
    AuditResults,
    AuditView,
    ItemOut,
)
from service.conditional import conditional_json, headers_only
from service.deps import CurrentTenant, SessionDep, SettingsDep
from service.listing.params import CommaSeparated, ListQueryDep, next_link
from service.middleware import REPORT_CSP
from service.models.states import AuditStatus
from service.pagination import Page, PageDep
from service.problems import problem_responses
from service.specs.audit import AuditSpec
from service.specs.render import report_to_csv, report_to_html
from service.specs.report import Verdict

router = APIRouter(prefix="/v1/audits", tags=["audits"], responses=problem_responses(401, 404, 409, 413, 422, 429))

REPORT_MEDIA_TYPES = {"json": "application/json", "csv": "text/csv", "html": "text/html"}
ReportFormat = Literal["json", "csv", "html"]


@router.post(
    "",
    response_model=AuditAccepted,
    status_code=202,
    description="Validates the whole spec, stores the audit and queues its runs. `Location` names the audit to "
    "poll (`GET`, conditionally with `If-None-Match`), `Retry-After` the seconds to wait before the first poll.",
)
def submit_audit(
    session: SessionDep,
    settings: SettingsDep,
    tenant: CurrentTenant,
    spec: AuditSpec,
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(max_length=200, description="a retry with the same key returns the same audit")
    ] = None,
) -> AuditAccepted:
    audit, _created = service.submit(session, settings, tenant, spec, idempotency_key)
    response.headers["Location"] = f"{router.prefix}/{audit.id}"
    response.headers["Retry-After"] = str(settings.retry_after_s)
    return service.accepted(audit)


@router.get("", response_model=Page[AuditListItem])
def list_audits(
    session: SessionDep,
    tenant: CurrentTenant,
    request: Request,
    response: Response,
    query: ListQueryDep,
    status: Annotated[
        list[AuditStatus] | None, Query(description="any of these (comma-separated or repeated)"), CommaSeparated
    ] = None,
    verdict: Annotated[
        list[Verdict] | None, Query(description="any of these (comma-separated or repeated)"), CommaSeparated
    ] = None,
) -> Page[AuditListItem]:
    audit_filter = AuditFilter(statuses=tuple(status or ()), verdicts=tuple(verdict or ()))
    page, following = service.page(session, tenant, audit_filter, query)
    return page.model_copy(update={"next": next_link(request, response, following)})


AuditFields = Annotated[
    list[AuditField] | None,
    Query(description="only these top-level fields (comma-separated or repeated), with `id` and `updated_at`"),
    CommaSeparated,
]
AUDIT_DESCRIPTION = f"""Status, progress per stage and per run, timings and errors.

**Polling**: every answer carries a strong `ETag`; send it back as `If-None-Match` and an audit that has not
changed answers `304 Not Modified` with no body. `updated_at` is the latest change of the audit or any of its
runs. **Light view** for pollers: `?fields=status,progress` answers only the fields named (any of the
top-level fields below; `{"` and `".join(AUDIT_VIEW_ALWAYS)}` always), with its own ETag. `HEAD` answers the
same headers without a body."""


@router.get(
    "/{audit_id}",
    response_model=AuditOut | AuditView,
    description=AUDIT_DESCRIPTION,
    responses={304: {"description": "not modified since the ETag sent in If-None-Match"}},
)
def get_audit(
    session: SessionDep, tenant: CurrentTenant, request: Request, audit_id: str, fields: AuditFields = None
) -> Response:
    audit = service.detail(session, service.get(session, tenant, audit_id))
    include = None if fields is None else {*fields, *AUDIT_VIEW_ALWAYS}
    return conditional_json(request, audit.model_dump_json(include=include).encode())


@router.head("/{audit_id}", response_class=Response, description="The headers of `GET` (ETag), without a body.")
def head_audit(
    session: SessionDep, tenant: CurrentTenant, request: Request, audit_id: str, fields: AuditFields = None
) -> Response:
    return headers_only(get_audit(session, tenant, request, audit_id, fields))


@router.get("/{audit_id}/results", response_model=AuditResults)
def get_results(session: SessionDep, tenant: CurrentTenant, audit_id: str) -> AuditResults:
    return service.results(session, service.get(session, tenant, audit_id))


@router.get("/{audit_id}/items", response_model=Page[ItemOut])
def get_items(
    session: SessionDep,
    tenant: CurrentTenant,
    audit_id: str,
    params: PageDep,
    model: Annotated[str | None, Query(max_length=64)] = None,
    precision: Annotated[str | None, Query(max_length=64, description="a precision label, e.g. bnb-fp4-b64")] = None,
    metric: Annotated[str | None, Query(max_length=32)] = None,
    rose: Annotated[
        bool | None,
        Query(
            description="true: only forget items (VerbMem, KnowMem on forget) of unlearned models whose score at a "
            "quantized precision exceeds their own score at full precision by more than the policy's `item_rise` "
            "(default 0.1); never the target's items or PrivLeak texts. false: every other item"
        ),
    ] = None,
) -> Page[ItemOut]:
    audit = service.get(session, tenant, audit_id)
    item_filter = ItemFilter(model=model, precision_label=precision, metric=metric, rose=rose)
    return service.items(session, audit, item_filter, params)


@router.get(
    "/{audit_id}/report",
    responses={200: {"content": {media: {} for media in REPORT_MEDIA_TYPES.values()}}},
    response_class=Response,
)
def get_report(
    session: SessionDep,
    tenant: CurrentTenant,
    request: Request,
    audit_id: str,
    format: Annotated[ReportFormat | None, Query(description="overrides the Accept header")] = None,
) -> Response:
    report = load_report(session, service.get(session, tenant, audit_id))
    chosen = format or _format_from_accept(request.headers.get("accept", ""))
    headers = {}
    if chosen == "csv":
        body = report_to_csv(report)
    elif chosen == "html":
        body, headers = report_to_html(report), {"Content-Security-Policy": REPORT_CSP}
    else:
        body = report.model_dump_json(indent=2)
    return Response(content=body, media_type=REPORT_MEDIA_TYPES[chosen], headers=headers)


def _format_from_accept(accept: str) -> ReportFormat:
    for media in (part.split(";")[0].strip() for part in accept.split(",")):
        for name, media_type in REPORT_MEDIA_TYPES.items():
            if media == media_type:
                return name  # type: ignore[return-value]
    return "json"


@router.post("/{audit_id}/cancel", response_model=AuditOut)
def cancel_audit(session: SessionDep, tenant: CurrentTenant, audit_id: str) -> AuditOut:
    audit = service.cancel(session, service.get(session, tenant, audit_id))
    return service.detail(session, audit)


@router.delete("/{audit_id}", status_code=204)
def delete_audit(session: SessionDep, settings: SettingsDep, tenant: CurrentTenant, audit_id: str) -> Response:
    audit = service.get(session, tenant, audit_id)
    service.delete(session, audit)
    # its checkpoints are removed after the response, so after the deletion has been committed
    return Response(status_code=204, background=BackgroundTask(remove_audit_files, settings, audit.id))
