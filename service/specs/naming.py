"""Names given to models in a spec."""

from typing import Annotated

from pydantic import StringConstraints

TARGET_NAME = "target"

ModelName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"),
]
