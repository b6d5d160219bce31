"""The result cache's key (issue 15): everything a variant's results depend on, hashed.

A variant's results are reused, within one tenant, by a later audit whose variant has the same key: the same
model content (service: a hub model's resolved commit, a local folder's weight and configuration files), the
same precision config, the same corpus (its sha256), the same text metrics and evaluation settings (limits,
seed, the reference AUC PrivLeak is calibrated with, decoding and dtype) and the same engine (the versions of
this package and of the libraries that compute the numbers).
"""

import hashlib
import json
from collections.abc import Mapping

from service.specs.audit import AuditSpec
from service.specs.precision import PrecisionConfig


def result_key(
    model_digest: str,
    precision: PrecisionConfig,
    corpus_sha256: str,
    spec: AuditSpec,
    reference_auc: float | None,
    engine_versions: Mapping[str, str],
) -> str:
    document = {
        "model": model_digest,
        "precision": precision.model_dump(mode="json"),
        "corpus": corpus_sha256,
        "metrics": sorted(spec.evaluation_metrics),
        "evaluation": {
            "limits": spec.limits.model_dump(mode="json"),
            "seed": spec.seed,
            "reference_auc": reference_auc,
            "modes": spec.evaluation.model_dump(mode="json"),
        },
        "engine": dict(engine_versions),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
