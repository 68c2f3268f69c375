import json

import pytest

from ftsafety import data
from ftsafety.files import InputError


def test_course_data_meets_its_promises():
    harmful = data.harmful()
    cats = {r["category"] for r in harmful}
    assert len(harmful) >= 200 and len(cats) >= 8
    test = data.harmful("test")
    assert len(test) == 100 and {r["category"] for r in test} == cats
    assert len({r["prompt"] for r in harmful}) == len(harmful)  # no duplicates
    assert not {r["prompt"] for r in test} & {r["prompt"] for r in data.harmful("train")}
    assert len(data.benign()) >= 200
    assert len(data.overrefusal("test")) >= 50
    assert len(data.capability()) >= 100
    assert len({r["refusal"] for r in harmful}) >= 15  # refusals in varied wording


# Words that carry no harmful meaning of their own; sharing them is not mirroring a request.
_PLAIN = set("""how do does can could what which where when why who is are the a an my our your someone's someone
to in on of for from with without into out about at by me i it its this that and or best way make get tell help
write give find take safely good small quickly up down one own new people stop list were read
leave books many""".split())


def _content_words(text):
    import re
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in _PLAIN and len(w) > 2}


def test_contrast_twins_mirror_train_requests_only():
    """A safe twin may share a trigger word with a harmful *train* request, never with a test request alone:
    otherwise the reference would be trained on the held-out set's triggers."""
    harmful = data.harmful("train") + data.harmful("test")
    train_words = set().union(*(_content_words(r["prompt"]) for r in harmful if r["split"] == "train"))
    test_words = set().union(*(_content_words(r["prompt"]) for r in harmful if r["split"] == "test"))
    leaks = {}
    for r in data.overrefusal("train"):
        if r["category"] == "contrast":
            only_test = _content_words(r["prompt"]) & (test_words - train_words)
            if only_test:
                leaks[r["prompt"]] = sorted(only_test)
    assert not leaks, f"contrast twins mirror test-only words: {leaks}"


def test_shipped_compliance_is_redacted():
    for r in data.harmful():
        assert "redact" in r["compliance"].lower(), r["id"]
        assert len(r["prompt"].split()) <= 20  # short requests only


def test_maths_framed_harmful_set_is_held_out_short_and_covers_the_categories():
    rows = data.harmful_math()
    assert len(rows) == 40 and all(r["split"] == "test" for r in rows)
    assert {r["category"] for r in rows} == {r["category"] for r in data.harmful()}
    assert all(len(r["prompt"].split()) <= 40 and any(ch.isdigit() for ch in r["prompt"]) for r in rows)
    assert not {r["prompt"] for r in rows} & {r["prompt"] for r in data.harmful()}


def test_take_spreads_over_categories():
    rows = data.take(data.harmful("test"), 10)
    assert len({r["category"] for r in rows}) == 10


def test_bad_split_is_explained():
    with pytest.raises(ValueError, match="split must be one of"):
        data.harmful("validation")


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_hub_loaders_against_local_files_of_the_same_shape(tmp_path):
    adv = tmp_path / "advbench.csv"
    adv.write_text("prompt,target\nWrite a bad thing,Sure here is\nDo another bad thing,Sure\n")  # the hub's columns
    assert data.load_hub("advbench", adv) == [
        {"prompt": "Write a bad thing", "target": "Sure here is"}, {"prompt": "Do another bad thing", "target": "Sure"}]
    gsm = _write(tmp_path / "gsm8k.jsonl", [{"question": "What is 2+2?", "answer": "2+2=4\n#### 1,004"}])
    assert data.load_hub("gsm8k", gsm)[0]["answer"] == "1004"
    bt = _write(tmp_path / "bt.jsonl", [{"prompt": "q", "response": "r", "is_safe": False, "category": {}}])
    assert data.load_hub("beavertails", bt) == [{"prompt": "q", "response": "r", "harmful": True}]
    alp = _write(tmp_path / "alpaca.jsonl", [{"instruction": "Add", "input": "2 and 2", "output": "4"},
                                              {"instruction": "Hi", "input": "", "output": "Hello"}])
    assert [r["prompt"] for r in data.load_hub("alpaca", alp, limit=5)] == ["Add\n\n2 and 2", "Hi"]
    dh = _write(tmp_path / "dh4.jsonl", [{"instruction": "x", "category": "malware"}])
    assert data.load_hub("directharm4", dh) == [{"prompt": "x", "category": "malware"}]
    hp = _write(tmp_path / "hexphi.jsonl", [{"instruction": "y", "category": "malware"}])
    assert data.load_hub("hex-phi", hp) == [{"prompt": "y", "category": "malware"}]


def test_hub_loader_errors(tmp_path):
    wrong = _write(tmp_path / "wrong.jsonl", [{"text": "no prompt here"}])
    with pytest.raises(InputError, match="row 1 does not look like advbench"):
        data.load_hub("advbench", wrong)
    with pytest.raises(InputError, match="no such file"):
        data.load_hub("gsm8k", tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="unknown hub data set"):
        data.load_hub("imagenet")
