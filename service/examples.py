"""Examples in the OpenAPI document (what Swagger UI pre-fills and client generators show): an audit spec,
a corpus, results. Each is valid: a test submits the spec examples and validates the others."""

from typing import Any

SPEC_EXAMPLES: dict[str, dict[str, Any]] = {
    "models": {
        "summary": "Audit unlearned models you have",
        "description": "A target and an unlearned model from an allowed hub organisation or a folder under your "
        "model root, a stored corpus (POST /v1/corpora), full precision against 8-bit and 4-bit.",
        "value": {
            "target": {"model": "muse-bench/MUSE-News_target"},
            "unlearned": [{"name": "npo", "model": "/models/acme/npo-news"}],
            "corpus": "c0ffee0123456789abcdef0123456789",
            "precisions": [{"method": "full"}, {"method": "bnb_int8"}, {"method": "rtn", "bits": 4, "group_size": 128}],
            "metrics": ["verbmem_f", "knowmem_f", "knowmem_r", "privleak"],
        },
    },
    "recipe": {
        "summary": "Unlearn with a recipe, then audit",
        "description": "The service makes the unlearned model (gradient ascent) from the corpus' forget text.",
        "value": {
            "target": {"model": "/models/acme/target"},
            "unlearning": [{"name": "ga", "method": "ga"}],
            "corpus": "c0ffee0123456789abcdef0123456789",
            "precisions": [{"method": "full"}, {"method": "rtn", "bits": 4}],
            "metrics": ["verbmem_f", "knowmem_f"],
            "limits": {"max_items": 100},
        },
    },
}

CORPUS_EXAMPLE = {
    "verbmem": {"forget": [{"prompt": "Arlo Venn was born in", "gt": " Brask in 1900."}]},
    "knowmem": {"forget_qa": [{"question": "Where was Arlo Venn born?", "answer": "Brask"}]},
}

RESULTS_EXAMPLE: dict[str, Any] = {
    "audit_id": "5b1e0c7a9d2f4e6b8a3c1d0e2f4a6b8c",
    "status": "succeeded",
    "models": ["target", "npo"],
    "precisions": ["full", "rtn-w4-g128-asym"],
    "metrics": ["verbmem_f"],
    "metric_info": {
        "verbmem_f": {
            "title": "VerbMem on the forget set",
            "unit": "ROUGE-L F1 [0, 1]",
            "direction": "lower",
            "definition": "How much of each forget passage the model continues verbatim.",
        }
    },
    "matrix": [
        {
            "model": "npo",
            "precision_label": "rtn-w4-g128-asym",
            "precision": {"method": "rtn", "bits": 4, "group_size": 128},
            "metrics": {"verbmem_f": 0.41},
            "metric_details": {
                "verbmem_f": {"value": 0.41, "unit": "ROUGE-L F1 [0, 1]", "direction": "lower", "n_items": 100}
            },
            "collision": None,
            "timings": {"evaluate_s": 12.5},
        }
    ],
    "retained": {"npo": {"full": {"verbmem_f": 0.05}, "rtn-w4-g128-asym": {"verbmem_f": 0.71}}},
    "recovery": {"npo": {"full": {"verbmem_f": 0.0}, "rtn-w4-g128-asym": {"verbmem_f": 0.66}}},
    "collisions": [],
    "summary": None,
    "verdict": None,
    "unlearning": [],
}
