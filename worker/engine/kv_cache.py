"""A preallocated key/value cache whose attention reads only the filled part.

transformers' StaticCache allocates the whole generation's keys and values once (no copy of the growing cache
at every step, as a DynamicCache's concatenation does) but hands attention all `max_cache_len` positions,
masking the unfilled ones: every decoding step reads the empty tail too, and at batch 16 on a CPU a step is
bound by reading the cache. Here each layer returns views of the positions filled so far and the attention
mask is built for that length, so a step reads only what it attends to. The arithmetic on filled positions is
unchanged (the masked tail only ever added exact zeros).
"""

from typing import Any

import torch
from transformers import PretrainedConfig, StaticCache
from transformers.cache_utils import StaticLayer


class FilledLayer(StaticLayer):
    """A StaticLayer whose update returns the filled positions only, and whose mask covers them only."""

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: object, **kwargs: object
    ) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = super().update(key_states, value_states, *args, **kwargs)
        filled = int(self.cumulative_length)
        return keys[:, :, :filled], values[:, :, :filled]

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        past = int(self.cumulative_length) if self.is_initialized else 0
        return past + query_length, 0


class FilledCache(StaticCache):
    """A StaticCache of `max_cache_len` positions whose full-attention layers attend over the filled part."""

    layers: list[Any]

    def __init__(self, config: PretrainedConfig, max_cache_len: int) -> None:
        super().__init__(config=config, max_cache_len=max_cache_len)
        for index, layer in enumerate(self.layers):
            if type(layer) is StaticLayer:
                self.layers[index] = FilledLayer(max_cache_len=max_cache_len)
