"""Corpus routes: upload a bundle once (content-addressed), list, read, delete."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from service.corpora import service
from service.corpora.schemas import CorpusOut
from service.deps import CurrentTenant, SessionDep, SettingsDep
from service.errors import ERROR_RESPONSES
from service.pagination import Page, PageDep
from service.specs.corpus import ignored_parts

router = APIRouter(prefix="/v1/corpora", tags=["corpora"], responses=ERROR_RESPONSES)

BUNDLE_EXAMPLE = {
    "verbmem": {"forget": [{"prompt": "Arlo Venn was born in", "gt": " Brask in 1900."}]},
    "knowmem": {"forget_qa": [{"question": "Where was Arlo Venn born?", "answer": "Brask"}]},
}


BUNDLE_BODY = {
    "required": True,
    "description": "the bundle in the MUSE layout",
    "content": {
        "application/json": {"schema": {"type": "object", "additionalProperties": True}, "example": BUNDLE_EXAMPLE}
    },
}


async def uploaded_document(request: Request, settings: SettingsDep) -> Any:
    """The body parsed here, once, rather than by FastAPI: the item limit applies while it is parsed."""
    try:
        body = await request.body()
    except ClientDisconnect:  # the client left, or the body limits cut it off (their answer is already sent)
        raise HTTPException(400, detail="request body: the client stopped sending it") from None
    return await run_in_threadpool(service.decode_upload, body, settings.max_corpus_items)


@router.post(
    "",
    response_model=CorpusOut,
    status_code=201,
    responses={200: {"model": CorpusOut, "description": "the same bundle was already stored"}},
    openapi_extra={"requestBody": BUNDLE_BODY},
)
def upload_corpus(
    session: SessionDep,
    settings: SettingsDep,
    tenant: CurrentTenant,
    response: Response,
    document: Annotated[Any, Depends(uploaded_document)],
    name: Annotated[str | None, Query(max_length=200, description="a label for lists")] = None,
) -> CorpusOut:
    checked = service.validate_bundle(document, (), settings.max_corpus_items)
    corpus, created = service.store_bundle(session, tenant.id, checked, name)
    if not created:
        response.status_code = 200
    return CorpusOut.model_validate(corpus).model_copy(update={"ignored": ignored_parts(document)})


@router.get("", response_model=Page[CorpusOut])
def list_corpora(session: SessionDep, tenant: CurrentTenant, params: PageDep) -> Page[CorpusOut]:
    return service.page(session, tenant.id, params)


@router.get("/{corpus_id}", response_model=CorpusOut)
def get_corpus(session: SessionDep, tenant: CurrentTenant, corpus_id: str) -> CorpusOut:
    return CorpusOut.model_validate(service.get(session, tenant.id, corpus_id))


@router.delete("/{corpus_id}", status_code=204)
def delete_corpus(session: SessionDep, tenant: CurrentTenant, corpus_id: str) -> Response:
    service.delete(session, tenant.id, corpus_id)
    return Response(status_code=204)
