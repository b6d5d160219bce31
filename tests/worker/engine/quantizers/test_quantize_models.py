"""Each quantizer turns the tiny target into a new model that generates, while the input stays untouched."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from service.specs.precision import (
    AWQPrecision,
    BnbFP4Precision,
    BnbInt8Precision,
    BnbNF4Precision,
    FullPrecision,
    GPTQPrecision,
    RTNPrecision,
)
from worker.engine.quantizers import IncompleteQuantization, get_quantizer, linear_layers
from worker.engine.quantizers.calibrated import GPTQQuantizer

PROMPT = "Arlo Venn was born in"
CALIBRATION = [
    "Arlo Venn was born in Brask in 1900. Arlo Venn built glass bells for the people of Brask.",
    "Mira Quast was born in Olmere in 1907. Mira Quast built river maps for the people of Olmere.",
    "Tobin Hale was born in Tavin in 1914.",
]


@pytest.fixture(scope="module")
def tiny(tiny_target_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_target_dir).eval()
    return model, AutoTokenizer.from_pretrained(tiny_target_dir)


def check_quantized(model, tokenizer, precision, calibration=None):
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    quantized, record = get_quantizer(precision).quantize(model, tokenizer, calibration)
    assert quantized is not model
    layers = linear_layers(model)
    assert record.modules == len(layers) == 14  # 2 layers x (q, k, v, o, gate, up, down)
    assert record.weights == sum(module.weight.numel() for module in layers.values())
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())
    inputs = tokenizer(PROMPT, return_tensors="pt")
    with torch.no_grad():
        generated = quantized.generate(**inputs, max_new_tokens=8, do_sample=False)
        full_logits = model(**inputs).logits
        quantized_logits = quantized(**inputs).logits
    assert generated.shape[1] > inputs["input_ids"].shape[1]
    assert not torch.allclose(full_logits, quantized_logits)  # quantization changed the weights
    assert torch.allclose(quantized.lm_head.weight, model.lm_head.weight)  # the output head stays full
    return quantized


def test_full_returns_the_model_itself(tiny):
    model, tokenizer = tiny
    assert get_quantizer(FullPrecision()).quantize(model, tokenizer) == (model, None)


def test_rtn_model_weights_are_the_dequantized_codes(tiny):
    model, tokenizer = tiny
    precision = RTNPrecision(bits=4, group_size=32)
    quantized = check_quantized(model, tokenizer, precision)
    for name in linear_layers(model):
        expected = get_quantizer(precision).weight_codes(model.get_submodule(name).weight).dequantized
        assert torch.equal(quantized.get_submodule(name).weight, expected)


@pytest.mark.parametrize("precision", [BnbFP4Precision(), BnbNF4Precision(), BnbInt8Precision()])
def test_bitsandbytes_model_computes_with_the_read_back_codes(tiny, precision):
    bnb_functional = pytest.importorskip("bitsandbytes.functional")
    model, tokenizer = tiny
    quantized = check_quantized(model, tokenizer, precision)
    name = "model.layers.0.mlp.down_proj"
    codes = get_quantizer(precision).weight_codes(model.get_submodule(name).weight)
    inputs = torch.randn(3, codes.codes.shape[1], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        output = quantized.get_submodule(name)(inputs)
    # LLM.int8 also rounds the inputs to int8; on a CPU with AVX512-BF16, bitsandbytes' 4-bit kernel computes in
    # bf16 (outputs of ~1.4 off by 0.005 here; with every seventh weight 30% off they are off by 0.15)
    tolerance = 5e-2 if precision.method == "bnb_int8" else 1e-2 if bnb_functional.has_avx512bf16() else 1e-5
    assert torch.allclose(output, inputs @ codes.dequantized.T, atol=tolerance)


@pytest.mark.slow
def test_gptq_quantizes_with_calibration_texts(tiny):
    pytest.importorskip("llmcompressor")
    model, tokenizer = tiny
    precision = GPTQPrecision(bits=4, group_size=32, calibration_samples=2, calibration_length=32)
    quantized = check_quantized(model, tokenizer, precision, CALIBRATION)
    weight = quantized.model.layers[0].self_attn.q_proj.weight
    scale = quantized.model.layers[0].self_attn.q_proj.weight_scale  # one step per group of 32 inputs
    steps = (weight.reshape(weight.shape[0], -1, 32) / scale.unsqueeze(-1)).detach()
    assert torch.allclose(steps, steps.round(), atol=1e-3)  # every weight sits on its group's grid
    # the collision codes use the same grid: compressed-tensors' symmetric step, absmax / 7.5 at 4 bits
    codes = get_quantizer(precision).weight_codes(model.model.layers[0].self_attn.q_proj.weight)
    assert torch.allclose(codes.scales, scale.detach().float(), rtol=1e-6)


@pytest.mark.slow
def test_awq_quantizes_on_this_machine(tiny):
    pytest.importorskip("llmcompressor")
    model, tokenizer = tiny
    precision = AWQPrecision(group_size=32, calibration_samples=2, calibration_length=32)
    check_quantized(model, tokenizer, precision, CALIBRATION)


def test_calibrated_methods_refuse_missing_texts_and_uneven_groups(tiny):
    pytest.importorskip("llmcompressor")
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="calibration_texts"):
        GPTQQuantizer(GPTQPrecision(group_size=32)).quantize(model, tokenizer, [])
    with pytest.raises(ValueError, match="group_size 128 does not divide the input dimension 64"):
        GPTQQuantizer(GPTQPrecision(group_size=128)).quantize(model, tokenizer, CALIBRATION)


def test_a_quantizer_that_leaves_layers_in_full_precision_fails_with_the_reason(tmp_path):
    """The old failure: Conv1D layers (GPT-2) skipped, so a '4-bit' model was the full-precision one."""
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.pytorch_utils import Conv1D

    from worker.engine.quantizers.rtn import RTNQuantizer

    class LinearOnlyRTN(RTNQuantizer):
        def quantize_layers(self, model, tokenizer, calibration_texts):
            quantized, names = super().quantize_layers(model, tokenizer, calibration_texts)
            return quantized, [name for name in names if not isinstance(model.get_submodule(name), Conv1D)]

    model = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=64, n_positions=64)).eval()
    precision = RTNPrecision(bits=4, group_size=32)
    with pytest.raises(IncompleteQuantization, match=r"rtn-w4-g32-asym: 8 of 8 linear layers .* type Conv1D"):
        LinearOnlyRTN(precision).quantize(model, None)
    quantized, record = get_quantizer(precision).quantize(model, None)  # the real one takes Conv1D
    assert record.modules == 8 and not torch.equal(quantized.transformer.h[0].attn.c_attn.weight,
                                                   model.transformer.h[0].attn.c_attn.weight)  # fmt: skip
    with pytest.raises(IncompleteQuantization, match=r"rtn-w4-g32-asym: the model \(Sequential\) has no linear"):
        get_quantizer(precision).quantize(torch.nn.Sequential(torch.nn.Embedding(4, 4)), None)
