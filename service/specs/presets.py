"""Unlearning presets: every hyperparameter of the paper's MUSE scripts, by name (issue 13; docs/fidelity.md
cites the file and line of each value).

An unlearning entry naming `preset` starts from the preset's values for its method family; the entry's own
fields override them. The paper (github.com/zzwjames/FailureLLMUnlearning) trains the MUSE targets
(Llama-2-7B, 32 decoder layers) with baselines/scripts/unlearn_{news,books}.sh through baselines/unlearn.py
and baselines/baselines/iterative.py: bf16 weights, 2048-token chunks that each start with BOS, AdamW at a
constant 1e-5, alpha 1, NPO beta 0.1, SURE's threshold at the 90th percentile, no gradient accumulation
(the model is spread over the GPUs with device_map='auto', so the Trainer runs one model-parallel replica).
The paper's RMU steers the last layer's output (hidden_states[-1]) toward alpha * u with alpha = 1 and
trains every weight; the closest this engine gets is the last layer steered with c = 1 and every layer's
MLP trained.
"""

from typing import Any

_SHARED: dict[str, Any] = {
    "dtype": "bf16",
    "chunk_length": 2048,
    "bos_per_chunk": True,
    "lr": 1e-5,
    "gradient_accumulation": 1,
    "max_grad_norm": 1.0,
    "weight_decay": 0.0,
    "alpha": 1.0,
}
_GRADIENT: dict[str, Any] = {**_SHARED, "beta": 0.1, "saliency_percentile": 90.0}
_MUSE_LAYERS = 32
_RMU: dict[str, Any] = {
    **_SHARED,
    "layer": _MUSE_LAYERS - 1,
    "steering_coeff": 1.0,
    "trainable_layers": list(range(_MUSE_LAYERS)),
}

# {preset: {method family: {field: value}}}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "muse-news": {
        "gradient": {**_GRADIENT, "epochs": 10, "batch_size": 2},
        "rmu": {**_RMU, "epochs": 10, "batch_size": 2},
    },
    "muse-books": {
        "gradient": {**_GRADIENT, "epochs": 1, "batch_size": 1},
        "rmu": {**_RMU, "epochs": 1, "batch_size": 1},
    },
}


def preset_fields(preset: str, family: str) -> dict[str, Any]:
    """The values a preset gives an entry of this method family (a copy: the caller may change it)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset '{preset}' (known: {', '.join(sorted(PRESETS))})")
    return dict(PRESETS[preset][family])
