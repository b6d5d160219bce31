"""Unlearning method configs (DESIGN 9): a discriminated union on `method`.

Every entry of a spec's `unlearning` list names the model it produces (`name`), which then joins the
audit as an unlearned model. The engine implements each method in worker/engine/unlearning.
"""

from typing import Annotated, Literal, get_args

from pydantic import Field

from service.specs.base import SpecModel
from service.specs.naming import ModelName
from service.specs.precision import RTNPrecision

GradientMethod = Literal[
    "ga", "ga_gdr", "ga_klr", "npo", "npo_gdr", "npo_klr",
    "ga_sure", "ga_gdr_sure", "ga_klr_sure", "npo_sure", "npo_gdr_sure", "npo_klr_sure",
]  # fmt: skip
UNLEARNING_METHODS: tuple[str, ...] = (*get_args(GradientMethod), "rmu")


MAX_LAYER = 1024


class _MethodConfig(SpecModel):
    name: ModelName
    lr: float = Field(1e-5, gt=0.0, le=1.0, description="constant AdamW learning rate")
    epochs: int = Field(1, ge=1, le=100, description="passes over the forget chunks")
    max_steps: int | None = Field(
        None,
        ge=1,
        le=10_000_000,
        description="optimizer steps; when given it replaces epochs (the forget chunks are cycled)",
    )
    batch_size: int = Field(4, ge=1, le=1024, description="forget/retain chunk pairs per step")
    chunk_length: int = Field(128, ge=8, le=8192, description="tokens per forget/retain chunk")
    max_grad_norm: float = Field(1.0, gt=0.0, le=1e6, description="gradient clipping")
    weight_decay: float = Field(0.0, ge=0.0, le=1e3)
    dtype: Literal["fp32", "bf16"] = Field(
        "fp32", description="bf16 = pure bf16 training: weights and AdamW state in bf16, as the paper's runs"
    )
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="defaults to the audit's seed")


class GradientMethodConfig(_MethodConfig):
    """GA / NPO with an optional retain term (GDR, KLR) and optional SURE module selection."""

    method: GradientMethod
    alpha: float = Field(1.0, ge=0.0, le=1e6, description="weight of the retain loss")
    beta: float = Field(0.1, gt=0.0, le=1e3, description="NPO temperature")
    saliency_percentile: float = Field(
        90.0, ge=0.0, le=100.0, description="SURE: update the modules at or above this saliency percentile"
    )
    bucket_constraint: RTNPrecision | None = Field(
        None,
        description="keep every quantized weight inside the bucket of its target code under this RTN "
        "quantizer (group scales unchanged): the quantization attack, a known-positive control",
    )

    @property
    def uses_sure(self) -> bool:
        return self.method.endswith("_sure")

    @property
    def forget_loss(self) -> Literal["ga", "npo"]:
        return "npo" if self.method.startswith("npo") else "ga"

    @property
    def retain_loss(self) -> Literal["gdr", "klr"] | None:
        for retain in ("gdr", "klr"):
            if f"_{retain}" in self.method:
                return retain
        return None


class RMUConfig(_MethodConfig):
    """Representation misdirection (WMDP): steer one layer's forget activations to a random direction."""

    method: Literal["rmu"]
    lr: float = Field(5e-5, gt=0.0, le=1.0)
    layer: int = Field(1, ge=0, le=MAX_LAYER, description="decoder layer whose output activations are steered")
    steering_coeff: float = Field(6.5, gt=0.0, le=1e6, description="c: norm of the random control vector")
    alpha: float = Field(100.0, ge=0.0, le=1e6, description="weight of the retain activation loss")
    trainable_layers: list[Annotated[int, Field(ge=0, le=MAX_LAYER)]] | None = Field(
        None, max_length=MAX_LAYER, description="layers whose MLP weights are updated; default: layer-2 .. layer"
    )


UnlearningConfig = Annotated[GradientMethodConfig | RMUConfig, Field(discriminator="method")]
