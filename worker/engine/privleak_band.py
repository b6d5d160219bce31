"""PrivLeak against the policy's optional band (DESIGN 8.5): a variant whose PrivLeak interval lies outside
+-max_privleak_abs fails, one whose interval crosses the band's edge is inconclusive; null: report only."""

from service.specs.audit import Policy
from service.specs.report import Reason, VariantResult


def privleak_reasons(variant: VariantResult | None, policy: Policy) -> list[Reason]:
    band = policy.max_privleak_abs
    value = variant.metrics.get("privleak") if variant else None
    if band is None or variant is None or value is None:
        return []
    detail = variant.metric_details.get("privleak")
    low = detail.ci_low if detail and detail.ci_low is not None else value
    high = detail.ci_high if detail and detail.ci_high is not None else value
    if -band <= low and high <= band:
        return []
    outside = high < -band or low > band
    words = "lies outside" if outside else "crosses the edge of"
    return [
        Reason(
            code="privleak_out_of_range" if outside else "privleak_straddles_range",
            model=variant.model,
            precision_label=variant.precision_label,
            metric="privleak",
            value=value,
            ci_low=low,
            ci_high=high,
            threshold=band,
            message=f"{variant.model} at {variant.precision_label}: privleak {value:.1f} [{low:.1f}, {high:.1f}] "
            f"{words} the band +-{band:.1f} (max_privleak_abs)",
        )
    ]
