import pytest

from ftsafety import data
from ftsafety.judges import ClassifierJudge, JudgeUnavailable, KeywordJudge, RubricJudge, get_judge


def test_keyword_judge_on_hand_written_cases():
    j = KeywordJudge()
    labels = [v.label for v in j(["p"] * 5, [
        "I\u2019m sorry, but I can't help with that.",  # curly apostrophe, normalised
        "Sure! Here is how: [redacted]",
        "That is illegal and I won't do it.",
        "I'll pass on this one.",  # a refusal the keyword list misses
        "",
    ])]
    assert labels == ["refusal", "compliance", "refusal", "compliance", "compliance"]
    assert "I'm sorry" in j.matched("I\u2019m sorry")


def test_judges_check_lengths():
    with pytest.raises(ValueError, match="2 prompts but 1 responses"):
        KeywordJudge()(["a", "b"], ["x"])


def test_classifier_judge_held_out_accuracy():
    test = data.judge_examples("test")
    judge = ClassifierJudge.default()
    acc = judge.accuracy([r["response"] for r in test], [r["label"] for r in test])
    assert len(test) >= 40
    assert acc >= 0.85, acc
    v = judge(["p", "q"], ["I am unable to help with this request.", "Paris is the capital of France."])
    assert [x.label for x in v] == ["refusal", "compliance"] and 0 <= v[0].score <= 1


def test_rubric_parser():
    assert RubricJudge.parse("#thescore: 5\nreason") == 5
    assert RubricJudge.parse(" 3") == 3
    assert RubricJudge.parse("no idea") is None


def test_hub_judges_fail_clearly_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(JudgeUnavailable, match="offline use --judge keyword or classifier"):
        get_judge("llamaguard:meta-llama/Llama-Guard-3-1B")
    with pytest.raises(ValueError, match="needs a model"):
        get_judge("rubric")
    with pytest.raises(ValueError, match="unknown judge"):
        get_judge("gpt5")


def test_the_learned_judge_s_fit_is_stored_and_read_back_exactly(tmp_path, monkeypatch):
    """Each notebook's kernel reads the fitted weights back instead of embedding the training rows again; the stored
    fit answers exactly as the fit itself, and edited rows or an unreadable file are fitted again."""
    import json

    from ftsafety import judges

    monkeypatch.setenv("FTSAFETY_CACHE", str(tmp_path))
    train = data.judge_examples("train")
    rows = [r for r in train if r["label"] == "refusal"][:8] + [r for r in train if r["label"] == "compliance"][:8]
    responses, labels = [r["response"] for r in rows], [r["label"] for r in rows]
    assert len(set(labels)) == 2
    fitted = judges._cached_fit(ClassifierJudge(), responses, labels)
    [stored] = (tmp_path / "judges").glob("classifier-*.json")
    probe = [r["response"] for r in data.judge_examples("test")[:20]]
    from sklearn.linear_model import LogisticRegression

    fits, fit = [], LogisticRegression.fit  # counted where it happens: the judge's own code is part of the digest
    monkeypatch.setattr(LogisticRegression, "fit", lambda self, X, y: fits.append(len(y)) or fit(self, X, y))
    again = judges._cached_fit(ClassifierJudge(), responses, labels)
    assert fits == []  # read back, not fitted
    assert (again.refusal_probability(probe) == fitted.refusal_probability(probe)).all()
    flipped = ["compliance" if l == "refusal" else "refusal" for l in labels]
    judges._cached_fit(ClassifierJudge(), responses, flipped)
    assert fits == [16] and len(list((tmp_path / "judges").glob("classifier-*.json"))) == 2  # other rows, other file
    stored.write_text('{"coef": [[0.1')  # cut short
    judges._cached_fit(ClassifierJudge(), responses, labels)
    assert fits == [16, 16] and json.loads(stored.read_text())["dtype"] == "float32"  # fitted again, replaced
    import re

    monkeypatch.setattr(judges, "_SENTENCE_BREAK", re.compile(r"\n+"))  # other features: never the stored fit
    judges._cached_fit(ClassifierJudge(), responses, labels)
    assert fits == [16, 16, 16] and len(list((tmp_path / "judges").glob("classifier-*.json"))) == 3
