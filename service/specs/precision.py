"""Precision configs: how a model is run. A discriminated union on `method` (DESIGN 10).

Each config has a stable `label` used in reports and API results (e.g. `rtn-w4-g128-asym`).
The engine implements each `method` as a quantizer of the same name (worker/engine/quantizers).
"""

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from service.specs.base import SpecModel

MAX_GROUP_SIZE = 1 << 20  # far above any layer's input width; keeps every label short (<= 64 characters)


class _Precision(SpecModel):
    @property
    def label(self) -> str:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    @property
    def bit_width(self) -> int | None:
        """Bits per weight; None for full precision."""
        bits = getattr(self, "bits", None)
        return bits if isinstance(bits, int) else None


class FullPrecision(_Precision):
    """The model as stored (fp32 or bf16): the baseline that recovery is measured against."""

    method: Literal["full"] = "full"

    @property
    def label(self) -> str:
        return "full"


class RTNPrecision(_Precision):
    """Round-to-nearest weight quantization of every linear layer except the output head."""

    method: Literal["rtn"] = "rtn"
    bits: int = Field(4, ge=2, le=8, description="bits per weight, 2 to 8")
    group_size: int | None = Field(
        128,
        ge=1,
        le=MAX_GROUP_SIZE,
        description="weights per quantization group along the input dim; null = per output channel",
    )
    symmetric: bool = Field(False, description="symmetric (no zero point) or asymmetric (zero point)")

    @property
    def label(self) -> str:
        group = "pc" if self.group_size is None else f"g{self.group_size}"
        return f"rtn-w{self.bits}-{group}-{'sym' if self.symmetric else 'asym'}"


class BnbInt8Precision(_Precision):
    """bitsandbytes LLM.int8: row-wise absmax int8 with fp16 outlier columns above the threshold."""

    method: Literal["bnb_int8"] = "bnb_int8"
    threshold: float = Field(6.0, ge=0.0, le=1e6, description="outlier threshold; 0 disables the mixed decomposition")

    @property
    def bit_width(self) -> int:
        return 8

    @property
    def label(self) -> str:
        return "bnb-int8" if self.threshold == 6.0 else f"bnb-int8-t{self.threshold:g}"


class _Bnb4bitPrecision(_Precision):
    quant_type: ClassVar[str]
    block_size: Literal[64, 128, 256, 512, 1024, 2048, 4096] = 64
    compute_dtype: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32",
        description="dtype of the matmuls; fp32 is what the paper's loader gets (BitsAndBytesConfig(load_in_4bit="
        "True) leaves bnb_4bit_compute_dtype at transformers' default, float32)",
    )

    @property
    def bit_width(self) -> int:
        return 4

    @property
    def label(self) -> str:
        compute = "" if self.compute_dtype == "fp32" else f"-{self.compute_dtype}"
        return f"bnb-{self.quant_type}-b{self.block_size}{compute}"


class BnbFP4Precision(_Bnb4bitPrecision):
    """bitsandbytes 4-bit float (the paper's 4-bit), absmax per block."""

    method: Literal["bnb_fp4"] = "bnb_fp4"
    quant_type: ClassVar[str] = "fp4"


class BnbNF4Precision(_Bnb4bitPrecision):
    """bitsandbytes 4-bit NormalFloat, absmax per block."""

    method: Literal["bnb_nf4"] = "bnb_nf4"
    quant_type: ClassVar[str] = "nf4"


class _CalibratedPrecision(_Precision):
    bits: Literal[4, 8] = 4
    group_size: int | None = Field(128, ge=1, le=MAX_GROUP_SIZE, description="null = per output channel")
    symmetric: bool = True
    calibration_samples: int = Field(32, ge=1, le=4096, description="texts of the corpus used for calibration")
    calibration_length: int = Field(256, ge=16, le=8192, description="tokens per calibration text")


class GPTQPrecision(_CalibratedPrecision):
    """GPTQ (Hessian-aware rounding with calibration data), through llm-compressor."""

    method: Literal["gptq"] = "gptq"
    dampening: float = Field(0.01, gt=0.0, lt=1.0, description="fraction of the mean Hessian diagonal added")

    @property
    def label(self) -> str:
        group = "pc" if self.group_size is None else f"g{self.group_size}"
        return f"gptq-w{self.bits}-{group}"


class AWQPrecision(_CalibratedPrecision):
    """AWQ (activation-aware channel scaling, then RTN), through llm-compressor."""

    method: Literal["awq"] = "awq"
    bits: Literal[4] = 4
    symmetric: bool = False

    @property
    def label(self) -> str:
        group = "pc" if self.group_size is None else f"g{self.group_size}"
        return f"awq-w{self.bits}-{group}"


PrecisionConfig = Annotated[
    FullPrecision | RTNPrecision | BnbInt8Precision | BnbFP4Precision | BnbNF4Precision | GPTQPrecision | AWQPrecision,
    Field(discriminator="method"),
]

PRECISION_METHODS: tuple[str, ...] = ("full", "rtn", "bnb_int8", "bnb_fp4", "bnb_nf4", "gptq", "awq")
