"""The corpora API's response shapes (stable: the dashboard and clients read them)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CorpusOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    sha256: str = Field(description="sha256 of the bundle's canonical JSON form: its content address")
    name: str | None
    labels: dict[str, str]
    parts: dict[str, int] = Field(description="items per present part, e.g. {'verbmem/forget': 100}")
    size_bytes: int
    created_at: datetime
    ignored: list[str] = Field(
        default_factory=list,
        description="upload answers only: parts of the upload that are no part of a bundle (MUSE's published "
        "extras such as raw/holdout, raw/retain1, raw/retain2, scal, sust); tolerated, not stored",
    )
