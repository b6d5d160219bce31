"""Token chunks cut at a boundary: the trained tokens after `Answer: ` are those a KnowMem prompt ends with."""

from worker.engine.tiny import token_chunks, train_tokenizer

ANSWER = "Tala"
DOCUMENT = f"Kamo Rivi was born in {ANSWER}.\n\nQuestion: Where was Kamo Rivi born?\nAnswer: {ANSWER}"


def test_boundary_keeps_the_text_and_tokenizes_the_answer_as_a_prompt_ending_with_the_cue_does():
    tokenizer = train_tokenizer([DOCUMENT] * 20, vocab_size=400)
    [plain] = token_chunks(tokenizer, [DOCUMENT], length=256)
    [split] = token_chunks(tokenizer, [DOCUMENT], length=256, boundary="Answer: ")
    assert tokenizer.decode(split) == tokenizer.decode(plain)
    prompt = tokenizer(DOCUMENT.removesuffix(ANSWER))["input_ids"]  # ends with "Answer: ", as KnowMem's prompt
    answer = tokenizer(ANSWER, add_special_tokens=False)["input_ids"]
    assert split == prompt + answer + [tokenizer.eos_token_id]
    assert plain[: len(prompt)] != prompt  # without the boundary the space is glued to the answer's first word
