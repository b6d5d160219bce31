"""Write a random-initialised checkpoint of a chosen architecture and size, and a copy perturbed within its
4-bit buckets (a stand-in for an unlearned model that quantization would bring back): bf16 safetensors
shards with an index, as hub checkpoints are, and a small tokenizer. Nothing is downloaded.

Tensors are generated and written one shard at a time, so a 1B model is made in a few GB of memory.

    PYTHONPATH=. .venv/bin/python bench/make_checkpoint.py --arch llama --size 1b --out /tmp/ckpt-1b
    # -> /tmp/ckpt-1b/target and /tmp/ckpt-1b/unlearned
"""

import argparse
import json
import math
import sys
from pathlib import Path

SIZES = {
    # TinyLlama-1.1B's shape: 1.1B parameters, 2.2 GB in bf16
    "1b": {"hidden": 2048, "layers": 22, "heads": 32, "kv_heads": 4, "intermediate": 5632, "vocab": 32000},
    "tiny": {"hidden": 64, "layers": 2, "heads": 4, "kv_heads": 2, "intermediate": 128, "vocab": 512},
}
SHARD_BYTES = 1 << 30
INIT_STD = 0.02
BUCKET_PRECISION = {"bits": 4, "group_size": 128}  # the perturbed copy keeps its RTN 4-bit g128 codes


def random_tensor(name: str, shape: tuple[int, ...], generator):
    import torch

    if len(shape) == 1:
        return (torch.zeros if name.endswith("bias") else torch.ones)(shape, dtype=torch.bfloat16)
    return (torch.randn(shape, generator=generator) * INIT_STD).to(torch.bfloat16)


def within_bucket(matrix, generator):
    """Each weight moved by up to a third of its RTN 4-bit g128 step, keeping its code and its group's scale.

    The weights that set a group's range stay (so the scale does not change), and so does any weight that
    the move and the cast to bf16 would take to another code.
    """
    import torch

    from worker.engine.quantizers.rtn import rtn_grid

    def grid_of(weights):
        return rtn_grid(weights, BUCKET_PRECISION["bits"], BUCKET_PRECISION["group_size"], symmetric=False)

    grid = grid_of(matrix)
    step = grid.per_weight(grid.scales)
    groups = matrix.float().view(matrix.shape[0], -1, grid.group_size)
    low = grid.per_weight(groups.amin(dim=2))
    high = grid.per_weight(groups.amax(dim=2))
    moved = matrix.float() + (torch.rand(matrix.shape, generator=generator) - 0.5) * (2 / 3) * step
    moved = torch.minimum(torch.maximum(moved, low), high).to(matrix.dtype)
    keep = (matrix.float() == low) | (matrix.float() == high) | (grid_of(moved).codes != grid.codes)
    return torch.where(keep, matrix, moved)


def write_checkpoint(model, folder: Path, tensor_of) -> None:
    """Parameters of `model` (meta device) as shards of about SHARD_BYTES, with the index."""
    from safetensors.torch import save_file

    names = [(name, tuple(parameter.shape)) for name, parameter in model.named_parameters()]
    shards: list[list[tuple[str, tuple[int, ...]]]] = [[]]
    size = 0
    for name, shape in names:
        nbytes = 2 * math.prod(shape)
        if shards[-1] and size + nbytes > SHARD_BYTES:
            shards.append([])
            size = 0
        shards[-1].append((name, shape))
        size += nbytes
    weight_map, total = {}, 0
    for number, shard in enumerate(shards, start=1):
        file = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        tensors = {name: tensor_of(name, shape) for name, shape in shard}
        save_file(tensors, folder / file, metadata={"format": "pt"})
        total += sum(tensor.numel() * tensor.element_size() for tensor in tensors.values())
        weight_map.update(dict.fromkeys(tensors, file))
        del tensors
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))


def make(architecture: str, size: str, out: Path, seed: int = 0) -> tuple[Path, Path]:
    import torch
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    from tests.architectures import Dimensions, architecture_config
    from tests.tiny_world import make_bundle, training_texts
    from worker.engine.quantizers import is_transposed, linear_layers
    from worker.engine.tiny import train_tokenizer

    tokenizer = train_tokenizer(training_texts(make_bundle()), vocab_size=400)
    dims = Dimensions(**SIZES[size], positions=2048)
    config = architecture_config(architecture, dims, tokenizer.bos_token_id, tokenizer.eos_token_id,
                                 tokenizer.pad_token_id)  # fmt: skip
    config.dtype = "bfloat16"
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    target, unlearned = out / "target", out / "unlearned"
    generator = torch.Generator().manual_seed(seed)
    for folder in (target, unlearned):
        folder.mkdir(parents=True, exist_ok=True)
        config.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    write_checkpoint(model, target, lambda name, shape: random_tensor(name, shape, generator))
    transposed = {f"{name}.weight": is_transposed(module) for name, module in linear_layers(model).items()}
    index = json.loads((target / "model.safetensors.index.json").read_text())["weight_map"]

    def perturbed(name: str, shape: tuple[int, ...]):
        with safe_open(target / index[name], framework="pt") as handle:
            tensor = handle.get_tensor(name)
        if name not in transposed:
            return tensor
        if transposed[name]:
            return within_bucket(tensor.T, generator).T.contiguous()
        return within_bucket(tensor, generator)

    write_checkpoint(model, unlearned, perturbed)
    return target, unlearned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="llama", help="model_type: llama, mistral, qwen2, gemma, phi3, gpt_neox, ...")
    parser.add_argument("--size", default="1b", choices=sorted(SIZES))
    parser.add_argument("--out", type=Path, required=True, help="a folder outside the repository, e.g. under /tmp")
    args = parser.parse_args()
    target, unlearned = make(args.arch, args.size, args.out)
    for folder in (target, unlearned):
        size = sum(path.stat().st_size for path in folder.glob("*.safetensors"))
        print(f"{folder}: {size / 1e9:.2f} GB")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
