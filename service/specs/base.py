"""The base of every spec shape: unknown keys refused, no coercion, finite numbers, storable text.

Every model in service.specs that reads user input derives from `SpecModel`, so that a new field gets these
checks without asking for them. Strict mode keeps JSON types as they are: pydantic's lax mode would read
`"max_items": true` as 1 and `"4"` as 4. Errors name the field: pydantic's location plus the reason.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from service.specs.text import first_text_problem


class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        """After validation, so that nested spec models have already named their own fields."""
        found = first_text_problem(value)
        if found is not None:
            location, problem = found
            raise ValueError(problem + (f" at {'.'.join(map(str, location))}" if location else ""))
        return value
