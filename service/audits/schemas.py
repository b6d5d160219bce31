"""The audits API's response shapes (stable: the dashboard and clients read them).

Submission takes a service.specs.audit.AuditSpec (corpus: a corpus id or the bundle inline).
"""

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, create_model

from service.models.states import AuditStatus, RunKind, RunStatus
from service.specs.report import (
    CollisionResult,
    ItemRecord,
    MetricResult,
    RunCounts,
    Summary,
    UnlearningRecord,
    Verdict,
)


class RunOut(BaseModel):
    """One unit of work: evaluate a variant, compare a pair's codes (collision), or unlearn."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: RunKind
    model: str
    precision_label: str
    status: RunStatus
    stage: str | None = Field(description="what the run is doing now, e.g. 'verbmem_f' or 'quantize'")
    share_done: float = Field(description="0..1 of the current run")
    error: str | None
    attempts: int = Field(description="deliveries so far (above 1 after a worker was lost)")
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None


class AuditProgress(BaseModel):
    share_done: float = Field(
        description="0..1 over all runs: succeeded runs whole, running ones their share, failed or cancelled ones 0"
    )
    runs_done: int = Field(description="runs that succeeded")
    runs_failed: int
    runs_cancelled: int
    runs_total: int
    by_kind: dict[str, RunCounts] = Field(description="{unlearn|evaluate|collision: {done, failed, cancelled, total}}")


class AuditListItem(BaseModel):
    id: str
    name: str | None
    labels: dict[str, str]
    status: AuditStatus
    corpus_id: str
    created_at: datetime
    finished_at: datetime | None
    models: list[str]
    precisions: list[str] = Field(description="precision labels")
    verdict: Verdict | None
    share_done: float
    updated_at: datetime = Field(description="the latest change of the audit or of any of its runs (progress too)")


class AuditOut(AuditListItem):
    started_at: datetime | None
    duration_s: float | None
    error: str | None
    spec: dict[str, Any] = Field(description="the validated spec; `corpus` is the corpus id")
    progress: AuditProgress
    runs: list[RunOut] | None = Field(
        description="only with `?include=runs`: one page of the runs (`limit`, `offset`), in creation order"
    )


AUDIT_VIEW_ALWAYS = ("id", "updated_at")  # in every view: which audit, and which version of it


def _partial(model: type[BaseModel], name: str, required: tuple[str, ...]) -> type[BaseModel]:
    """`model` with every field but `required` left out unless asked for: the shape of a sparse fieldset."""
    fields: dict[str, Any] = {
        field_name: (info.annotation, info)
        if field_name in required
        else (cast(Any, info.annotation) | None, Field(None, description=info.description))
        for field_name, info in model.model_fields.items()
    }
    return create_model(name, __doc__=f"{model.__name__} with only the fields asked for", **fields)


AuditView = _partial(AuditOut, "AuditView", AUDIT_VIEW_ALWAYS)
if TYPE_CHECKING:
    AuditField = str
else:
    AuditField = Literal[tuple(AuditOut.model_fields)]


class MetricMeaning(BaseModel):
    title: str
    unit: str
    direction: str
    definition: str


class MatrixCell(BaseModel):
    """One variant (model x precision) and its metrics."""

    model: str
    precision_label: str
    precision: dict[str, Any]
    metrics: dict[str, float | None]
    metric_details: dict[str, MetricResult]
    collision: CollisionResult | None
    timings: dict[str, float]
    state_digest: str | None = None
    identical_to: str | None = Field(None, description="the model whose identical quantized state gave these results")
    reused_from: str | None = Field(None, description="the earlier audit of this tenant whose results these are")
    error: str | None = Field(None, description="why the variant failed (`Type: reason`): no metrics, no verdict")


class CollisionOut(BaseModel):
    model: str
    precision_label: str
    moved: float | None = Field(description="share of equal codes among the weights unlearning changed")
    n_moved: int
    overall: float = Field(description="share of equal codes over all quantized weights")
    approximate: bool
    per_layer: dict[str, float]


class AuditResults(BaseModel):
    audit_id: str
    status: AuditStatus
    models: list[str]
    precisions: list[str]
    metrics: list[str]
    metric_info: dict[str, MetricMeaning]
    matrix: list[MatrixCell]
    retained: dict[str, dict[str, dict[str, float | None]]] = Field(description="{model: {precision: {metric: v}}}")
    recovery: dict[str, dict[str, dict[str, float | None]]] = Field(description="{model: {precision: {metric: v}}}")
    collisions: list[CollisionOut]
    summary: Summary | None = Field(description="null unless the audit succeeded (then it states the verdict)")
    verdict: Verdict | None
    unlearning: list[UnlearningRecord]


class ItemOut(ItemRecord):
    """One evaluation item of one variant, with the same item's score at full precision for comparison."""

    full_score: float | None = Field(description="the same model's score on this item at full precision")
    delta: float | None = Field(description="score - full_score: above 0 = the item came back")

    @classmethod
    def compared(cls, record: ItemRecord, full_score: float | None) -> "ItemOut":
        delta = None if full_score is None else record.score - full_score
        return cls(**record.model_dump(), full_score=full_score, delta=delta)


class AuditAccepted(BaseModel):
    id: str
    status: AuditStatus
    created_at: datetime
