"""Corpus bundles in the MUSE layout (DESIGN 7): load, validate, hash.

A bundle is read from a folder (raw/forget.txt, verbmem/forget.json, ...) or from one JSON document with
the same parts as nested keys: {"raw": {"forget": "..." or [...]}, "verbmem": {"forget": [...]}, ...}.
Every part is optional; a malformed part is refused with the file, the item index and the reason.
MUSE's data as published carries files this layout does not use (raw/holdout.txt, raw/retain1.txt,
raw/retain2.txt, the JSON twins of the raw text, News' scal/ and sust/ splits): they are ignored and listed
(`ignored_parts`, `CorpusBundle.ignored`) rather than refused. `meta` (meta.json in a folder) carries facts
about the corpus, such as the reference AUC that PrivLeak is normalised by (MUSE News 0.4772, Books 0.5393).

`check_document` validates a document where it lies, building nothing (the API stores the checked document
as it was parsed: an upload is held in memory once); `parse_bundle` checks and builds the engine's shape.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from service.specs.base import SpecModel
from service.specs.text import text_problem

BundleDocument = dict[str, dict[str, Any]]
"""A checked bundle document: {folder: {part: items}}, raw text always as a list of documents, and `meta`."""

META_FOLDER = "meta"
META_FILENAME = "meta.json"
MUSE_EXTRA_FOLDERS = ("scal", "sust")  # MUSE News' scalability and sustainability forget splits


class VerbMemItem(SpecModel):
    prompt: str
    gt: str


class QAItem(SpecModel):
    question: str
    answer: str


class ReferenceAUC(SpecModel):
    """The PrivLeak AUC of the model retrained without the forget set, and where the number comes from."""

    value: float = Field(gt=0.0, lt=1.0, description="AUC of forget vs holdout texts under the retrained model")
    name: str = Field(min_length=1, max_length=200, description="what the value is, e.g. 'MUSE-News retrained'")
    source: str = Field(min_length=1, max_length=500, description="where it comes from (file and line, paper)")


class BundleMeta(SpecModel):
    """Facts about the corpus that are not evaluation items (`meta` in a document, meta.json in a folder)."""

    reference_auc: ReferenceAUC | None = None


@dataclass(frozen=True)
class PartSpec:
    """One part of the bundle: its path in the layout and the shape of its items."""

    folder: str
    key: str
    kind: str  # "text" (raw), "verbmem", "qa" or "strings"

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.key}"

    @property
    def filename(self) -> str:
        return f"{self.path}.txt" if self.kind == "text" else f"{self.path}.json"


PARTS: tuple[PartSpec, ...] = (
    PartSpec("raw", "forget", "text"),
    PartSpec("raw", "retain", "text"),
    PartSpec("verbmem", "forget", "verbmem"),
    PartSpec("knowmem", "forget_qa", "qa"),
    PartSpec("knowmem", "retain_qa", "qa"),
    PartSpec("knowmem", "forget_qa_icl", "qa"),
    PartSpec("knowmem", "retain_qa_icl", "qa"),
    PartSpec("privleak", "forget", "strings"),
    PartSpec("privleak", "retain", "strings"),
    PartSpec("privleak", "holdout", "strings"),
)
PART_BY_PATH = {part.path: part for part in PARTS}


@dataclass(frozen=True)
class CorpusProblem:
    file: str
    index: int | None
    reason: str

    def __str__(self) -> str:
        where = self.file if self.index is None else f"{self.file}: item {self.index}"
        return f"{where}: {self.reason}"


class CorpusError(ValueError):
    """A bundle that cannot be used, with every problem found (file, item index, reason)."""

    def __init__(self, problems: list[CorpusProblem]):
        self.problems = problems
        super().__init__("invalid corpus bundle: " + "; ".join(str(p) for p in problems[:20]))


class CorpusBundle(SpecModel):
    """A validated bundle. Parts are None when missing; raw text is a list of documents."""

    raw_forget: list[str] | None = None
    raw_retain: list[str] | None = None
    verbmem_forget: list[VerbMemItem] | None = None
    knowmem_forget_qa: list[QAItem] | None = None
    knowmem_retain_qa: list[QAItem] | None = None
    knowmem_forget_qa_icl: list[QAItem] | None = None
    knowmem_retain_qa_icl: list[QAItem] | None = None
    privleak_forget: list[str] | None = None
    privleak_retain: list[str] | None = None
    privleak_holdout: list[str] | None = None
    meta: BundleMeta | None = None
    ignored: list[str] = Field(default_factory=list, description="files or parts of the source that were not read")

    def part(self, path: str) -> list[Any] | None:
        return getattr(self, path.replace("/", "_"))

    def present_parts(self) -> list[str]:
        return [p.path for p in PARTS if self.part(p.path) is not None]

    def to_document(self) -> dict[str, dict[str, Any]]:
        """The bundle as one JSON document (the upload shape), with only the present parts."""
        document: dict[str, dict[str, Any]] = {}
        for spec in PARTS:
            value = self.part(spec.path)
            if value is None:
                continue
            items = [v.model_dump() if isinstance(v, BaseModel) else v for v in value]
            document.setdefault(spec.folder, {})[spec.key] = items
        if self.meta is not None:
            document[META_FOLDER] = self.meta.model_dump(mode="json", exclude_none=True)
        return document

    @property
    def sha256(self) -> str:
        """Content address: sha256 of the canonical JSON form (sorted keys, no spaces, UTF-8)."""
        return sha256_of_document(self.to_document())

    def summary(self) -> dict[str, int]:
        """Items per present part (documents for raw text)."""
        return {path: len(self.part(path) or []) for path in self.present_parts()}


def sha256_of_document(document: dict[str, Any]) -> str:
    return content_address(document)[0]


def content_address(document: dict[str, Any]) -> tuple[str, int]:
    """sha256 and size in bytes of the document's canonical JSON form (sorted keys, no spaces, UTF-8)."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(canonical).hexdigest(), len(canonical)


def parse_bundle(document: Any, source: str = "bundle") -> CorpusBundle:
    """Validate one JSON document in the bundle's shape and build it; raises CorpusError naming every problem."""
    checked = check_document(document, source)
    meta = checked.pop(META_FOLDER, None)
    return CorpusBundle(
        **{f"{folder}_{key}": items for folder, parts in checked.items() for key, items in parts.items()},
        meta=None if meta is None else BundleMeta.model_validate(meta),
        ignored=ignored_parts(document),
    )


def is_muse_extra(folder: str, key: str | None = None) -> bool:
    """A part of MUSE's published layout that bundles do not use: raw text other than forget and retain
    (holdout, retain1, retain2), and the scal/ and sust/ splits of MUSE News."""
    if folder in MUSE_EXTRA_FOLDERS:
        return True
    return folder == "raw" and key is not None and f"raw/{key}" not in PART_BY_PATH


def ignored_parts(document: Any) -> list[str]:
    """The parts of a document that are MUSE's extras: tolerated, not read, listed in the answer."""
    if not isinstance(document, dict):
        return []
    ignored = [folder for folder in document if folder in MUSE_EXTRA_FOLDERS]
    raw = document.get("raw")
    if isinstance(raw, dict):
        ignored += [f"raw/{key}" for key in raw if is_muse_extra("raw", key)]
    return sorted(ignored)


def check_document(document: Any, source: str = "bundle", max_items: int | None = None) -> BundleDocument:
    """The document itself, validated (raw text made a list of documents); raises CorpusError naming every
    problem, or the item count alone when it is above `max_items`."""
    if not isinstance(document, dict):
        raise CorpusError([CorpusProblem(source, None, f"expected a JSON object, got {_type_name(document)}")])
    if max_items is not None and (count := item_count(document)) > max_items:
        raise CorpusError([CorpusProblem(source, None, f"{count} items, above the limit of {max_items} per bundle")])
    problems: list[CorpusProblem] = []
    values: BundleDocument = {}
    known_folders = {p.folder for p in PARTS} | {META_FOLDER}
    for folder, entries in document.items():
        if is_muse_extra(folder):
            continue
        if folder == META_FOLDER:
            _check_meta(entries, values, problems)
            continue
        if folder not in known_folders:
            problems.append(CorpusProblem(folder, None, f"unknown part; expected one of {sorted(known_folders)}"))
            continue
        if not isinstance(entries, dict):
            problems.append(CorpusProblem(folder, None, f"expected an object of parts, got {_type_name(entries)}"))
            continue
        for key, raw_value in entries.items():
            if is_muse_extra(folder, key):
                continue
            spec = PART_BY_PATH.get(f"{folder}/{key}")
            if spec is None:
                known = sorted(p.key for p in PARTS if p.folder == folder)
                problems.append(CorpusProblem(f"{folder}/{key}", None, f"unknown part; expected one of {known}"))
                continue
            parsed = _check_part(spec, raw_value, problems)
            if parsed is not None:
                values.setdefault(folder, {})[key] = parsed
    if problems:
        raise CorpusError(problems)
    if not set(values) - {META_FOLDER}:
        raise CorpusError([CorpusProblem(source, None, "the bundle has no parts")])
    return values


def _check_meta(entries: Any, values: BundleDocument, problems: list[CorpusProblem]) -> None:
    """`meta` checked against BundleMeta; kept as given (the checked document is the stored one)."""
    try:
        BundleMeta.model_validate(entries)
    except ValidationError as error:
        for detail in error.errors():
            where = "/".join([META_FOLDER, *(str(part) for part in detail["loc"])])
            problems.append(CorpusProblem(where, None, detail["msg"]))
        return
    values[META_FOLDER] = entries


def part_counts(document: BundleDocument) -> dict[str, int]:
    """Items per present part of a checked document, in the layout's order."""
    return {p.path: len(document[p.folder][p.key]) for p in PARTS if p.key in document.get(p.folder, {})}


def item_count(document: dict[str, Any]) -> int:
    """Items of every part (a raw text given as one string is one document), counted before any is checked."""
    parts = [entries for entries in document.values() if isinstance(entries, dict)]
    return sum(len(value) if isinstance(value, list) else 1 for entries in parts for value in entries.values())


def load_bundle_folder(folder: str | Path) -> CorpusBundle:
    """Read a bundle in the MUSE folder layout; missing files are missing parts."""
    root = Path(folder)
    if not root.is_dir():
        raise CorpusError([CorpusProblem(str(root), None, "not a folder")])
    document: dict[str, dict[str, Any]] = {}
    problems: list[CorpusProblem] = []
    for spec in PARTS:
        path = root / spec.filename
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(CorpusProblem(spec.filename, None, f"cannot be read: {error}"))
            continue
        if spec.kind == "text":
            document.setdefault(spec.folder, {})[spec.key] = text
            continue
        try:
            document.setdefault(spec.folder, {})[spec.key] = json.loads(text)
        except json.JSONDecodeError as error:
            problems.append(CorpusProblem(spec.filename, None, f"not valid JSON: {error}"))
    _read_meta(root, document, problems)
    if problems:
        raise CorpusError(problems)
    if not set(document) - {META_FOLDER}:
        expected = ", ".join(p.filename for p in PARTS)
        raise CorpusError([CorpusProblem(str(root), None, f"no bundle files found (expected some of {expected})")])
    try:
        bundle = parse_bundle(document, source=str(root))
    except CorpusError as error:
        raise CorpusError([_with_filename(p) for p in error.problems]) from None
    return bundle.model_copy(update={"ignored": unread_files(root)})


def _read_meta(root: Path, document: dict[str, Any], problems: list[CorpusProblem]) -> None:
    path = root / META_FILENAME
    if not path.is_file():
        return
    try:
        document[META_FOLDER] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        problems.append(CorpusProblem(META_FILENAME, None, f"not a readable JSON document: {error}"))


def unread_files(root: Path) -> list[str]:
    """Files of a bundle folder that are no part of the layout (MUSE's extras, notes): listed, never read."""
    read = {spec.filename for spec in PARTS} | {META_FILENAME}
    found = (path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())
    return sorted(name for name in found if name not in read)


def load_bundle(source: str | Path | dict[str, Any]) -> CorpusBundle:
    """A bundle from a folder, a JSON file, or an already parsed document."""
    if isinstance(source, dict):
        return parse_bundle(source)
    path = Path(source)
    if path.is_dir():
        return load_bundle_folder(path)
    if path.is_file():
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CorpusError([CorpusProblem(str(path), None, f"not a readable JSON document: {error}")]) from None
        return parse_bundle(document, source=str(path))
    raise CorpusError([CorpusProblem(str(path), None, "no such folder or file")])


def _with_filename(problem: CorpusProblem) -> CorpusProblem:
    spec = PART_BY_PATH.get(problem.file)
    return CorpusProblem(spec.filename, problem.index, problem.reason) if spec else problem


def _check_part(spec: PartSpec, value: Any, problems: list[CorpusProblem]) -> list[Any] | None:
    where = spec.path
    if spec.kind == "text":
        documents = [value] if isinstance(value, str) else value
        if not isinstance(documents, list):
            problems.append(CorpusProblem(where, None, f"expected text or a list of texts, got {_type_name(value)}"))
            return None
        return _check_strings(where, documents, problems)
    if not isinstance(value, list):
        problems.append(CorpusProblem(where, None, f"expected a list, got {_type_name(value)}"))
        return None
    if not value:
        problems.append(CorpusProblem(where, None, "empty list"))
        return None
    if spec.kind == "strings":
        return _check_strings(where, value, problems)
    fields = ("prompt", "gt") if spec.kind == "verbmem" else ("question", "answer")
    before = len(problems)
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            problems.append(CorpusProblem(where, index, f"expected an object, got {_type_name(item)}"))
            continue
        for field in fields:
            if field not in item:
                problems.append(CorpusProblem(where, index, f"missing key '{field}'"))
            elif not isinstance(item[field], str):
                problems.append(
                    CorpusProblem(where, index, f"'{field}' must be a string, got {_type_name(item[field])}")
                )
            elif problem := _text_problem(item[field]):
                problems.append(CorpusProblem(where, index, f"{problem} in '{field}'"))
        extra = sorted(set(item) - set(fields))
        if extra:
            problems.append(CorpusProblem(where, index, f"unknown keys {extra}; expected {list(fields)}"))
    return value if len(problems) == before else None


def _text_problem(text: str) -> str | None:
    return "empty text" if not text.strip() else text_problem(text)


def _check_strings(where: str, values: list[Any], problems: list[CorpusProblem]) -> list[str] | None:
    before = len(problems)
    if not values:
        problems.append(CorpusProblem(where, None, "empty list"))
    for index, text in enumerate(values):
        if not isinstance(text, str):
            problems.append(CorpusProblem(where, index, f"expected a string, got {_type_name(text)}"))
        elif problem := _text_problem(text):
            problems.append(CorpusProblem(where, index, problem))
    return values if len(problems) == before else None


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )
