"""The report schema (versioned): what the engine produces and what clients read.

Stable names clients rely on: `schema_version`; `audit` {id, status, complete, runs, times} (service reports:
an audit that has not succeeded is INCOMPLETE and states no verdict); `variants` [{model, precision, metrics,
collision, error}] (a failed variant: `error` set, no metrics, no verdict); `items`; `summary` {retained,
recovery, verdicts, verdict, reasons, cells}; `provenance`.
Schema 2.0: verdicts may be `inconclusive` or `undefined`, reasons are objects with stable codes and
`summary.cells` carries each (model, precision, metric) cell with its paired intervals (DESIGN 8.5).
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

SCHEMA_VERSION = "2.0"

Verdict = Literal["pass", "fail", "inconclusive", "utility_lost", "undefined"]
ReasonCode = Literal[
    "retained_above_max",  # fail: the retained share's lower bound is above policy.max_retained
    "recovery_above_max",  # fail: the recovery's lower bound is above policy.max_recovery
    "retained_straddles_max",  # inconclusive: the retained share's interval contains max_retained
    "recovery_straddles_max",  # inconclusive: the recovery's interval contains max_recovery
    "target_knows_nothing",  # undefined: the target's mean is below min_target_score or its interval reaches 0
    "result_missing",  # undefined: a variant has no value for the metric
    "no_item_scores",  # inconclusive: no per-item scores, so no interval to judge on
    "utility_below_min",  # utility_lost: the knowmem_r share's upper bound is below policy.min_utility
    "utility_straddles_min",  # inconclusive: the knowmem_r share's interval contains min_utility
    "utility_not_measured",  # inconclusive under policy.require_utility, else said only
    "privleak_out_of_range",  # fail: PrivLeak's interval lies outside +-policy.max_privleak_abs
    "privleak_straddles_range",  # inconclusive: PrivLeak's interval crosses the band's edge
    "no_knowledge_metric",  # no verdict: no forget-knowledge metric could be measured
    "variant_failed",  # no verdict for the variant: it could not be built or evaluated (its `error` says why)
    "note",  # a sentence of a schema 1.0 report, kept as it was written
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class MetricResult(_Open):
    """One metric of one variant, with its meaning and its uncertainty."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    unit: str
    direction: str
    n_items: int = 0
    n_truncated: int = Field(0, description="items cut to fit the model's context")
    skipped_reason: str | None = None
    extra: dict[str, float | None] = Field(default_factory=dict, description="e.g. auc, auc_ref, perplexity")


class CollisionResult(_Open):
    """Bucket collision of an unlearned model against the target under one quantizer (DESIGN 8.6)."""

    overall: float = Field(description="share of equal codes over all quantized weights (moved or not)")
    moved: float | None = Field(
        None,
        description="share of equal codes among the weights that differ at full precision: the part of the "
        "unlearning update that quantization erases; null when no weight moved",
    )
    n_moved: int = Field(0, description="quantized weights that differ between the two models at full precision")
    per_layer: dict[str, float]
    scales_equal: float | None = Field(None, description="share of quantization groups with equal scales")
    distance_histogram: dict[str, list[float]] = Field(
        default_factory=dict, description="{edges, counts}: |dw| / bucket width over all quantized weights"
    )
    n_weights: int = 0
    approximate: bool = Field(False, description="calibration-based codes (GPTQ, AWQ) are approximate")
    quantizer: str = ""
    digest: str | None = Field(None, description="BLAKE3 of the unlearned model's quantized state (exact codes only)")
    target_digest: str | None = Field(None, description="BLAKE3 of the target's quantized state")


class QuantizedWeights(_Open):
    """What a quantizer really quantized: every linear layer but the output head, or the variant fails."""

    modules: int = Field(description="linear layers quantized")
    weights: int = Field(description="weights in them; bucket collision counts the same weights")


class VariantResult(_Open):
    model: str
    precision: dict[str, Any] = Field(description="the precision config as given")
    precision_label: str
    metrics: dict[str, float | None] = Field(description="{metric name: value}")
    metric_details: dict[str, MetricResult] = Field(default_factory=dict)
    collision: CollisionResult | None = None
    timings: dict[str, float] = Field(default_factory=dict, description="seconds per stage")
    quantized: QuantizedWeights | None = Field(None, description="what the quantizer quantized; null at full")
    state_digest: str | None = Field(
        None, description="BLAKE3 of the quantized state (codes, scales, values, other tensors, config, tokenizer)"
    )
    identical_to: str | None = Field(
        None, description="the model whose results these are: same state_digest, so not evaluated again"
    )
    reused_from: str | None = Field(
        None, description="the audit whose results these are: same model, precision, corpus, metrics and engine"
    )
    error: str | None = Field(
        None, description="why the variant failed (`Type: reason`): it has no metrics and no verdict; null = ok"
    )

    @classmethod
    def failed(cls, model: str, precision: dict[str, Any], precision_label: str, error: str) -> "VariantResult":
        """A variant that could not be built or evaluated: the rest of the report is kept, this one has no verdict."""
        return cls(model=model, precision=precision, precision_label=precision_label, metrics={}, error=error)


class ItemRecord(BaseModel):
    """One evaluation item of one variant: its score and the evidence (generated text).

    The one shape of per-item evidence: the metrics produce it, the report lists it, the item_scores table
    stores it (service.models.item_score) and the API serves it (ItemOut adds the full-precision comparison).
    Closed: a field the table has no column for would be lost on the service's side.
    """

    model_config = ConfigDict(extra="forbid")

    model: str
    precision_label: str
    metric: str
    index: int = Field(description="the item's position in its evaluation set (PrivLeak: forget, then holdout)")
    score: float
    output: str | None = None
    truth: str | None = None
    prompt: str | None = None
    truncated: bool = False
    label: int | None = Field(None, description="PrivLeak: 0 = a forget text, 1 = a holdout text")


class IntervalEstimate(BaseModel):
    """A point value (from the metrics' means) and its paired bootstrap interval at policy.confidence."""

    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


class Reason(BaseModel):
    """Why a cell or variant got its verdict: a stable code for tools, a sentence for people."""

    code: ReasonCode
    model: str | None = None
    precision_label: str | None = None
    metric: str | None = None
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    threshold: float | None = None
    message: str


class Cell(BaseModel):
    """One (unlearned model, precision, metric) judgement: retained share and recovery with their intervals."""

    model: str
    precision_label: str
    metric: str
    target_value: float | None = Field(description="the target's mean at this precision")
    value: float | None = Field(description="the unlearned model's mean at this precision")
    retained: IntervalEstimate = Field(description="knowmem_r: the utility share (the model's / the target's)")
    recovery: IntervalEstimate = Field(description="retained at this precision minus retained at full")
    verdict: Verdict
    reasons: list[Reason] = Field(default_factory=list)


class Summary(_Open):
    retained: dict[str, dict[str, dict[str, float | None]]] = Field(
        default_factory=dict, description="{model: {precision_label: {metric: share or null}}}"
    )
    recovery: dict[str, dict[str, dict[str, float | None]]] = Field(default_factory=dict)
    undefined: dict[str, dict[str, dict[str, str]]] = Field(
        default_factory=dict, description="why a retained share is undefined: {model: {precision: {metric: reason}}}"
    )
    verdicts: dict[str, dict[str, Verdict]] = Field(default_factory=dict, description="{model: {precision: v}}")
    verdict: Verdict | None = None
    reasons: list[Reason] = Field(default_factory=list)
    cells: list[Cell] = Field(default_factory=list)
    privleak_recovery: dict[str, dict[str, float | None]] = Field(
        default_factory=dict, description="{model: {precision: PrivLeak at it minus at full (percent)}}"
    )
    skipped_metrics: dict[str, str] = Field(default_factory=dict, description="{metric: why it was not measured}")
    policy: dict[str, int | float | bool | None] = Field(default_factory=dict)

    def cell(self, model: str, precision_label: str, metric: str) -> Cell | None:
        return next(
            (c for c in self.cells if (c.model, c.precision_label, c.metric) == (model, precision_label, metric)), None
        )

    @field_validator("reasons", mode="before")
    @classmethod
    def _sentences_of_schema_1(cls, reasons: list[Any]) -> list[Any]:
        """Audits stored before schema 2.0 kept their reasons as sentences."""
        return [{"code": "note", "message": r} if isinstance(r, str) else r for r in reasons]


class UnlearningRecord(_Open):
    """How an unlearned model was made by the service (method, config, seed, curve)."""

    name: str
    method: str
    config: dict[str, Any]
    seed: int
    corpus_sha256: str
    steps: int = 0
    curve: list[dict[str, float]] = Field(default_factory=list)
    duration_s: float | None = None
    checkpoint: str | None = None


class ModelProvenance(_Open):
    name: str
    source: str
    revision: str | None = Field(None, description="the resolved commit for hub models")
    content_sha256: str | None = Field(
        None, description="local folders: sha256 over config.json and the weight files, in path order"
    )
    dtype: str | None = None
    n_parameters: int | None = None
    device: str | None = None


class ReferenceAUCChoice(_Open):
    """The AUC that PrivLeak was normalised by, and where it came from (service.specs.reference)."""

    value: float
    origin: Literal["spec", "reference model", "bundle", "default"]
    name: str | None = Field(None, description="the retrained model or the bundle's name for the value")
    source: str | None = Field(None, description="where the value comes from")
    note: str | None = Field(None, description="why a PrivLeak is not comparable with MUSE's, when it is not")


class Provenance(_Open):
    models: dict[str, ModelProvenance] = Field(default_factory=dict)
    corpus_sha256: str | None = None
    corpus_parts: dict[str, int] = Field(default_factory=dict)
    reference_auc: ReferenceAUCChoice | None = Field(None, description="what PrivLeak was normalised by")
    evaluation: dict[str, Any] = Field(default_factory=dict, description="VerbMem decoding and evaluation dtype")
    seed: int = 0
    library_versions: dict[str, str] = Field(default_factory=dict)
    device: str | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    audit_id: str | None = Field(None, description="what a later audit's reused variants name in `reused_from`")
    started_at: str | None = None
    finished_at: str | None = None


class RunCounts(BaseModel):
    """An audit's runs by outcome: `done` counts only the runs that succeeded."""

    done: int = Field(description="runs that succeeded")
    failed: int
    cancelled: int
    total: int


class AuditHeader(BaseModel):
    """The service's record of the audit the report belongs to (null in a report the CLI wrote)."""

    id: str
    name: str | None = None
    status: str = Field(description="queued, running, succeeded, failed or cancelled")
    submitted_at: datetime = Field(description="with its zone (UTC)")
    started_at: datetime | None = None
    finished_at: datetime | None = None
    runs: RunCounts

    @computed_field(  # type: ignore[prop-decorator]
        description="false = INCOMPLETE: the audit has not succeeded and the report states no verdict"
    )
    @property
    def complete(self) -> bool:
        return self.status == "succeeded"


class Report(_Open):
    schema_version: str = SCHEMA_VERSION
    audit: AuditHeader | None = Field(
        None, description="the audit's id, status, times and runs; not `succeeded` = INCOMPLETE, no verdict stated"
    )
    spec: dict[str, Any]
    variants: list[VariantResult] = Field(default_factory=list)
    items: list[ItemRecord] = Field(default_factory=list)
    summary: Summary = Field(default_factory=Summary)
    unlearning: list[UnlearningRecord] = Field(default_factory=list)
    provenance: Provenance = Field(default_factory=Provenance)

    @property
    def complete(self) -> bool:
        """A report the CLI wrote is complete; a service report is complete once its audit succeeded."""
        return self.audit is None or self.audit.complete

    def variant(self, model: str, precision_label: str) -> VariantResult | None:
        return next((v for v in self.variants if v.model == model and v.precision_label == precision_label), None)
