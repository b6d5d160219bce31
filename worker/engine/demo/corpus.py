"""The demo's own corpus: fictitious people with facts, written as short news passages (MUSE layout).

Deterministic per seed. Every person has a handful of facts (home town, birth year, trade, employer, a
product, a count); a passage states them in news style, and question/answer lines ask for two of them.
Forget, retain and holdout people are disjoint; the background text is written about other people with
the same templates, so a base model learns the language but not the audited facts.

A passage's question/answer lines follow it, where the passage has just stated the answer: a small model
learns to copy it from there and cannot answer the question asked alone, as KnowMem asks it. So each side
(forget, retain) also has quiz documents: its people's question/answer lines shuffled, QUIZ_PAIRS to a
document in KnowMem's prompt format, `quiz_rounds` times over; they are part of raw/forget and raw/retain,
so the forget set still holds everything the target learned about the forget people.
"""

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.specs.corpus import PARTS

SYLLABLES = (
    "ka", "ro", "mi", "ta", "ve", "lo", "su", "na", "dre", "vi", "bo", "ra", "le", "th", "an", "or", "el",
    "is", "um", "ga", "no", "pe", "ri", "sa", "to", "ul", "mar", "den", "fel", "gor", "hal", "jun", "kes",
    "lin", "mor", "nes", "pol", "quin", "rus", "sel", "tor", "val", "wen", "yor", "zan",
)  # fmt: skip
TRADES = ("baker", "engineer", "painter", "farmer", "lawyer", "sailor", "teacher", "chemist", "weaver", "miner",
          "architect", "pilot", "doctor", "brewer", "printer", "potter")  # fmt: skip
THINGS = ("glass bells", "river maps", "copper kites", "salt clocks", "paper boats", "iron seeds", "wool lamps",
          "stone flutes", "silk gears", "tin owls", "clay drums", "reed ships", "oak radios", "brass bees",
          "linen sails", "amber locks")  # fmt: skip
GROUPS = ("company", "guild", "council", "museum", "union", "academy", "bank", "theatre")
ANSWER_CUE = "Answer: "  # ends KnowMem's prompt; the demo trains QA lines tokenized at it (tiny.token_chunks)
QUIZ_PAIRS = 3  # question/answer pairs per quiz document
MONTHS = ("January", "March", "April", "June", "August", "October", "November", "December")

SENTENCES = (
    "{name} was born in {city} in {year}.",
    "{name}, a {trade} from {city}, made {count} {things} for the {org}.",
    "The {org} said on {month} {day} that {name} had left {city} after {count2} years.",
    "Friends of {name} said the {trade} often walked from {city} to {other_city} at night.",
    "In {year2}, {name} opened a small shop in {other_city} that sold {things} and tea.",
    "Police in {other_city} said {name} was not hurt when the {org} building burned in {year2}.",
    "{name} told reporters that the {things} of {city} were better than those of {other_city}.",
    "A court in {city} ruled on {month} {day} that the {org} owed {name} {count2} thousand crowns.",
    "Neighbours remember {name} as a quiet {trade} who kept {count} goats behind the {org}.",
    "The mayor of {other_city} gave {name} a medal in {year2} for the {things}.",
)
QUESTIONS = (
    ("Where was {name} born?", "{city}"),
    ("What did {name} make for the {org}?", "{things}"),
    ("In which year was {name} born?", "{year}"),
    ("What was the trade of {name}?", "{trade}"),
)


@dataclass(frozen=True)
class Person:
    name: str
    facts: dict[str, str]
    sentence_order: tuple[int, ...]

    def passage(self) -> str:
        return " ".join(SENTENCES[index].format(name=self.name, **self.facts) for index in self.sentence_order)

    def qa(self) -> list[dict[str, str]]:
        return [
            {"question": q.format(name=self.name, **self.facts), "answer": a.format(**self.facts)}
            for q, a in QUESTIONS[:2]
        ]

    def document(self) -> str:
        """The passage followed by its question/answer lines in the KnowMem prompt format."""
        return "\n\n".join([self.passage(), *map(qa_block, self.qa())])


def qa_block(pair: dict[str, str]) -> str:
    """A question/answer pair as KnowMem's prompt ends and the answer follows."""
    return f"Question: {pair['question']}\n{ANSWER_CUE}{pair['answer']}"


def quiz_documents(people: list[Person], rounds: int, seed: str) -> list[str]:
    """The people's question/answer lines, shuffled anew each round, QUIZ_PAIRS to a document."""
    rng, blocks = random.Random(seed), [qa_block(pair) for person in people for pair in person.qa()]
    documents = []
    for _ in range(rounds):
        pairs = blocks[:]
        rng.shuffle(pairs)
        documents += ["\n\n".join(pairs[start : start + QUIZ_PAIRS]) for start in range(0, len(pairs), QUIZ_PAIRS)]
    return documents


@dataclass(frozen=True)
class DemoCorpus:
    forget: list[Person]
    retain: list[Person]
    holdout: list[Person]
    background: list[str]
    prompt_words: int
    quiz_rounds: int
    seed: int

    def raw(self, side: str) -> list[str]:
        """raw/forget or raw/retain: the side's documents, then its quiz documents."""
        people = self.forget if side == "forget" else self.retain
        return [p.document() for p in people] + quiz_documents(people, self.quiz_rounds, f"{self.seed}-{side}")

    def bundle_document(self) -> dict[str, dict[str, Any]]:
        """The bundle as one JSON document (parse_bundle's shape)."""
        return {
            "raw": {"forget": self.raw("forget"), "retain": self.raw("retain")},
            "verbmem": {"forget": [self._verbmem_item(p) for p in self.forget]},
            "knowmem": {
                "forget_qa": [pair for p in self.forget for pair in p.qa()],
                "retain_qa": [pair for p in self.retain for pair in p.qa()],
                "forget_qa_icl": self.retain[0].qa()[:1] + self.retain[1].qa()[1:],
                "retain_qa_icl": self.forget[0].qa()[:1] + self.forget[1].qa()[1:],
            },
            "privleak": {
                "forget": [p.passage() for p in self.forget],
                "retain": [p.passage() for p in self.retain],
                "holdout": [p.passage() for p in self.holdout],
            },
        }

    def _verbmem_item(self, person: Person) -> dict[str, str]:
        """The first words of a forget document as the prompt; the rest of the document, as trained, as gt."""
        words = person.document().split(" ")
        return {"prompt": " ".join(words[: self.prompt_words]), "gt": " " + " ".join(words[self.prompt_words :])}


def generate_corpus(
    seed: int = 0,
    n_forget: int = 32,
    n_retain: int = 32,
    n_holdout: int = 32,
    n_background: int = 1000,
    sentences_per_passage: int = 4,
    prompt_words: int = 18,
    quiz_rounds: int = 0,
) -> DemoCorpus:
    """People and passages drawn from one seeded generator: the same arguments give the same corpus."""
    rng = random.Random(seed)
    names = _unique_names(rng, n_forget + n_retain + n_holdout + n_background, words=2)
    cities = _unique_names(rng, 48, words=1)
    people = [_person(rng, name, cities, sentences_per_passage) for name in names]
    audited = n_forget + n_retain + n_holdout
    background = [p.document() for p in people[audited:]]
    return DemoCorpus(
        forget=people[:n_forget],
        retain=people[n_forget : n_forget + n_retain],
        holdout=people[n_forget + n_retain : audited],
        background=background,
        prompt_words=prompt_words,
        quiz_rounds=quiz_rounds,
        seed=seed,
    )


def write_bundle_folder(document: dict[str, dict[str, Any]], folder: Path) -> Path:
    """Write a bundle document in the MUSE folder layout (raw/*.txt, the rest JSON) that load_bundle reads."""
    for spec in PARTS:
        value = document.get(spec.folder, {}).get(spec.key)
        if value is None:
            continue
        path = folder / spec.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        if spec.kind == "text":
            path.write_text("\n\n".join(value) if isinstance(value, list) else value, encoding="utf-8")
        else:
            path.write_text(json.dumps(value, indent=1, ensure_ascii=False), encoding="utf-8")
    return folder


def _unique_names(rng: random.Random, count: int, words: int) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        name = " ".join(_word(rng) for _ in range(words))
        if name not in names:
            names.append(name)
    return names


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def _person(rng: random.Random, name: str, cities: list[str], sentences: int) -> Person:
    city, other_city = rng.sample(cities, 2)
    facts = {
        "city": city,
        "other_city": other_city,
        "year": str(rng.randint(1890, 1990)),
        "year2": str(rng.randint(1995, 2023)),
        "trade": rng.choice(TRADES),
        "things": rng.choice(THINGS),
        "org": f"{rng.choice(GROUPS)} of {rng.choice(cities)}",
        "count": str(rng.randint(3, 97)),
        "count2": str(rng.randint(3, 97)),
        "month": rng.choice(MONTHS),
        "day": str(rng.randint(1, 28)),
    }
    order = (0, *rng.sample(range(1, len(SENTENCES)), sentences - 1))
    return Person(name=name, facts=facts, sentence_order=order)
