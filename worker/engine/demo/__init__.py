"""The demo: its own corpus, tokenizer, target and unlearned models, built on CPU and cached on disk.

assets = prepare_demo(cache_dir)            # DemoConfig() by default; DemoConfig.fast() for tests
spec = AuditSpec.model_validate(demo_spec(assets))
"""

from worker.engine.demo.build import DemoAssets, DemoConfig, prepare_demo
from worker.engine.demo.spec import DEMO_METRICS, DEMO_PRECISIONS, FAST_METRICS, FAST_PRECISIONS, demo_spec

__all__ = [
    "DEMO_METRICS", "DEMO_PRECISIONS", "FAST_METRICS", "FAST_PRECISIONS", "DemoAssets", "DemoConfig", "demo_spec",
    "prepare_demo",
]  # fmt: skip
