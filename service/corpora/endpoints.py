"""Corpus routes: upload a bundle once (content-addressed), list, read, delete."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from service.corpora import service
from service.corpora.schemas import CorpusOut
from service.deps import CurrentTenant, SessionDep, SettingsDep
from service.examples import CORPUS_EXAMPLE
from service.listing.params import ListQueryDep, next_link, refuse_query
from service.pagination import Page
from service.problems import problem_responses
from service.specs.corpus import ignored_parts
from service.specs.labels import MAX_LABELS, MAX_NAME_LENGTH, labels_from_pairs

router = APIRouter(prefix="/v1/corpora", tags=["corpora"], responses=problem_responses(401, 422))

BUNDLE_BODY = {
    "required": True,
    "description": "the bundle in the MUSE layout",
    "content": {
        "application/json": {"schema": {"type": "object", "additionalProperties": True}, "example": CORPUS_EXAMPLE}
    },
}


async def uploaded_document(request: Request, settings: SettingsDep) -> Any:
    """The body parsed here, once, rather than by FastAPI: the item limit applies while it is parsed."""
    try:
        body = await request.body()
    except ClientDisconnect:  # the client left, or the body limits cut it off (their answer is already sent)
        raise HTTPException(400, detail="request body: the client stopped sending it") from None
    return await run_in_threadpool(service.decode_upload, body, settings.max_corpus_items)


def upload_labels(
    label: Annotated[
        list[str] | None,
        Query(description=f"`key:value`, repeated (at most {MAX_LABELS}); set when the bundle is stored first"),
    ] = None,
) -> dict[str, str]:
    try:
        return labels_from_pairs(label)
    except ValueError as error:
        refuse_query("label", str(error))


@router.post(
    "",
    response_model=CorpusOut,
    status_code=201,
    summary="Upload a corpus",
    description="Stores a bundle in the MUSE layout (parts verbmem, knowmem, raw, privleak), checked part by part "
    "and item by item; content-addressed per tenant: the same bundle again answers 200 with the stored one.",
    responses={
        200: {"model": CorpusOut, "description": "the same bundle was already stored"},
        **problem_responses(400, 413, 415, 429, 507),
    },
    openapi_extra={"requestBody": BUNDLE_BODY},
)
def upload_corpus(
    session: SessionDep,
    settings: SettingsDep,
    tenant: CurrentTenant,
    response: Response,
    document: Annotated[Any, Depends(uploaded_document)],
    labels: Annotated[dict[str, str], Depends(upload_labels)],
    name: Annotated[str | None, Query(min_length=1, max_length=MAX_NAME_LENGTH, description="for lists")] = None,
) -> CorpusOut:
    checked = service.validate_bundle(document, (), settings.max_corpus_items)
    corpus, created = service.store_bundle(
        session, tenant.id, checked, name, labels, settings.max_corpus_bytes_per_tenant
    )
    if not created:
        response.status_code = 200
    return CorpusOut.model_validate(corpus).model_copy(update={"ignored": ignored_parts(document)})


@router.get(
    "",
    response_model=Page[CorpusOut],
    summary="List corpora",
    description="The tenant's corpora, filtered and sorted by the query, a page at a time (`next` links the "
    "following page).",
)
def list_corpora(
    session: SessionDep, tenant: CurrentTenant, request: Request, response: Response, query: ListQueryDep
) -> Page[CorpusOut]:
    page, following = service.page(session, tenant.id, query)
    return page.model_copy(update={"next": next_link(request, response, following)})


@router.get(
    "/{corpus_id}",
    response_model=CorpusOut,
    summary="Get a corpus",
    description="The corpus' content address, name, and items per part.",
    responses=problem_responses(404),
)
def get_corpus(session: SessionDep, tenant: CurrentTenant, corpus_id: str) -> CorpusOut:
    return CorpusOut.model_validate(service.get(session, tenant.id, corpus_id))


@router.delete(
    "/{corpus_id}",
    status_code=204,
    summary="Delete a corpus",
    description="Refused while audits use the corpus.",
    responses=problem_responses(404, 409),
)
def delete_corpus(session: SessionDep, tenant: CurrentTenant, corpus_id: str) -> Response:
    service.delete(session, tenant.id, corpus_id)
    return Response(status_code=204)
