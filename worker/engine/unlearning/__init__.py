"""Unlearning methods (DESIGN 9): one registry from the config's method family to a method plan.

    outcome = run_unlearning(config, target_model, tokenizer, corpus, seed)   # the target is left untouched
    save_unlearned(outcome, tokenizer, folder)                                # an HF folder + unlearning.json

A plan is what distinguishes methods: the objective, the parameters that train (all of them; SURE's
salient modules; RMU's MLP layers) and an optional projection after each step (the bucket constraint).
"""

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from service.specs.corpus import CorpusBundle
from service.specs.report import UnlearningRecord
from service.specs.unlearning import GradientMethodConfig, RMUConfig, UnlearningConfig
from worker.engine.models import context_length
from worker.engine.progress import Progress, no_progress
from worker.engine.registry import Registry
from worker.engine.unlearning.base import LoopSettings, Objective, TokenChunks, chunk_corpus, train_unlearning
from worker.engine.unlearning.bucket import BucketConstraint
from worker.engine.unlearning.gradient import GradientObjective
from worker.engine.unlearning.rmu import RMUObjective, mlp_parameters, rmu_trainable_layers
from worker.engine.unlearning.saving import save_model_folder
from worker.engine.unlearning.sure import module_saliency, salient_modules

TRAINING_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass
class MethodPlan:
    objective: Objective
    trainable: list[torch.nn.Parameter]
    after_step: Callable[[], None] | None = None
    details: dict[str, object] = field(default_factory=dict)  # kept in the record (e.g. SURE's modules)


@dataclass
class UnlearningOutcome:
    model: PreTrainedModel
    record: UnlearningRecord


PlanBuilder = Callable[[UnlearningConfig, PreTrainedModel, PreTrainedModel, TokenChunks, int], MethodPlan]
METHODS: Registry[PlanBuilder] = Registry("unlearning method family")


@METHODS.register(GradientMethodConfig.family)
def _gradient_plan(
    config: UnlearningConfig, model: PreTrainedModel, target: PreTrainedModel, forget: TokenChunks, seed: int
) -> MethodPlan:
    assert isinstance(config, GradientMethodConfig)  # registered under its family
    objective = GradientObjective(config, target)
    plan = MethodPlan(objective, list(model.parameters()))
    if config.uses_sure:
        saliency = module_saliency(model, objective.forget_loss, forget, config.batch_size)
        selected = salient_modules(saliency, config.saliency_percentile)
        plan.trainable = [model.get_submodule(name).weight for name in selected]
        plan.details["sure_modules"] = selected
        plan.details["saliency"] = saliency
    if config.bucket_constraint is not None:
        # Only the quantized weights may move: embeddings, norms and the head stay in full precision in
        # the quantized model, so a change there would show through the quantizer.
        constraint = BucketConstraint(model, config.bucket_constraint)
        constrained = {id(model.get_submodule(name).weight) for name in constraint.bounds}
        plan.trainable = [parameter for parameter in plan.trainable if id(parameter) in constrained]
        plan.after_step = lambda: constraint.project(model)
        plan.details["bucket_constraint"] = config.bucket_constraint.label
    return plan


@METHODS.register(RMUConfig.family)
def _rmu_plan(
    config: UnlearningConfig, model: PreTrainedModel, target: PreTrainedModel, forget: TokenChunks, seed: int
) -> MethodPlan:
    assert isinstance(config, RMUConfig)  # registered under its family
    layers = rmu_trainable_layers(config, model.config.num_hidden_layers)
    return MethodPlan(RMUObjective(config, target, seed), mlp_parameters(model, layers), details={"layers": layers})


def needs_retain(config: UnlearningConfig) -> bool:
    return isinstance(config, RMUConfig) or config.retain_loss is not None


def run_unlearning(
    config: UnlearningConfig,
    target_model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    corpus: CorpusBundle,
    seed: int,
    progress: Progress = no_progress,
) -> UnlearningOutcome:
    """Unlearn a copy of `target_model` (in the config's dtype) on the bundle's raw forget/retain text."""
    build_plan = METHODS.get(config.family)
    seed = config.seed if config.seed is not None else seed
    if config.chunk_length > context_length(target_model):
        raise ValueError(
            f"unlearning '{config.name}': chunk_length {config.chunk_length} exceeds the model's context "
            f"of {context_length(target_model)} tokens"
        )
    forget = _chunks(tokenizer, corpus, "forget", config)
    retain = _chunks(tokenizer, corpus, "retain", config) if needs_retain(config) else None
    target_model.eval()
    torch.manual_seed(seed)
    model = copy.deepcopy(target_model).to(TRAINING_DTYPES[config.dtype])
    start_weights = {name: p.detach().clone() for name, p in model.named_parameters()}
    plan = build_plan(config, model, target_model, forget, seed)
    settings = LoopSettings(
        lr=config.lr,
        batch_size=config.batch_size,
        max_grad_norm=config.max_grad_norm,
        weight_decay=config.weight_decay,
        epochs=config.epochs,
        max_steps=config.max_steps,
        seed=seed,
        gradient_accumulation=config.gradient_accumulation,
    )
    result = train_unlearning(
        model, plan.objective, forget, retain, settings, plan.trainable, plan.after_step, progress,
        stage=f"unlearn:{config.name}",
    )  # fmt: skip
    plan.details["changed_weight_share"] = _changed_share(model, start_weights)
    plan.details["optimizer_state_dtypes"] = result.optimizer_state_dtypes
    record = UnlearningRecord(
        name=config.name,
        method=config.method,
        config=config.model_dump(mode="json"),
        seed=seed,
        corpus_sha256=corpus.sha256,
        steps=result.steps,
        curve=result.curve,
        duration_s=round(result.duration_s, 3),
        details=plan.details,
    )
    return UnlearningOutcome(model=model, record=record)


def save_unlearned(outcome: UnlearningOutcome, tokenizer: PreTrainedTokenizerBase, folder: Path) -> Path:
    """An ordinary HF model folder (safetensors, in the training dtype) with unlearning.json beside it."""
    return save_model_folder(outcome.model, tokenizer, outcome.record, folder)


def _chunks(
    tokenizer: PreTrainedTokenizerBase, corpus: CorpusBundle, part: str, config: UnlearningConfig
) -> TokenChunks:
    documents = corpus.part(f"raw/{part}")
    if not documents:
        raise ValueError(f"unlearning '{config.name}' ({config.method}) needs raw/{part}.txt, which the corpus lacks")
    return chunk_corpus(tokenizer, documents, config.chunk_length, f"raw/{part}", config.bos_per_chunk)


@torch.no_grad()
def _changed_share(model: PreTrainedModel, start_weights: dict[str, torch.Tensor]) -> float:
    """The share of weights that differ at all from where training started (in the training dtype)."""
    changed = total = 0
    for name, parameter in model.named_parameters():
        changed += int((parameter != start_weights[name]).sum())
        total += parameter.numel()
    return changed / total
