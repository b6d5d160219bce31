"""The demo's audit spec: every demo model at full precision, 8-bit and 4-bit (RTN and bitsandbytes NF4, FP4).

KnowMem is measured: the demo trains its QA lines tokenized as KnowMem's prompt ends (`Answer: `, then the
answer), and the full demo's quiz documents ask them alone, so its target answers the questions (KnowMem_f
0.594, KnowMem_r 0.500 measured; the fast target 0.125 and 0.25); KnowMem_r is the utility, so the default
policy holds it against the verdicts. RTN 4-bit per channel is
where the paper's case came back most on this 256-wide model (coarser buckets than group 64 or 128).
"""

from typing import Any

from worker.engine.demo.build import DemoAssets

DEMO_PRECISIONS: tuple[dict[str, Any], ...] = (
    {"method": "full"},
    {"method": "rtn", "bits": 8, "group_size": None},
    {"method": "rtn", "bits": 4, "group_size": 64},
    {"method": "rtn", "bits": 4, "group_size": 128},
    {"method": "rtn", "bits": 4, "group_size": None},
    {"method": "bnb_nf4"},
    {"method": "bnb_fp4"},
)


FAST_PRECISIONS: tuple[dict[str, Any], ...] = DEMO_PRECISIONS[:3]
"""Full, 8-bit and the positive control's own quantizer: enough to show the attack, in a fraction of the time."""
DEMO_METRICS: tuple[str, ...] = ("verbmem_f", "knowmem_f", "knowmem_r", "privleak", "collision")
FAST_METRICS: tuple[str, ...] = DEMO_METRICS


def demo_spec(
    assets: DemoAssets,
    max_items: int = 32,
    precisions: tuple[dict[str, Any], ...] = DEMO_PRECISIONS,
    metrics: tuple[str, ...] = DEMO_METRICS,
) -> dict[str, Any]:
    """The audit spec document (validate it with AuditSpec.model_validate); the corpus is the bundle folder."""
    return {
        "target": {"model": str(assets.target_dir)},
        "unlearned": [{"name": name, "model": str(folder)} for name, folder in assets.unlearned.items()],
        "corpus": str(assets.bundle_dir),
        "precisions": [dict(precision) for precision in precisions],
        "metrics": list(metrics),
        "limits": {"max_items": max_items, "bootstrap_samples": 200},
        "seed": 0,
    }
