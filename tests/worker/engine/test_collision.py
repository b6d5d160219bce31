"""Bucket collision read from safetensors checkpoints: identical models collide fully, moved weights do not."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import LlamaConfig

from service.specs.precision import BnbFP4Precision, FullPrecision, GPTQPrecision, RTNPrecision
from worker.engine.collision import CheckpointError, bucket_collision

RTN8 = RTNPrecision(bits=8, group_size=None, symmetric=True)
CONFIG = LlamaConfig(
    vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
    num_key_value_heads=2, tie_word_embeddings=False,
)  # fmt: skip
LINEAR_WEIGHTS = 4 * 16 * 16 + 3 * 32 * 16  # q, k, v, o and gate, up, down
QUANTIZED = [f"model.layers.0.self_attn.{name}.weight" for name in ("q_proj", "k_proj", "v_proj", "o_proj")] + [
    f"model.layers.0.mlp.{name}.weight" for name in ("gate_proj", "up_proj", "down_proj")
]


def synthetic_checkpoint(seed: int = 0) -> dict[str, torch.Tensor]:
    """The tensors of a one-layer Llama (CONFIG), random."""
    generator = torch.Generator().manual_seed(seed)
    tensors = {
        "model.embed_tokens.weight": torch.randn(50, 16, generator=generator),
        "model.layers.0.input_layernorm.weight": torch.ones(16),
        "model.layers.0.post_attention_layernorm.weight": torch.ones(16),
        "model.norm.weight": torch.ones(16),
        "lm_head.weight": torch.randn(50, 16, generator=generator),
    }
    for name in QUANTIZED:
        shape = (16, 32) if "down_proj" in name else (32, 16) if "mlp" in name else (16, 16)
        tensors[name] = torch.randn(shape, generator=generator)
    return tensors


def save(folder, tensors):
    folder.mkdir()
    save_file(tensors, folder / "model.safetensors")
    CONFIG.save_pretrained(folder)
    return folder


def test_a_model_against_itself_collides_fully(tmp_path):
    target = save(tmp_path / "target", synthetic_checkpoint())
    result = bucket_collision(target, target, RTNPrecision(bits=4, group_size=8, symmetric=True))
    assert result.overall == 1.0 and result.scales_equal == 1.0
    assert result.moved is None and result.n_moved == 0  # nothing moved: no share of moved weights
    assert result.n_weights == LINEAR_WEIGHTS  # embeddings, norms and the head are not quantized
    assert set(result.per_layer) == set(QUANTIZED)
    counts = result.distance_histogram["counts"]
    assert counts[0] == result.n_weights and sum(counts) == result.n_weights
    assert len(result.distance_histogram["edges"]) == 21 and result.quantizer == "rtn-w4-g8-sym"


def test_moved_weights_are_counted_by_hand(tmp_path):
    tensors = synthetic_checkpoint()
    target = save(tmp_path / "target", tensors)
    weight = tensors["model.layers.0.mlp.up_proj.weight"]
    step = weight.abs().amax(dim=1, keepdim=True) / 127  # per-channel symmetric 8-bit step
    moved = weight.clone()
    # Row 0: the 4 smallest weights move by 3 steps (codes change, the row absmax and its step do not);
    # row 1: every weight moves by 0.25 step (0.25 of a bucket), which also changes that row's absmax and step.
    smallest = weight[0].abs().argsort()[:4]
    moved[0, smallest] += 3 * step[0]
    moved[1] += 0.25 * step[1]
    unlearned = save(tmp_path / "unlearned", {**tensors, "model.layers.0.mlp.up_proj.weight": moved})
    result = bucket_collision(target, unlearned, RTN8, bins=4)
    old_codes = torch.round(weight / step)
    new_step = moved.abs().amax(dim=1, keepdim=True) / 127
    expected_equal = int((torch.round(moved / new_step) == old_codes).sum())
    assert result.per_layer["model.layers.0.mlp.up_proj.weight"] == pytest.approx(expected_equal / moved.numel())
    assert result.per_layer["model.layers.0.self_attn.q_proj.weight"] == 1.0
    assert result.overall == pytest.approx((expected_equal + LINEAR_WEIGHTS - 512) / LINEAR_WEIGHTS)
    edges, counts = result.distance_histogram["edges"], result.distance_histogram["counts"]
    assert edges == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])
    assert counts[4] == 4  # 3 steps = 3 buckets: the overflow bin
    assert counts[0] == result.n_weights - 4  # unmoved weights and the row moved by 0.25 bucket
    rows = 4 * 16 + 2 * 32 + 16
    assert result.scales_equal == pytest.approx((rows - 1) / rows)  # row 1 of up_proj changed its step


def test_moved_counts_only_the_weights_that_unlearning_changed(tmp_path):
    """A hand-built pair: 9 weights move, 6 of them within their 8-bit bucket, 3 into the next one."""
    tensors = synthetic_checkpoint()
    name = "model.layers.0.mlp.up_proj.weight"
    row = torch.tensor([127.0, *range(1, 16)]) * 0.01  # codes 127, 1 .. 15 with a step of exactly 0.01
    tensors[name][0] = row
    target = save(tmp_path / "target", tensors)
    moved = tensors[name].clone()
    moved[0, 1:7] += 0.2 * 0.01  # a fifth of a step: same code
    moved[0, 7:10] += 0.7 * 0.01  # past the bucket's edge: the next code
    unlearned = save(tmp_path / "unlearned", {**tensors, name: moved})
    result = bucket_collision(target, unlearned, RTN8)
    assert result.n_moved == 9 and result.moved == pytest.approx(6 / 9)
    assert result.overall == pytest.approx((LINEAR_WEIGHTS - 3) / LINEAR_WEIGHTS)  # near 1: most never moved
    assert result.per_layer[name] == pytest.approx((512 - 3) / 512)


def test_sharded_checkpoint_gives_the_same_result(tmp_path):
    tensors = synthetic_checkpoint()
    target = save(tmp_path / "target", tensors)
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[:2], "model-00002-of-00002.safetensors": names[2:]}
    for file, shard_names in shards.items():
        save_file({name: tensors[name] + 0.05 for name in shard_names}, sharded / file)
    CONFIG.save_pretrained(sharded)
    weight_map = {name: file for file, shard_names in shards.items() for name in shard_names}
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    single = save(tmp_path / "single", {name: tensor + 0.05 for name, tensor in tensors.items()})
    assert bucket_collision(target, sharded, RTN8) == bucket_collision(target, single, RTN8)
    assert bucket_collision(target, sharded, RTN8).overall < 1.0


def test_errors_name_the_folder_and_the_reason(tmp_path):
    tensors = synthetic_checkpoint()
    target = save(tmp_path / "target", tensors)
    with pytest.raises(CheckpointError, match=r"absent.*no model\.safetensors"):
        bucket_collision(target, tmp_path / "absent", RTN8)
    reshaped = save(tmp_path / "reshaped", {**tensors, "lm_head.weight": torch.zeros(40, 16)})
    with pytest.raises(CheckpointError, match=r"reshaped: tensor 'lm_head.weight' has shape \(40, 16\)"):
        bucket_collision(target, reshaped, RTN8)
    fewer = save(tmp_path / "fewer", {k: v for k, v in tensors.items() if k != "lm_head.weight"})
    with pytest.raises(CheckpointError, match=r"different tensors.*lm_head\.weight"):
        bucket_collision(target, fewer, RTN8)
    with pytest.raises(ValueError, match=r"precision.*'full'"):
        bucket_collision(target, target, FullPrecision())
    garbage = save(tmp_path / "garbage", tensors)
    (garbage / "model.safetensors").write_bytes(b"\xff" * 8 + b"not a header")
    with pytest.raises(CheckpointError, match=r"garbage/model\.safetensors: not a valid safetensors file"):
        bucket_collision(target, garbage, RTN8)
    truncated = save(tmp_path / "truncated", tensors)
    with open(truncated / "model.safetensors", "r+b") as file:
        file.truncate(file.seek(0, 2) // 2)
    with pytest.raises(CheckpointError, match=r"truncated/model\.safetensors: tensor '.+' is cut short"):
        bucket_collision(target, truncated, RTN8)


def test_calibrated_methods_are_marked_approximate(tmp_path):
    pytest.importorskip("llmcompressor")
    target = save(tmp_path / "target", synthetic_checkpoint())
    result = bucket_collision(target, target, GPTQPrecision(group_size=8))
    assert result.approximate and result.overall == 1.0 and result.quantizer == "gptq-w4-g8"


def test_tiny_model_collides_at_4_bits_not_after_a_large_perturbation(tiny_target_dir, tmp_path):
    pytest.importorskip("bitsandbytes")
    unlearned = tmp_path / "unlearned"
    shutil.copytree(tiny_target_dir, unlearned)
    tensors = load_file(unlearned / "model.safetensors")
    name = "model.layers.1.mlp.down_proj.weight"
    tensors[name] = tensors[name] + 0.5 * tensors[name].abs().max()  # far beyond a 4-bit step
    save_file(tensors, unlearned / "model.safetensors", metadata={"format": "pt"})
    precision = BnbFP4Precision()
    assert bucket_collision(tiny_target_dir, tiny_target_dir, precision).overall == 1.0
    result = bucket_collision(tiny_target_dir, unlearned, precision)
    assert result.per_layer[name] < 0.5
    assert all(share == 1.0 for layer, share in result.per_layer.items() if layer != name)
    assert result.overall < 1.0 and sum(result.distance_histogram["counts"]) == result.n_weights


MEMORY_PROBE = """
import resource, sys
from pathlib import Path
import transformers.models.llama.modeling_llama  # imported before the baseline: code is not data
from service.specs.precision import RTNPrecision
from worker.engine.collision import bucket_collision
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = bucket_collision(Path(sys.argv[1]), Path(sys.argv[2]), RTNPrecision(bits=4, group_size=128))
print(result.n_weights, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline) * 1024)
"""


@pytest.mark.slow
def test_sharded_checkpoints_are_streamed_tensor_by_tensor(tmp_path):
    """Peak memory of a scan stays far below one checkpoint, let alone the two it reads."""
    import subprocess
    import sys

    from transformers import AutoModelForCausalLM

    config = LlamaConfig(vocab_size=1000, hidden_size=512, intermediate_size=1536, num_hidden_layers=8,
                         num_attention_heads=8, tie_word_embeddings=False)  # fmt: skip
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).to(torch.bfloat16)
    folders = tmp_path / "target", tmp_path / "unlearned"
    model.save_pretrained(folders[0], max_shard_size="20MB")
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape).to(torch.bfloat16) * 1e-4)
    model.save_pretrained(folders[1], max_shard_size="20MB")
    checkpoint_bytes = sum(path.stat().st_size for path in folders[0].glob("model-*.safetensors"))
    assert checkpoint_bytes > 50e6 and (folders[0] / "model.safetensors.index.json").is_file()
    output = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, *map(str, folders)], capture_output=True, text=True, check=True
    ).stdout.split()
    n_weights, peak_bytes = int(output[-2]), int(output[-1])
    assert n_weights == 8 * (4 * 512 * 512 + 3 * 512 * 1536)
    assert peak_bytes < checkpoint_bytes / 4, (peak_bytes, checkpoint_bytes)
