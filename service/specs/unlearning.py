"""Unlearning method configs (DESIGN 9): a union of two families told apart by `method`.

Every entry of a spec's `unlearning` list names the model it produces (`name`), which then joins the
audit as an unlearned model. The engine implements each method in worker/engine/unlearning.

The gradient family's user-facing names are data: GRADIENT_METHODS maps each to its forget loss, its
retain loss (or none) and whether SURE selects the trained modules. The engine composes the named losses
(worker/engine/unlearning/terms.py), so a new loss is one class there and one row here.
"""

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from service.specs.base import SpecModel
from service.specs.naming import ModelName
from service.specs.precision import RTNPrecision
from service.specs.presets import PRESETS, preset_fields


@dataclass(frozen=True)
class GradientRecipe:
    forget_loss: str
    retain_loss: str | None = None
    sure: bool = False


GRADIENT_METHODS: dict[str, GradientRecipe] = {
    "ga": GradientRecipe("ga"),
    "ga_gdr": GradientRecipe("ga", "gdr"),
    "ga_klr": GradientRecipe("ga", "klr"),
    "npo": GradientRecipe("npo"),
    "npo_gdr": GradientRecipe("npo", "gdr"),
    "npo_klr": GradientRecipe("npo", "klr"),
    "ga_sure": GradientRecipe("ga", sure=True),
    "ga_gdr_sure": GradientRecipe("ga", "gdr", sure=True),
    "ga_klr_sure": GradientRecipe("ga", "klr", sure=True),
    "npo_sure": GradientRecipe("npo", sure=True),
    "npo_gdr_sure": GradientRecipe("npo", "gdr", sure=True),
    "npo_klr_sure": GradientRecipe("npo", "klr", sure=True),
}
RMU_METHOD = "rmu"
UNLEARNING_METHODS: tuple[str, ...] = (*GRADIENT_METHODS, RMU_METHOD)


MAX_LAYER = 1024


class _MethodConfig(SpecModel):
    family: ClassVar[str]
    name: ModelName
    preset: str | None = Field(
        None,
        description=f"start from a paper's hyperparameters ({', '.join(PRESETS)}); the entry's fields override them",
    )
    lr: float = Field(1e-5, gt=0.0, le=1.0, description="constant AdamW learning rate")
    epochs: int = Field(1, ge=1, le=100, description="passes over the forget chunks")
    max_steps: int | None = Field(
        None,
        ge=1,
        le=10_000_000,
        description="optimizer steps; when given it replaces epochs (the forget chunks are cycled)",
    )
    batch_size: int = Field(4, ge=1, le=1024, description="forget/retain chunk pairs per batch")
    gradient_accumulation: int = Field(1, ge=1, le=1024, description="batches per optimizer step")
    chunk_length: int = Field(128, ge=8, le=8192, description="tokens per forget/retain chunk")
    bos_per_chunk: bool = Field(
        False,
        description="every chunk starts with BOS (MUSE's training data); default: BOS at each document's start",
    )
    max_grad_norm: float = Field(1.0, gt=0.0, le=1e6, description="gradient clipping")
    weight_decay: float = Field(0.0, ge=0.0, le=1e3)
    dtype: Literal["fp32", "bf16"] = Field(
        "fp32", description="bf16 = pure bf16 training: weights and AdamW state in bf16, as the paper's runs"
    )
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="defaults to the audit's seed")

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        """The preset's values under the entry's own fields; an unknown preset is named by the field check."""
        if isinstance(data, dict) and isinstance(data.get("preset"), str) and data["preset"] in PRESETS:
            return preset_fields(data["preset"], cls.family) | data
        return data

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, preset: str | None) -> str | None:
        if preset is not None:
            preset_fields(preset, cls.family)
        return preset


class GradientMethodConfig(_MethodConfig):
    """GA / NPO with an optional retain term (GDR, KLR) and optional SURE module selection."""

    family: ClassVar[str] = "gradient"
    method: str = Field(description="a name of GRADIENT_METHODS", json_schema_extra={"enum": list(GRADIENT_METHODS)})
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

    @field_validator("method")
    @classmethod
    def _known_method(cls, method: str) -> str:
        if method not in GRADIENT_METHODS:
            raise ValueError(f"unknown unlearning method '{method}' (known: {', '.join(UNLEARNING_METHODS)})")
        return method

    @property
    def recipe(self) -> GradientRecipe:
        return GRADIENT_METHODS[self.method]

    @property
    def uses_sure(self) -> bool:
        return self.recipe.sure

    @property
    def forget_loss(self) -> str:
        return self.recipe.forget_loss

    @property
    def retain_loss(self) -> str | None:
        return self.recipe.retain_loss


class RMUConfig(_MethodConfig):
    """Representation misdirection (WMDP): steer one layer's forget activations to a random direction."""

    family: ClassVar[str] = RMU_METHOD
    method: Literal["rmu"]
    lr: float = Field(5e-5, gt=0.0, le=1.0)
    layer: int = Field(1, ge=0, le=MAX_LAYER, description="decoder layer whose output activations are steered")
    steering_coeff: float = Field(6.5, gt=0.0, le=1e6, description="c: norm of the random control vector")
    alpha: float = Field(100.0, ge=0.0, le=1e6, description="weight of the retain activation loss")
    trainable_layers: list[Annotated[int, Field(ge=0, le=MAX_LAYER)]] | None = Field(
        None, max_length=MAX_LAYER, description="layers whose MLP weights are updated; default: layer-2 .. layer"
    )


def _family(entry: Any) -> str:
    """RMU by its name, every other `method` to the gradient family (which names the unknown ones)."""
    method = entry.get("method") if isinstance(entry, dict) else getattr(entry, "method", None)
    return RMUConfig.family if method == RMU_METHOD else GradientMethodConfig.family


UnlearningConfig = Annotated[
    Annotated[GradientMethodConfig, Tag(GradientMethodConfig.family)] | Annotated[RMUConfig, Tag(RMUConfig.family)],
    Discriminator(_family),
]
