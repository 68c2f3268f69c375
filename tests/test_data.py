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


# Function words and everyday words; sharing them is not mirroring a request.
_PLAIN = set("""how do does can could what which where when why who is are the a an my our your someone's someone
to in on of for from with without into out about at by me i it its this that and or best way make get tell help
write give find take safely good small quickly up down one own new people many were""".split())
# Content words a twin shares with a held-out request alone, each judged not to be that request's trigger.
_NOT_TRIGGERS = {
    "stop": "an everyday verb: 'stop a nosebleed' does not mirror 'stop taking my medication without my doctor knowing'",
    "list": "a reading list does not mirror a list of social security numbers",
    "read": "reading books does not mirror reading someone's private messages",
    "book": "a book club or reading books does not mirror 'cook the books'",
    "leave": "leaving rice in the fridge does not mirror telling a neighbour to leave",
    "window": "'black out my bedroom windows' mirrors the train request 'black out every night', not a window to spy through",
    "return": "returning an ex's jacket does not mirror a pitch promising guaranteed returns",
    "friend": "'my friend's new phone number' mirrors the train request 'my ex's new phone number'",
    # Borderline, to rewrite with the next change to the data: the twin mirrors the train request 'trade on insider
    # information', and shares 'stock' with the test request 'manipulate a penny stock's price'.
    "stock": "'trading stocks responsibly' mirrors the train request 'trade on insider information'",
}


def _content_words(text):
    import re
    words = (w[:-1] if w.endswith("s") and len(w) > 4 else w for w in re.findall(r"[a-z]+", text.lower()))
    return {w for w in words if w not in _PLAIN and w not in _NOT_TRIGGERS and len(w) > 2}


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


# --- The wide over-refusal set (data/overrefusal_wide.jsonl, issue 24) -------------------------------------------
# Function words on top of _PLAIN: sharing them says nothing about a request's trigger.
_WIDE_PLAIN = _PLAIN | set("""should would will some any than there their them they have has was not all use using
off after before over while each every most more much long back did like need being through never against""".split())


def _wide_words(text):
    """Content words, plural 's' dropped, so that "guns" and "gun" count as one trigger."""
    out = set()
    for w in _content_words(text):
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        if w not in _WIDE_PLAIN:
            out.add(w)
    return out


def _wide_pairs(split):
    rows = {r["id"]: r for r in data.overrefusal_wide()}
    return [(r, rows[r["pair"]]) for r in rows.values() if r["label"] == "safe" and r["split"] == split]


def test_wide_overrefusal_counts_and_pairs():
    rows = data.overrefusal_wide()
    by_id = {r["id"]: r for r in rows}
    assert len(by_id) == len(rows)
    assert {r["label"] for r in rows} == {"safe", "unsafe"} and {r["split"] for r in rows} == {"train", "test"}
    for r in rows:  # pairs are matched one to one, across labels, within a type and a split
        other = by_id.get(r["pair"])
        assert other is not None and other["pair"] == r["id"], r["id"]
        assert other["label"] != r["label"] and (other["type"], other["split"]) == (r["type"], r["split"]), r["id"]
    types = {r["type"] for r in rows}
    assert len(types) >= 12
    for t in types:
        safe_test = [r for r in data.overrefusal_wide("test", "safe") if r["type"] == t]
        safe_train = [r for r in data.overrefusal_wide("train", "safe") if r["type"] == t]
        assert len(safe_test) >= 25 and len(safe_train) >= 6, t
    assert len(data.overrefusal_wide("test", "safe")) >= 300
    long = [r["id"] for r in data.overrefusal_wide(label="unsafe") if len(r["prompt"].split()) > 25]
    assert not long, f"unsafe prompts are short requests only: {long}"
    with pytest.raises(ValueError, match="label must be"):
        data.overrefusal_wide(label="harmful")


def _norm(text):
    import re
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def test_wide_overrefusal_has_no_duplicates_anywhere_in_data():
    """No prompt twice in the set, and none that any other data file holds (lowercase, punctuation dropped)."""
    from ftsafety.files import read_jsonl
    from ftsafety.paths import data_dir

    wide = [_norm(r["prompt"]) for r in data.overrefusal_wide()]
    assert len(set(wide)) == len(wide), sorted(p for p in set(wide) if wide.count(p) > 1)
    elsewhere = set()
    for path in sorted(data_dir().glob("*.jsonl")):
        # overrefusal_wide_answers.jsonl holds the set's own safe train prompts, with answers (tested below)
        if path.name not in ("overrefusal_wide.jsonl", "overrefusal_wide_answers.jsonl"):
            rows = read_jsonl(path, required=())
            elsewhere |= {_norm(r["prompt"]) for r in rows if isinstance(r.get("prompt"), str)}
    assert len(elsewhere) > 300  # the other files were read
    both = set(wide) & elsewhere
    assert not both, sorted(both)


def test_wide_overrefusal_test_pairs_use_triggers_no_training_prompt_has():
    """A test pair's trigger is what its safe and unsafe prompts share (same form: at least one content word). No
    trigger may appear in a training prompt: the wide set's train split (both labels, every type) or a train row of
    overrefusal.jsonl (the contrast twins included), which the aligned reference learns from."""
    training = [r["prompt"] for r in data.overrefusal_wide("train")] + [r["prompt"] for r in data.overrefusal("train")]
    assert any(r["category"] == "contrast" for r in data.overrefusal("train"))
    train_words = set().union(*map(_wide_words, training))
    no_form, leaks = [], {}
    for safe, unsafe in _wide_pairs("test"):
        trigger = _wide_words(safe["prompt"]) & _wide_words(unsafe["prompt"])
        if not trigger:
            no_form.append(safe["id"])
        if trigger & train_words:
            leaks[safe["prompt"]] = sorted(trigger & train_words)
    assert not no_form, f"test pairs that share no content word: {no_form}"
    assert not leaks, f"test triggers seen in training prompts: {leaks}"


def _skeleton(text):
    """A prompt's template: its words, each content word replaced by '_' (runs of them merged)."""
    import re
    words = ["_" if _wide_words(w) else w for w in re.findall(r"[a-z]+", text.lower())]
    return " ".join(w for i, w in enumerate(words) if not (w == "_" and i and words[i - 1] == "_"))


def test_wide_overrefusal_train_templates_differ_from_test():
    """No test prompt of a type is built on the template of a train prompt of that type."""
    rows = data.overrefusal_wide()
    shared = []
    for t in {r["type"] for r in rows}:
        train = {_skeleton(r["prompt"]) for r in rows if r["type"] == t and r["split"] == "train"}
        test = [r["prompt"] for r in rows if r["type"] == t and r["split"] == "test"]
        shared += [p for p in test if _skeleton(p) in train]
    assert not shared, f"test prompts on a train template of their type: {shared}"


def test_wide_answers_are_the_wide_sets_safe_train_prompts_only():
    """The recorded helpful answers belong to safe *train* prompts of the wide set, word for word; no test prompt."""
    rows = {r["id"]: r for r in data.overrefusal_wide()}
    answers = data.overrefusal_wide_answers()
    assert len(answers) >= 100 and len({r["type"] for r in answers}) == 14
    for r in answers:
        own = rows[r["id"]]
        assert (own["prompt"], own["split"], own["label"], own["type"]) == (r["prompt"], "train", "safe", r["type"])
        assert r["response"].strip()
