"""What each metric means (DESIGN 8): name, unit, direction, definition and the bundle parts it needs.

Travels with every number in reports, API results and the dashboard.
"""

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, get_args

MetricName = Literal["verbmem_f", "knowmem_f", "knowmem_r", "privleak", "collision"]
METRIC_NAMES: tuple[MetricName, ...] = get_args(MetricName)


@dataclass(frozen=True)
class MetricInfo:
    name: str
    title: str
    unit: str
    direction: str
    definition: str
    requires: tuple[str, ...]  # bundle parts
    optional: tuple[str, ...] = ()
    knowledge: bool = False  # higher = more forget-set knowledge: retained share and recovery apply


METRICS: dict[str, MetricInfo] = {
    "verbmem_f": MetricInfo(
        name="verbmem_f",
        title="VerbMem on forget",
        unit="fraction [0, 1]",
        direction="lower is better after unlearning",
        definition="Mean ROUGE-L F1 of the ground-truth continuation against the model's greedy 128-token "
        "continuation of each forget prompt (MUSE M1).",
        requires=("verbmem/forget",),
        knowledge=True,
    ),
    "knowmem_f": MetricInfo(
        name="knowmem_f",
        title="KnowMem on forget",
        unit="fraction [0, 1]",
        direction="lower is better after unlearning",
        definition="Mean ROUGE-L F1 of the answer against the model's greedy answer (32 tokens, in-context "
        "examples first) to each forget question (MUSE M2).",
        requires=("knowmem/forget_qa",),
        optional=("knowmem/forget_qa_icl",),
        knowledge=True,
    ),
    "knowmem_r": MetricInfo(
        name="knowmem_r",
        title="KnowMem on retain (utility)",
        unit="fraction [0, 1]",
        direction="higher is better (utility kept)",
        definition="Mean ROUGE-L F1 on retain questions, as KnowMem on forget (MUSE M4, utility).",
        requires=("knowmem/retain_qa",),
        optional=("knowmem/retain_qa_icl",),
    ),
    "privleak": MetricInfo(
        name="privleak",
        title="PrivLeak",
        unit="percent",
        direction="closer to 0 is better; negative = forget texts still recognisable",
        definition="(AUC - AUC_ref) / AUC_ref x 100, where AUC separates forget (0) from holdout (1) texts "
        "by minus the Min-40% log-probability score; AUC_ref is the spec's reference AUC, else the bundle's "
        "meta.reference_auc, else 0.5 (MUSE M3).",
        requires=("privleak/forget", "privleak/holdout"),
    ),
    "collision": MetricInfo(
        name="collision",
        title="Bucket collision",
        unit="fraction [0, 1]",
        direction="near 1 = the quantized unlearned model is the quantized target",
        definition="Share of quantized weights whose code is the same for the unlearned and the target model "
        "under the precision's quantizer (weight level, no data).",
        requires=(),
    ),
}

KNOWLEDGE_METRICS: tuple[str, ...] = tuple(name for name, info in METRICS.items() if info.knowledge)
UTILITY_METRIC = "knowmem_r"


def missing_parts(metric: str, present: Collection[str]) -> list[str]:
    """The bundle parts a metric needs that the bundle lacks."""
    return [part for part in METRICS[metric].requires if part not in present]


def skip_reason(metric: str, present: Collection[str]) -> str | None:
    """Why `metric` cannot be measured on a bundle with these parts, or None when it can."""
    missing = missing_parts(metric, present)
    return f"the bundle has no {' or '.join(missing)}" if missing else None
