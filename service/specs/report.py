"""The report schema (versioned): what the engine produces and what clients read.

Stable names clients rely on: `schema_version`; `variants` [{model, precision, metrics, collision}];
`items`; `summary` {retained, recovery, verdicts, verdict, reasons}; `provenance`.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0"

Verdict = Literal["pass", "fail", "utility_lost"]


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

    overall: float
    per_layer: dict[str, float]
    scales_equal: float | None = Field(None, description="share of quantization groups with equal scales")
    distance_histogram: dict[str, list[float]] = Field(
        default_factory=dict, description="{edges, counts}: |dw| / bucket width over all quantized weights"
    )
    n_weights: int = 0
    approximate: bool = Field(False, description="calibration-based codes (GPTQ, AWQ) are approximate")
    quantizer: str = ""


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
    reasons: list[str] = Field(default_factory=list)
    skipped_metrics: dict[str, str] = Field(default_factory=dict, description="{metric: why it was not measured}")
    policy: dict[str, float] = Field(default_factory=dict)


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
    started_at: str | None = None
    finished_at: str | None = None


class Report(_Open):
    schema_version: str = SCHEMA_VERSION
    spec: dict[str, Any]
    variants: list[VariantResult] = Field(default_factory=list)
    items: list[ItemRecord] = Field(default_factory=list)
    summary: Summary = Field(default_factory=Summary)
    unlearning: list[UnlearningRecord] = Field(default_factory=list)
    provenance: Provenance = Field(default_factory=Provenance)

    def variant(self, model: str, precision_label: str) -> VariantResult | None:
        return next((v for v in self.variants if v.model == model and v.precision_label == precision_label), None)
