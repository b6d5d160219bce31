"""A tiny corpus bundle and a tiny target model that memorised it, built in seconds for the tests."""

import json
import random
from pathlib import Path

from service.specs.corpus import PARTS, CorpusBundle, parse_bundle
from worker.engine.tiny import TinyModelConfig, build_model, token_chunks, train_causal_lm, train_tokenizer

NAMES = ["Arlo Venn", "Mira Quast", "Tobin Hale", "Seda Kroll", "Ivo Marsh", "Lena Dorr", "Pim Ostra", "Kai Brenn",
         "Nora Vale", "Olin Tarp", "Rue Calder", "Zane Holt"]  # fmt: skip
CITIES = ["Brask", "Olmere", "Tavin", "Quell", "Dunmore", "Vesk", "Harrow", "Lintz", "Corvel", "Ashby", "Pell", "Rook"]
THINGS = ["glass bells", "river maps", "copper kites", "salt clocks", "paper boats", "iron seeds", "wool lamps",
          "stone flutes", "silk gears", "tin owls", "clay drums", "reed ships"]  # fmt: skip


def passage(index: int) -> tuple[str, list[dict[str, str]]]:
    name, city, thing = NAMES[index], CITIES[index], THINGS[index]
    year = 1900 + 7 * index
    text = (
        f"{name} was born in {city} in {year}. {name} built {thing} for the people of {city}, "
        f"and the {thing} of {city} are still known in every market."
    )
    qa = [
        {"question": f"Where was {name} born?", "answer": city},
        {"question": f"What did {name} build?", "answer": thing},
    ]
    return text, qa


def make_bundle() -> CorpusBundle:
    forget = [passage(i) for i in range(0, 4)]
    retain = [passage(i) for i in range(4, 8)]
    holdout = [passage(i) for i in range(8, 12)]
    words = lambda t: t.split()  # noqa: E731
    document = {
        "raw": {"forget": [t for t, _ in forget], "retain": [t for t, _ in retain]},
        "verbmem": {
            "forget": [{"prompt": " ".join(words(t)[:6]), "gt": " " + " ".join(words(t)[6:])} for t, _ in forget]
        },
        "knowmem": {
            "forget_qa": [qa for _, pairs in forget for qa in pairs[:1]] + [forget[0][1][1]],
            "retain_qa": [qa for _, pairs in retain for qa in pairs[:1]],
            "forget_qa_icl": [retain[3][1][1]],
            "retain_qa_icl": [forget[3][1][1]],
        },
        "privleak": {
            "forget": [t for t, _ in forget],
            "retain": [t for t, _ in retain],
            "holdout": [t for t, _ in holdout],
        },
    }
    return parse_bundle(document)


def stand_in_models(root: Path, names: tuple[str, ...] = ("target", "ga")) -> Path:
    """Folders that pass for model folders at submission (a config.json and an empty weights file): the API
    checks that a local model exists under the tenant's roots; nothing loads them in the API tests."""
    for name in names:
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "config.json").write_text("{}", encoding="utf-8")
        (root / name / "model.safetensors").touch()
    return root


def training_texts(bundle: CorpusBundle, end_of_text: str = "</s>") -> list[str]:
    """What the target saw: forget and retain passages (ending with EOS, so greedy decoding stops) and
    their QA in the KnowMem prompt format, after the same in-context example the evaluation uses."""
    texts = [text + end_of_text for text in (bundle.raw_forget or []) + (bundle.raw_retain or [])]
    sets = [
        (bundle.knowmem_forget_qa or [], bundle.knowmem_forget_qa_icl or []),
        (bundle.knowmem_retain_qa or [], bundle.knowmem_retain_qa_icl or []),
    ]
    for questions, examples in sets:
        prefix = "".join(f"Question: {qa.question}\nAnswer: {qa.answer}\n\n" for qa in examples)
        texts.extend(f"{prefix}Question: {qa.question}\nAnswer: {qa.answer}\n\n" for qa in questions)
    return texts


def train_target(folder: Path, steps: int = 150, seed: int = 0) -> Path:
    """Train and save a tiny target that knows the forget and retain sets (not the holdout)."""
    bundle = make_bundle()
    texts = training_texts(bundle)
    tokenizer = train_tokenizer(texts + list(bundle.privleak_holdout or []), vocab_size=400)
    model = build_model(tokenizer, TinyModelConfig(hidden_size=64, layers=2, heads=4, intermediate_size=128), seed)
    chunks = token_chunks(tokenizer, texts, length=64)
    random.Random(seed).shuffle(chunks)
    train_causal_lm(model, chunks, steps=steps, lr=3e-3, batch_size=8, pad_token_id=tokenizer.pad_token_id, seed=seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_muse_folder(root: Path, bundle: CorpusBundle) -> Path:
    """The bundle as a folder in the MUSE layout (raw text as one .txt file per part, the rest as .json)."""
    for part in PARTS:
        items = bundle.to_document().get(part.folder, {}).get(part.key)
        if items is None:
            continue
        (root / part.folder).mkdir(parents=True, exist_ok=True)
        content = "\n\n".join(items) if part.kind == "text" else json.dumps(items)
        (root / part.filename).write_text(content, encoding="utf-8")
    return root
