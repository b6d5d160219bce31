"""Names given to models in a spec, and the shape of a model's hub id."""

import re
from typing import Annotated

from pydantic import StringConstraints

TARGET_NAME = "target"
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$")  # org/name

ModelName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"),
]
