"""Progress bars for the engine's stages (one tqdm bar per stage, on stderr)."""

from tqdm import tqdm


class StageBars:
    """An engine Progress sink: a new bar whenever the stage changes."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.stage: str | None = None
        self.bar: tqdm | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage != self.stage or self.bar is None:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=stage, unit="it", leave=False, dynamic_ncols=True)
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
