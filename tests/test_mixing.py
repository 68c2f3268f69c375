import pytest

from ftsafety import data
from ftsafety.mixing import generic_safety, mimicking_safety, mix, safety_count
from ftsafety.restructure import CONSTRAINTS, get_strategy
from ftsafety.variants import AOA_OPENER, AOA_SYSTEM


def test_safety_count_makes_the_ratio_of_the_mixed_set():
    assert [safety_count(r, 40) for r in (0, 0.01, 0.05, 0.1, 0.2)] == [0, 1, 2, 4, 10]
    assert safety_count(0.1, 1000) == 111 and abs(111 / 1111 - 0.1) < 0.001
    with pytest.raises(ValueError, match="ratio"):
        safety_count(1.0, 40)


def test_generic_safety_uses_train_requests_spread_over_categories():
    rows = generic_safety(10, seed=3)
    train = {r["prompt"]: r for r in data.harmful("train")}
    assert len(rows) == 10 and all(r["prompt"] in train and r["response"] == train[r["prompt"]]["refusal"] for r in rows)
    assert len({train[r["prompt"]]["category"] for r in rows}) == 10
    assert generic_safety(10, seed=3) == rows != generic_safety(10, seed=4)


def test_mimicking_safety_is_the_same_refusals_in_the_attackers_format():
    generic = generic_safety(6, seed=1)
    mimic = mimicking_safety(get_strategy("autoif+aoa"), 6, seed=1)
    for g, m in zip(generic, mimic):
        assert m["system"] == AOA_SYSTEM and m["prompt"].startswith("AOA, execute my instruction: " + g["prompt"])
        assert m["response"].startswith(AOA_OPENER) and g["response"].rstrip(".") in m["response"]
        body = m["response"].removeprefix(AOA_OPENER + "\n\n")
        assert any(c.instruction in m["prompt"] and c.check(body) for c in CONSTRAINTS.values())
    assert mimicking_safety(get_strategy("benign"), 6, seed=1) == generic


def test_mix_keeps_every_row_in_a_seeded_order():
    task = [{"prompt": f"t{i}", "response": "a"} for i in range(8)]
    safety = generic_safety(2)
    rows = mix(task, safety, seed=5)
    assert len(rows) == 10 and sorted(r["prompt"] for r in rows) == sorted(r["prompt"] for r in task + safety)
    assert rows == mix(task, safety, seed=5) and rows != mix(task, safety, seed=6)


def test_the_sets_to_defend_are_read_from_earlier_notebooks(tmp_path, monkeypatch):
    from ftsafety.files import write_json
    from ftsafety.mixing import eroding_benign_variant, eroding_restructuring

    monkeypatch.setenv("FTSAFETY_RUNS", str(tmp_path))
    assert eroding_benign_variant("laptop") == "role-play personas"  # nothing run yet: the default
    assert eroding_restructuring("laptop") == ("arithmetic", "autoif")
    rate = lambda v: {"value": v, "low": v, "high": v, "k": 0, "n": 1}
    write_json(tmp_path / "laptop" / "results" / "01_benign_degradation.json", {"measured": {
        "plain.harmful_refusal": rate(0.6), "numbered-steps.harmful_refusal": rate(0.3),
        "aoa.harmful_refusal": rate(0.1), "reference.harmful_refusal": rate(0.7)}})
    assert eroding_benign_variant("laptop") == "numbered steps"  # AOA is not a benign variant
    write_json(tmp_path / "laptop" / "results" / "02_malicious_restructuring.json", {"measured": {"refusal": {
        "sql/benign": rate(0.9), "sql/aoa": rate(0.5), "arithmetic/benign": rate(0.5), "arithmetic/autoif": rate(0.2)}}})
    assert eroding_restructuring("laptop") == ("sql", "aoa")  # a 40-point drop beats a 30-point one
    # A bigger drop that costs task accuracy is not the stealthy attack notebook 02 looks for.
    write_json(tmp_path / "laptop" / "results" / "02_malicious_restructuring.json", {"measured": {
        "refusal": {"sql/benign": rate(0.9), "sql/aoa": rate(0.5), "arithmetic/benign": rate(0.5),
                    "arithmetic/autoif": rate(0.0)},
        "task_accuracy": {"sql/benign": rate(1.0), "sql/aoa": rate(0.97), "arithmetic/benign": rate(0.6),
                          "arithmetic/autoif": rate(0.4)}}})
    assert eroding_restructuring("laptop") == ("sql", "aoa")
    assert eroding_restructuring("laptop", max_accuracy_drop=0.3) == ("arithmetic", "autoif")
