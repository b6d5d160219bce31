"""Which reference AUC normalises PrivLeak (DESIGN 8.3): the spec's, then the bundle's, then 0.5.

The spec's `reference` wins: its `auc`, else the AUC the CLI measured on its retrained model; then the
bundle's `meta.reference_auc` (MUSE News 0.4772, Books 0.5393, from the paper's and MUSE's constants.py);
then 0.5, and the report says that the PrivLeak is then not comparable with MUSE's published numbers.
"""

from service.specs.audit import AuditSpec
from service.specs.corpus import BundleMeta
from service.specs.report import ReferenceAUCChoice

DEFAULT_REFERENCE_AUC = 0.5
NOT_COMPARABLE = (
    "no reference AUC was given (the spec's reference.auc or the bundle's meta.reference_auc): PrivLeak is "
    "normalised by 0.5, so it is not comparable with MUSE's published PrivLeak, which uses the retrained "
    "model's AUC (MUSE News 0.4772, Books 0.5393)"
)


def choose_reference_auc(spec: AuditSpec, meta: BundleMeta | None, measured: float | None = None) -> ReferenceAUCChoice:
    """The reference AUC of an audit and where it comes from."""
    reference = spec.reference
    if reference is not None and reference.auc is not None:
        return ReferenceAUCChoice(value=reference.auc, origin="spec", name=reference.model, source="reference.auc")
    if measured is not None and reference is not None:
        return ReferenceAUCChoice(
            value=measured, origin="reference model", name=reference.model, source="measured at full precision"
        )
    if meta is not None and meta.reference_auc is not None:
        given = meta.reference_auc
        return ReferenceAUCChoice(value=given.value, origin="bundle", name=given.name, source=given.source)
    return ReferenceAUCChoice(value=DEFAULT_REFERENCE_AUC, origin="default", note=NOT_COMPARABLE)
