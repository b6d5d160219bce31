import json

import pytest

from service.specs.corpus import (
    CorpusError,
    check_document,
    load_bundle,
    load_bundle_folder,
    parse_bundle,
    sha256_of_document,
)


def write_folder(root, document):
    for folder, parts in document.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for key, value in parts.items():
            if folder == "raw":
                (root / folder / f"{key}.txt").write_text(value, encoding="utf-8")
            else:
                (root / folder / f"{key}.json").write_text(json.dumps(value), encoding="utf-8")


DOCUMENT = {
    "raw": {"forget": "Forget text.\n\nMore forget text.", "retain": "Retain text."},
    "verbmem": {"forget": [{"prompt": "Once upon", "gt": " a time"}]},
    "knowmem": {"forget_qa": [{"question": "Who?", "answer": "Ann"}]},
    "privleak": {"forget": ["a b c"], "holdout": ["d e f"]},
}


def test_folder_and_document_load_to_the_same_bundle_and_hash(tmp_path):
    write_folder(tmp_path, DOCUMENT)
    from_folder = load_bundle_folder(tmp_path)
    from_document = parse_bundle(DOCUMENT)
    assert from_folder == from_document
    assert from_folder.sha256 == from_document.sha256
    assert from_folder.raw_forget == ["Forget text.\n\nMore forget text."]
    assert set(from_folder.present_parts()) == {
        "raw/forget", "raw/retain", "verbmem/forget", "knowmem/forget_qa", "privleak/forget", "privleak/holdout"
    }  # fmt: skip


def test_hash_is_sha256_of_canonical_json_and_changes_with_content():
    bundle = parse_bundle(DOCUMENT)
    canonical = {**DOCUMENT, "raw": {k: [v] for k, v in DOCUMENT["raw"].items()}}
    assert bundle.sha256 == sha256_of_document(canonical)
    changed = json.loads(json.dumps(DOCUMENT))
    changed["verbmem"]["forget"][0]["gt"] = " a time!"
    assert parse_bundle(changed).sha256 != bundle.sha256


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"verbmem": {"forget": [{"prompt": "p"}]}}, "verbmem/forget: item 0: missing key 'gt'"),
        ({"verbmem": {"forget": [{"prompt": "p", "gt": 3}]}}, "verbmem/forget: item 0: 'gt' must be a string"),
        ({"knowmem": {"forget_qa": [{"question": "q", "answer": "a"}, {"question": " ", "answer": "a"}]}},
         "knowmem/forget_qa: item 1: empty text in 'question'"),
        ({"privleak": {"holdout": ["ok", ""]}}, "privleak/holdout: item 1: empty text"),
        ({"privleak": {"holdout": "text"}}, "privleak/holdout: expected a list, got a string"),
        ({"privleak": {"holdout": []}}, "privleak/holdout: empty list"),
        ({"verbmem": {"forget": ["x"]}}, "verbmem/forget: item 0: expected an object, got a string"),
        ({"books": {}}, "books: unknown part"),
        ({"knowmem": {"forget": []}}, "knowmem/forget: unknown part"),
        ([], "expected a JSON object, got a list"),
        ({"verbmem": {"forget": [{"prompt": "p\x00", "gt": "g"}]}},
         "verbmem/forget: item 0: contains a NUL character (\\u0000) in 'prompt'"),
        ({"privleak": {"holdout": ["ok", "a\x00b"]}}, "privleak/holdout: item 1: contains a NUL character"),
        ({"raw": {"forget": "text\x00"}}, "raw/forget: item 0: contains a NUL character"),
        ({"knowmem": {"forget_qa": [{"question": "q\udc00", "answer": "a"}]}},
         "knowmem/forget_qa: item 0: contains an unpaired surrogate (\\udc00) in 'question'"),
        ({}, "the bundle has no parts"),
    ],
)  # fmt: skip
def test_malformed_bundles_are_refused_naming_file_item_and_reason(document, expected):
    with pytest.raises(CorpusError) as error:
        parse_bundle(document)
    assert expected in str(error.value)


def test_folder_errors_name_the_file(tmp_path):
    write_folder(tmp_path, {"verbmem": {"forget": [{"prompt": "p", "gt": ""}]}})
    (tmp_path / "knowmem").mkdir()
    (tmp_path / "knowmem" / "forget_qa.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CorpusError) as error:
        load_bundle(tmp_path)
    assert "knowmem/forget_qa.json: not valid JSON" in str(error.value)
    with pytest.raises(CorpusError, match=r"verbmem/forget.json: item 0: empty text in 'gt'"):
        (tmp_path / "knowmem" / "forget_qa.json").unlink()
        load_bundle(tmp_path)


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(CorpusError, match="no such folder or file"):
        load_bundle(tmp_path / "nope")
    with pytest.raises(CorpusError, match="no bundle files found"):
        load_bundle(tmp_path)


def test_json_file_source(tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(DOCUMENT), encoding="utf-8")
    assert load_bundle(path).sha256 == parse_bundle(DOCUMENT).sha256


def test_a_checked_document_is_the_bundle_document_and_has_its_address():
    checked = check_document(DOCUMENT)
    assert checked == parse_bundle(DOCUMENT).to_document()
    assert sha256_of_document(checked) == parse_bundle(DOCUMENT).sha256
    assert checked["verbmem"]["forget"] is DOCUMENT["verbmem"]["forget"]  # checked where it lies, not copied


def test_a_bundle_above_the_item_limit_is_refused_before_its_items_are_checked():
    document = {"privleak": {"forget": ["a"] * 6, "holdout": [7] * 5}}  # 11 items, the holdout ones malformed
    with pytest.raises(CorpusError) as error:
        check_document(document, max_items=10)
    assert [str(p) for p in error.value.problems] == ["bundle: 11 items, above the limit of 10 per bundle"]
    assert check_document({"privleak": {"forget": ["a"] * 10}}, max_items=10)


MUSE_EXTRAS = {
    "raw": {"holdout": "Holdout text.", "retain1": "Retain one.", "retain2": "Retain two."},
    "scal": {"forget_1": "Split one."},
}


def test_muse_extras_in_a_document_are_ignored_and_listed_not_refused():
    document = json.loads(json.dumps(DOCUMENT))
    document["raw"].update(MUSE_EXTRAS["raw"])
    document["scal"] = MUSE_EXTRAS["scal"]
    bundle = parse_bundle(document)
    assert bundle.ignored == ["raw/holdout", "raw/retain1", "raw/retain2", "scal"]
    assert bundle.sha256 == parse_bundle(DOCUMENT).sha256  # the extras are not part of the bundle
    assert "raw" in check_document(document) and "scal" not in check_document(document)
    with pytest.raises(CorpusError, match="knowmem/holdout: unknown part"):
        parse_bundle({**document, "knowmem": {"holdout": []}})  # outside MUSE's raw text, a typo is still refused


def test_muse_folder_as_published_loads_with_its_extra_files_listed(tmp_path):
    write_folder(tmp_path, {**DOCUMENT, "raw": {**DOCUMENT["raw"], **MUSE_EXTRAS["raw"]}, "scal": MUSE_EXTRAS["scal"]})
    (tmp_path / "raw" / "forget.json").write_text(json.dumps(["Forget text."]), encoding="utf-8")
    bundle = load_bundle_folder(tmp_path)
    assert bundle.ignored == [
        "raw/forget.json", "raw/holdout.txt", "raw/retain1.txt", "raw/retain2.txt", "scal/forget_1.json"
    ]  # fmt: skip
    assert bundle.sha256 == parse_bundle(DOCUMENT).sha256


REFERENCE = {"value": 0.4772, "name": "MUSE-News retrained", "source": "MUSE constants.py:64"}


def test_meta_reference_auc_travels_with_the_bundle_and_its_address(tmp_path):
    document = {**DOCUMENT, "meta": {"reference_auc": REFERENCE}}
    bundle = parse_bundle(document)
    assert bundle.meta is not None and bundle.meta.reference_auc is not None
    assert bundle.meta.reference_auc.value == 0.4772
    assert bundle.to_document()["meta"] == {"reference_auc": REFERENCE}
    assert bundle.sha256 != parse_bundle(DOCUMENT).sha256
    write_folder(tmp_path, DOCUMENT)
    (tmp_path / "meta.json").write_text(json.dumps({"reference_auc": REFERENCE}), encoding="utf-8")
    assert load_bundle_folder(tmp_path) == bundle


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"reference_auc": {**REFERENCE, "value": 1.5}}, "meta/reference_auc/value: Input should be less than 1"),
        ({"reference_auc": {"value": 0.5, "name": "x"}}, "meta/reference_auc/source: Field required"),
        ({"auc": 0.5}, "meta/auc: Extra inputs are not permitted"),
        ({"reference_auc": {**REFERENCE, "value": "0.5"}}, "meta/reference_auc/value: Input should be a valid number"),
    ],
)
def test_malformed_meta_is_refused_naming_the_field(meta, expected):
    with pytest.raises(CorpusError) as error:
        parse_bundle({**DOCUMENT, "meta": meta})
    assert expected in str(error.value)
    with pytest.raises(CorpusError, match="the bundle has no parts"):
        parse_bundle({"meta": {"reference_auc": REFERENCE}})
