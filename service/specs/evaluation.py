"""How models are evaluated (DESIGN 8): VerbMem's decoding and the dtype models are evaluated in.

MUSE decodes VerbMem greedily; the paper's released evaluation samples (its metrics/verbmem.py calls
`generate(do_sample=True, temperature=0.9)` on each prompt alone). `sampled` reproduces that, with a seed,
so that a sampled VerbMem is reproducible. `dtype` is the dtype of the full-precision variant and of every
model a quantizer starts from: `stored` (as the checkpoint is saved, the default) or a cast; the paper loads
its full-precision models in bf16 (its utils.py load_model, torch_dtype=torch.bfloat16).
"""

from typing import Literal

from pydantic import Field, model_validator

from service.specs.base import SpecModel

EvaluationDType = Literal["stored", "bf16", "fp16", "fp32"]
SAMPLING_FIELDS = ("temperature", "top_p", "seed", "samples")


class VerbMemDecoding(SpecModel):
    decoding: Literal["greedy", "sampled"] = Field("greedy", description="greedy (MUSE) or sampled (the paper)")
    temperature: float = Field(0.9, gt=0.0, le=10.0, description="sampled only; the paper's code uses 0.9")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="sampled only: nucleus sampling; 1.0 = off")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="sampled only; defaults to the audit's seed")
    samples: int = Field(1, ge=1, le=16, description="sampled only: continuations per prompt, their scores averaged")

    @model_validator(mode="after")
    def _sampling_fields_need_sampling(self) -> "VerbMemDecoding":
        defaults = type(self).model_fields
        given = [name for name in SAMPLING_FIELDS if getattr(self, name) != defaults[name].default]
        if self.decoding == "greedy" and given:  # defaults pass: a dumped spec validates again
            raise ValueError(f"{', '.join(given)} apply to decoding 'sampled' only")
        return self


class Evaluation(SpecModel):
    verbmem: VerbMemDecoding = Field(default_factory=VerbMemDecoding)
    dtype: EvaluationDType = Field(
        "stored", description="dtype of the full-precision variant and of the model every quantizer starts from"
    )

    def resolved(self, audit_seed: int) -> dict[str, object]:
        """The choices as the report's provenance records them (a sampled decoding's seed resolved)."""
        document = self.model_dump(mode="json")
        if self.verbmem.decoding == "sampled":
            document["verbmem"]["seed"] = self.verbmem.seed if self.verbmem.seed is not None else audit_seed
        else:
            document["verbmem"] = {"decoding": "greedy"}
        return document
