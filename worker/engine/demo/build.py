"""The demo's models, built from nothing and cached on disk by the hash of everything that made them.

Stages (each a folder named by its key, reused when complete): the corpus bundle; a tokenizer and a base
model pretrained on the background text only; the target, the base fine-tuned on the forget and retain
documents mixed with background (so that, as with MUSE's targets, the audited knowledge is a fine-tuning
delta on a pretrained model); and one unlearned model per configured recipe.
"""

import hashlib
import json
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from transformers import AutoModelForCausalLM, AutoTokenizer

from service.specs.corpus import load_bundle
from service.specs.unlearning import UnlearningConfig
from worker.engine.demo.corpus import ANSWER_CUE, DemoCorpus, generate_corpus, write_bundle_folder
from worker.engine.progress import Progress, no_progress
from worker.engine.tiny import TinyModelConfig, build_model, token_chunks, train_causal_lm, train_tokenizer
from worker.engine.unlearning import run_unlearning, save_unlearned

BUILD_VERSION = "4"  # bump when the build code changes what a cached stage contains
COMPLETE_MARKER = ".complete"
CORPUS_FIELDS = ("seed", "n_forget", "n_retain", "n_holdout", "n_background", "quiz_rounds")
UNLEARNING_ADAPTER: TypeAdapter[Any] = TypeAdapter(UnlearningConfig)


def _paper_case() -> dict[str, Any]:
    # The paper's setting: pure bf16 and a small learning rate, where only weights below ~lr x 256 can move
    # at all, deep inside their 4-bit buckets. Measured on the default target (build 4: VerbMem_f 1.00):
    # VerbMem_f 0.74 at full precision, back to 0.98 at RTN 4-bit per channel and at FP4. The window is narrow:
    # lr 1e-5 x 600 steps did not forget (0.998), 2e-5 x 600 forgot for good at every precision (0.045).
    return {"name": "paper_case", "method": "ga_klr", "dtype": "bf16", "lr": 1.4e-5, "batch_size": 8,
            "max_steps": 600, "chunk_length": 128}  # fmt: skip


def _bucket_constrained() -> dict[str, Any]:
    # Measured on the default target: VerbMem_f 0.02 at full and 8-bit, 1.00 at its own quantizer (every code equal).
    return {"name": "bucket_constrained", "method": "ga_klr", "lr": 1e-4, "batch_size": 8, "max_steps": 60,
            "chunk_length": 128, "bucket_constraint": {"method": "rtn", "bits": 4, "group_size": 64}}  # fmt: skip


def _negative_control() -> dict[str, Any]:
    # The same update without the constraint, in fp32: it forgets at every precision (VerbMem_f 0.00 measured),
    # and with it the retain answers (KnowMem_r 0.00): plain GA_KLR at this rate costs the utility too.
    return {"name": "ga_klr_fp32", "method": "ga_klr", "lr": 1e-4, "batch_size": 8, "max_steps": 60,
            "chunk_length": 128}  # fmt: skip


DEMO_MODEL = TinyModelConfig(
    hidden_size=256, layers=4, heads=4, intermediate_size=768, max_positions=256, vocab_size=4096
)


@dataclass(frozen=True)
class DemoConfig:
    """Everything that determines the demo's data and models (its hash is the cache key)."""

    seed: int = 0
    n_forget: int = 32
    n_retain: int = 32
    n_holdout: int = 32
    n_background: int = 1000
    quiz_rounds: int = 2  # quiz documents per side (corpus.quiz_documents): the target answers questions asked alone
    model: TinyModelConfig = DEMO_MODEL
    chunk_length: int = 128
    pretrain_steps: int = 300
    pretrain_lr: float = 1e-3
    batch_size: int = 24
    finetune_steps: int = 600
    finetune_lr: float = 5e-4
    finetune_repeat: int = 16  # copies of each forget/retain document in the fine-tuning mix
    unlearning: tuple[dict[str, Any], ...] = field(
        default_factory=lambda: (_paper_case(), _bucket_constrained(), _negative_control())
    )

    @classmethod
    def fast(cls) -> "DemoConfig":
        """A small configuration that builds in seconds (tests, smoke runs)."""
        return cls(
            n_forget=8,
            n_retain=8,
            n_holdout=8,
            n_background=120,
            quiz_rounds=0,  # measured: its 64-wide target learns no more answers from them, and recites less
            model=TinyModelConfig(
                hidden_size=64, layers=2, heads=4, intermediate_size=128, max_positions=256, vocab_size=600
            ),
            pretrain_steps=60,
            pretrain_lr=3e-3,
            batch_size=16,
            finetune_steps=120,
            finetune_lr=3e-3,
            finetune_repeat=8,
            unlearning=(_bucket_constrained() | {"method": "ga", "lr": 5e-3, "max_steps": 60, "batch_size": 4},),
        )

    def unlearning_configs(self) -> list[Any]:
        return [UNLEARNING_ADAPTER.validate_python(entry) for entry in self.unlearning]

    def corpus(self) -> DemoCorpus:
        return generate_corpus(
            self.seed, self.n_forget, self.n_retain, self.n_holdout, self.n_background, quiz_rounds=self.quiz_rounds
        )


@dataclass
class DemoAssets:
    bundle_dir: Path
    target_dir: Path
    unlearned: dict[str, Path]
    cached: bool  # every stage was found on disk
    timings: dict[str, float] = field(default_factory=dict)  # seconds per built stage


def prepare_demo(cache_dir: Path, config: DemoConfig | None = None, progress: Progress = no_progress) -> DemoAssets:
    """Build (or reuse) the bundle, target and unlearned models of the demo under `cache_dir`."""
    config = config or DemoConfig()
    cache_dir.mkdir(parents=True, exist_ok=True)
    builder = _Builder(cache_dir)
    corpus = config.corpus()
    fields = asdict(config)
    corpus_key = _key({name: fields[name] for name in CORPUS_FIELDS})
    bundle_dir = builder.stage("bundle", corpus_key, _write_bundle(corpus))
    base_key = _key({k: v for k, v in fields.items() if not k.startswith(("finetune", "unlearning"))})
    base_dir = builder.stage("base", base_key, lambda folder: _pretrain(folder, config, corpus, progress))
    target_key = _key({"base": base_key, **{k: v for k, v in fields.items() if k.startswith("finetune")}})
    target_dir = builder.stage(
        "target", target_key, lambda folder: _finetune(folder, base_dir, config, corpus, progress)
    )
    unlearned = {}
    for recipe in config.unlearning_configs():
        key = _key({"target": target_key, "recipe": recipe.model_dump(mode="json")})
        unlearned[recipe.name] = builder.stage(
            f"unlearned-{recipe.name}",
            key,
            partial(
                _unlearn, target_dir=target_dir, bundle_dir=bundle_dir, recipe=recipe, config=config, progress=progress
            ),
        )
    return DemoAssets(bundle_dir, target_dir, unlearned, cached=not builder.timings, timings=builder.timings)


class _Builder:
    def __init__(self, cache_dir: Path):
        self.cache_dir = cache_dir
        self.timings: dict[str, float] = {}

    def stage(self, name: str, key: str, build: Callable[[Path], object]) -> Path:
        """The stage's folder: reused when complete, else built in a scratch folder and moved in place."""
        folder = self.cache_dir / f"{name}-{key}"
        if (folder / COMPLETE_MARKER).is_file():
            return folder
        scratch = self.cache_dir / f".{name}-{key}.building"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        started = time.perf_counter()
        build(scratch)
        (scratch / COMPLETE_MARKER).write_text(time.strftime("%Y-%m-%dT%H:%M:%S"), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        scratch.rename(folder)
        self.timings[name] = round(time.perf_counter() - started, 1)
        return folder


def _key(parts: dict[str, Any]) -> str:
    canonical = json.dumps({"version": BUILD_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _write_bundle(corpus: DemoCorpus) -> Callable[[Path], Path]:
    return lambda folder: write_bundle_folder(corpus.bundle_document(), folder)


def _pretrain(folder: Path, config: DemoConfig, corpus: DemoCorpus, progress: Progress) -> None:
    """A tokenizer on all the demo's text and a base model trained on the background only."""
    every_text = corpus.background + [p.document() for p in corpus.forget + corpus.retain + corpus.holdout]
    tokenizer = train_tokenizer(every_text, config.model.vocab_size)
    model = build_model(tokenizer, config.model, seed=config.seed)
    chunks = token_chunks(tokenizer, corpus.background, config.chunk_length, boundary=ANSWER_CUE)
    train_causal_lm(model, chunks, config.pretrain_steps, config.pretrain_lr, config.batch_size,
                    tokenizer.pad_token_id, seed=config.seed, progress=progress, stage="demo:pretrain")  # fmt: skip
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _finetune(folder: Path, base_dir: Path, config: DemoConfig, corpus: DemoCorpus, progress: Progress) -> None:
    """The target: the base trained in fp32 on raw/forget + raw/retain (documents and quizzes) mixed with background."""
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype="float32")
    known = corpus.raw("forget") + corpus.raw("retain")
    chunks = token_chunks(tokenizer, known, config.chunk_length, boundary=ANSWER_CUE) * config.finetune_repeat
    chunks += token_chunks(tokenizer, corpus.background, config.chunk_length, boundary=ANSWER_CUE)
    random.Random(config.seed).shuffle(chunks)
    train_causal_lm(model, chunks, config.finetune_steps, config.finetune_lr, config.batch_size,
                    tokenizer.pad_token_id, seed=config.seed, progress=progress, stage="demo:finetune")  # fmt: skip
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _unlearn(
    folder: Path, target_dir: Path, bundle_dir: Path, recipe: Any, config: DemoConfig, progress: Progress
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(target_dir)
    target = AutoModelForCausalLM.from_pretrained(target_dir, dtype="float32")
    outcome = run_unlearning(recipe, target, tokenizer, load_bundle(bundle_dir), config.seed, progress)
    save_unlearned(outcome, tokenizer, folder)
