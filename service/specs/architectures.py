"""Which model architectures each quantizer can take, by config.json `model_type` (torch-free).

The API checks local model folders at submit; models known only by a hub id are checked by the worker
when it has their config (the quantizer refuses before any work). Every quantizer takes any architecture
whose linear layers are nn.Linear or transformers' Conv1D, except those listed here. A quantizer given
an architecture that it handles only partly would otherwise run and report a model it did not really
quantize as quantized (the engine also checks what each quantizer did).
"""

AWQ_MODEL_TYPES = frozenset(
    {"llama", "mistral", "qwen2", "qwen3", "qwen2_moe", "qwen3_moe", "phi3", "gemma2", "gemma3_text", "granite",
     "cohere", "cohere2", "bloom", "olmo", "exaone4", "deepseek_v3", "glm4_moe"}
)  # fmt: skip
"""Decoder architectures with AWQ smoothing mappings in llm-compressor (a test checks them against it)."""

SUPPORTED_MODEL_TYPES: dict[str, tuple[frozenset[str], str]] = {
    "awq": (
        AWQ_MODEL_TYPES,
        "llm-compressor has no AWQ smoothing mappings for it: its Llama default would fail (OPT, GPT-NeoX), "
        "smooth nothing and be plain round-to-nearest (GPT-2), or rescale norms it must not (Gemma's 1 + w)",
    ),
}


def architecture_refusal(method: str, model_type: str) -> str | None:
    """Why quantizer `method` cannot take models of `model_type`, or None when it can."""
    if method not in SUPPORTED_MODEL_TYPES:
        return None
    supported, reason = SUPPORTED_MODEL_TYPES[method]
    if model_type in supported:
        return None
    return f"{method} cannot quantize model type '{model_type}': {reason}"
