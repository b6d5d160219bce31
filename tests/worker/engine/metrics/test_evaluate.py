"""The four metrics on the tiny target equal a one-at-a-time MUSE-style evaluation; skips and truncation."""

import math

import pytest
import torch
from rouge_score.rouge_scorer import RougeScorer

from service.specs.audit import Limits
from service.specs.corpus import parse_bundle
from service.specs.metrics import skip_reason
from worker.engine.metrics import evaluate
from worker.engine.metrics.base import EvalContext
from worker.engine.metrics.privleak import min_k_score, roc_auc
from worker.engine.models import load_model
from worker.engine.registry import UnknownNameError

MUSE_SCORER = RougeScorer(rouge_types=["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=False)


@pytest.fixture(scope="module")
def target(tiny_target_dir):
    return load_model("target", str(tiny_target_dir))


def muse_continuation(model, tokenizer, prompt: str, max_new_tokens: int) -> str:
    """MUSE's loop body: one prompt with BOS, no padding, greedy, decoded with clean-up."""
    input_ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=True).input_ids
    with torch.inference_mode():
        output_ids = model.generate(
            input_ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
    text = tokenizer.decode(output_ids[0, input_ids.shape[1] :], skip_special_tokens=True)
    return tokenizer.clean_up_tokenization(text)


def muse_token_logprobs(model, tokenizer, text: str) -> list[float]:
    input_ids = torch.tensor([tokenizer.encode(text)])
    with torch.inference_mode():
        log_probs = torch.log_softmax(model(input_ids).logits[0], dim=-1)
    return [log_probs[i, token].item() for i, token in enumerate(input_ids[0, 1:].tolist())]


@pytest.mark.slow
def test_all_metrics_equal_a_one_at_a_time_muse_evaluation(target, tiny_bundle):
    model, tokenizer = target.model, target.tokenizer  # the first 3 items of each set, in batches of 2
    progress_calls = []
    context = EvalContext(
        Limits(max_items=3, batch_size=2, bootstrap_samples=200),
        seed=0,
        model_name="target",
        precision_label="full",
        reference_auc=0.4772,
        progress=lambda *call: progress_calls.append(call),
    )
    outcomes = evaluate(model, tokenizer, tiny_bundle, ["verbmem_f", "knowmem_f", "knowmem_r", "privleak"], context)

    verbmem = outcomes["verbmem_f"]
    expected_scores = []
    for pair, item in zip(tiny_bundle.verbmem_forget[:3], verbmem.items, strict=True):
        output = muse_continuation(model, tokenizer, pair.prompt, 128)
        gt_ids = tokenizer(pair.gt, add_special_tokens=True).input_ids[:128]
        truth = tokenizer.clean_up_tokenization(tokenizer.decode(gt_ids, skip_special_tokens=True))
        assert (item.output, item.truth, item.prompt) == (output, truth, pair.prompt)
        expected_scores.append(MUSE_SCORER.score(truth, output)["rougeL"].fmeasure)
    assert [item.score for item in verbmem.items] == expected_scores
    assert verbmem.result.value == pytest.approx(sum(expected_scores) / len(expected_scores), abs=1e-12)
    assert verbmem.result.value > 0.3, "the tiny target memorised its forget passages"
    assert verbmem.result.ci_low <= verbmem.result.value <= verbmem.result.ci_high

    knowmem = outcomes["knowmem_f"]
    icl = "".join(f"Question: {qa.question}\nAnswer: {qa.answer}\n\n" for qa in tiny_bundle.knowmem_forget_qa_icl)
    for qa, item in zip(tiny_bundle.knowmem_forget_qa[:3], knowmem.items, strict=True):
        output = muse_continuation(model, tokenizer, f"{icl}Question: {qa.question}\nAnswer: ", 32)
        for stop in ("\n\n", "\nQuestion", "Question:"):
            output = output.split(stop)[0]
        assert item.output == output
        assert item.score == MUSE_SCORER.score(qa.answer, output)["rougeL"].fmeasure
    assert knowmem.result.extra["icl_examples"] == 1.0

    privleak = outcomes["privleak"]
    texts = tiny_bundle.privleak_forget[:3] + tiny_bundle.privleak_holdout[:3]
    scores = [min_k_score(muse_token_logprobs(model, tokenizer, text)) for text in texts]
    assert [item.score for item in privleak.items] == pytest.approx(scores, abs=1e-5)
    n_forget = 3
    auc = roc_auc([-s for s in scores[:n_forget]], [-s for s in scores[n_forget:]])
    assert privleak.result.extra == {"auc": auc, "auc_ref": 0.4772}
    assert privleak.result.value == pytest.approx((auc - 0.4772) / 0.4772 * 100)
    assert auc < 0.5, "the target tells its forget texts from unseen ones"
    assert [item.label for item in privleak.items] == [0] * n_forget + [1] * (len(texts) - n_forget)
    evidence = [item for outcome in outcomes.values() for item in outcome.items]
    assert {(item.model, item.precision_label) for item in evidence} == {("target", "full")}
    assert {item.metric for item in evidence} == {"verbmem_f", "knowmem_f", "knowmem_r", "privleak"}

    retain_log_probs = [muse_token_logprobs(model, tokenizer, text) for text in tiny_bundle.privleak_retain[:3]]
    nll = -sum(map(sum, retain_log_probs)) / sum(map(len, retain_log_probs))
    assert outcomes["knowmem_r"].result.extra["retain_perplexity"] == pytest.approx(math.exp(nll), rel=1e-5)

    assert ("verbmem_f", 3, 3) in progress_calls and ("privleak", len(texts), len(texts)) in progress_calls


@pytest.mark.slow
def test_items_cut_to_a_short_context_are_counted(tiny_target_dir, tiny_bundle):
    short = load_model("short", str(tiny_target_dir))
    short.model.config.max_position_embeddings = 40
    tokenizer = short.tokenizer
    context = EvalContext(Limits(batch_size=4), seed=0, model_name="short", precision_label="full")
    outcomes = evaluate(short.model, tokenizer, tiny_bundle, ["knowmem_f", "privleak"], context)
    icl = "".join(f"Question: {qa.question}\nAnswer: {qa.answer}\n\n" for qa in tiny_bundle.knowmem_forget_qa_icl)
    prompt_lengths = [
        len(tokenizer(f"{icl}Question: {qa.question}\nAnswer: ").input_ids) for qa in tiny_bundle.knowmem_forget_qa
    ]
    text_lengths = [len(tokenizer(t).input_ids) for t in tiny_bundle.privleak_forget + tiny_bundle.privleak_holdout]
    expected_knowmem = sum(length > 40 - 32 for length in prompt_lengths)
    expected_privleak = sum(length > 40 for length in text_lengths)
    assert expected_knowmem > 0 and expected_privleak > 0
    assert outcomes["knowmem_f"].result.n_truncated == expected_knowmem
    assert outcomes["privleak"].result.n_truncated == expected_privleak
    assert sum(item.truncated for item in outcomes["privleak"].items) == expected_privleak


def test_metrics_without_their_parts_are_skipped_with_the_reason(tiny_bundle):
    partial = parse_bundle(
        {"knowmem": {"forget_qa": [{"question": "Q?", "answer": "A"}]}, "privleak": {"forget": ["x"]}}
    )
    parts, all_parts = partial.present_parts(), tiny_bundle.present_parts()
    assert skip_reason("verbmem_f", parts) == "the bundle has no verbmem/forget"
    assert skip_reason("privleak", parts) == "the bundle has no privleak/holdout"
    assert skip_reason("knowmem_r", parts) == "the bundle has no knowmem/retain_qa"
    assert skip_reason("knowmem_f", parts) is None
    assert all(skip_reason(name, all_parts) is None for name in ("verbmem_f", "knowmem_f", "knowmem_r", "privleak"))

    context = EvalContext(Limits(), seed=0, model_name="target", precision_label="full")
    with pytest.raises(UnknownNameError, match="did you mean verbmem_f"):
        evaluate(None, None, partial, ["verbmem"], context)
    outcomes = evaluate(None, None, partial, ["verbmem_f", "privleak"], context)
    for name, part in (("verbmem_f", "verbmem/forget"), ("privleak", "privleak/holdout")):
        result = outcomes[name].result
        assert result.value is None and result.skipped_reason == f"the bundle has no {part}"
        assert outcomes[name].items == [] and result.n_items == 0


@pytest.mark.slow
def test_knowmem_without_examples_runs_zero_shot_and_says_so(target, tiny_bundle):
    document = tiny_bundle.to_document()
    del document["knowmem"]["forget_qa_icl"]
    bundle = parse_bundle(document)
    context = EvalContext(Limits(max_items=2), seed=0, model_name="target", precision_label="full")
    outcome = evaluate(target.model, target.tokenizer, bundle, ["knowmem_f"], context)["knowmem_f"]
    assert outcome.result.n_items == 2 and outcome.result.extra["icl_examples"] == 0.0
    assert outcome.result.note == "zero-shot: the bundle has no knowmem/forget_qa_icl"
