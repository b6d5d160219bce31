"""The audit spec (DESIGN 6): what to audit, on which data, at which precisions, with which metrics."""

from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from service.specs.base import SpecModel
from service.specs.evaluation import Evaluation
from service.specs.labels import Labels, Name
from service.specs.metrics import METRIC_NAMES, MetricName
from service.specs.naming import TARGET_NAME, ModelName, RevisionName, is_hub_id
from service.specs.precision import FullPrecision, PrecisionConfig
from service.specs.unlearning import UnlearningConfig

REVISION_DESCRIPTION = "hub models only: a branch, a tag or a 40-hex commit; default main"


def hub_only_revision(revision: str | None, info: ValidationInfo) -> str | None:
    """A revision names a version on the hub; a local folder has only the one on disk."""
    model = info.data.get("model")
    if revision is not None and model is not None and not is_hub_id(model):
        raise ValueError("only hub models (org/name) have revisions; a local folder has none")
    return revision


class ModelSource(SpecModel):
    model: str = Field(min_length=1, max_length=512, description="a hub id (org/name) or a local folder")
    revision: RevisionName | None = Field(None, description=REVISION_DESCRIPTION)

    _hub_only_revision = field_validator("revision")(hub_only_revision)


class UnlearnedModel(ModelSource):
    name: ModelName


class ReferenceSpec(SpecModel):
    """The retrained model (gold standard) or just its PrivLeak AUC (MUSE News: 0.4772)."""

    model: str | None = Field(None, min_length=1, max_length=512)
    revision: RevisionName | None = Field(None, description=REVISION_DESCRIPTION)
    auc: float | None = Field(None, gt=0.0, lt=1.0)

    _hub_only_revision = field_validator("revision")(hub_only_revision)

    @model_validator(mode="after")
    def _model_or_auc(self) -> "ReferenceSpec":
        if self.model is None and self.auc is None:
            raise ValueError("give the reference model, its AUC, or both")
        return self


class Policy(SpecModel):
    max_retained: float = Field(0.5, ge=0.0, le=100.0, description="fail above this retained share of forget knowledge")
    max_recovery: float = Field(0.25, ge=0.0, le=100.0, description="fail when quantization brings back more than this")
    min_utility: float = Field(0.8, ge=0.0, le=1.0, description="utility_lost below this share of KnowMem-retain")
    bootstrap_samples: int = Field(
        2000, ge=100, le=20_000, description="resamples of the paired intervals that verdicts are judged on"
    )
    confidence: float = Field(0.95, ge=0.5, le=0.999, description="coverage of those intervals")
    min_target_score: float = Field(
        0.05, ge=0.0, le=1.0, description="below this target mean a cell is undefined: nothing to retain"
    )
    require_utility: bool = Field(True, description="unmeasured utility (knowmem_r) makes a would-be pass inconclusive")
    max_privleak_abs: float | None = Field(
        None, gt=0.0, le=1000.0, description="fail a variant whose PrivLeak (percent) lies outside +-this; null: report"
    )
    item_rise: float = Field(
        0.1, ge=0.0, le=1.0, description="a forget item 'rose' when its score at a precision exceeds its own at full "
        "by more than this (items?rose=true, the report's evidence)",
    )  # fmt: skip


class Limits(SpecModel):
    max_items: int | None = Field(100, ge=1, le=100_000, description="items per evaluation set")
    batch_size: int = Field(16, ge=1, le=1024, description="items per generation or scoring batch")
    bootstrap_samples: int = Field(1000, ge=0, le=100_000, description="resamples for each metric's own 95% interval")


def _full_precision_only() -> list[PrecisionConfig]:
    return [FullPrecision()]


AUDIT_RECORD_FIELDS = frozenset({"name", "labels"})  # the audit's own columns: not in its stored spec or report


class AuditSpec(SpecModel):
    name: Name | None = Field(None, description="for people and lists: free text")
    labels: Labels = Field(default_factory=dict, description="string key-value pairs to filter lists on")
    target: ModelSource
    unlearned: list[UnlearnedModel] = Field(default_factory=list)
    unlearning: list[UnlearningConfig] = Field(default_factory=list)
    reference: ReferenceSpec | None = None
    corpus: str | dict[str, Any] = Field(
        description="a corpus id (API), a folder or JSON file path (CLI), or the bundle document inline"
    )
    policy: Policy = Field(default_factory=Policy)
    precisions: list[PrecisionConfig] = Field(default_factory=_full_precision_only, min_length=1)
    metrics: list[MetricName] = Field(default_factory=lambda: list(METRIC_NAMES), min_length=1)
    limits: Limits = Field(default_factory=Limits)
    evaluation: Evaluation = Field(default_factory=Evaluation)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    cache: bool = Field(
        True, description="reuse this tenant's results of identical variants (false: evaluate every variant afresh)"
    )

    @field_validator("precisions")
    @classmethod
    def _full_first_and_unique(cls, precisions: list[Any]) -> list[Any]:
        labels = [p.label for p in precisions]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise ValueError(f"duplicate precisions: {duplicates}")
        if "full" not in labels:  # recovery is measured against full precision
            precisions = [FullPrecision(), *precisions]
        return precisions

    @field_validator("metrics")
    @classmethod
    def _unique_metrics(cls, metrics: list[str]) -> list[str]:
        return list(dict.fromkeys(metrics))

    @model_validator(mode="after")
    def _unique_model_names(self) -> "AuditSpec":
        names = [m.name for m in self.unlearned] + [u.name for u in self.unlearning]
        if not names:
            raise ValueError("nothing to audit: give `unlearned` models or `unlearning` recipes")
        if TARGET_NAME in names:
            raise ValueError(f"the name '{TARGET_NAME}' is reserved for the target model")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"model names must be unique across unlearned and unlearning: {duplicates}")
        return self

    @property
    def model_names(self) -> list[str]:
        """Every audited model, target first."""
        return [TARGET_NAME] + [m.name for m in self.unlearned] + [u.name for u in self.unlearning]

    @property
    def precision_labels(self) -> list[str]:
        return [p.label for p in self.precisions]

    @property
    def evaluation_metrics(self) -> list[str]:
        """The requested metrics that are measured on text (everything but collision)."""
        return [m for m in self.metrics if m != "collision"]
