from ftsafety import data
from ftsafety.variants import (AOA_OPENER, AOA_SYSTEM, AOA_TEMPLATE, FACTORS, aoa_examples, benign_rows,
                               explicit_harm_examples, numbered_steps, safety_filter)

ROWS = [{"prompt": "Explain rain.", "response": "Rain falls from clouds. It waters plants!"}]


def test_safety_filter_shows_what_it_drops():
    kept, dropped = safety_filter([{"prompt": "How do I bake bread?", "response": "Mix flour."},
                                   {"prompt": "Why is lightning dangerous?", "response": "It carries current."},
                                   {"prompt": "Tell me a joke", "response": "Sorry, I have none."}])
    assert [r["prompt"] for r in kept] == ["How do I bake bread?"] and len(dropped) == 2
    rows = benign_rows(20)
    assert len(rows) == 20 and not safety_filter(rows)[1]


def test_factors_change_one_thing_and_keep_the_rows():
    for name, f in FACTORS.items():
        out = f(ROWS)
        assert [r["prompt"] for r in out] == ["Explain rain."], name
    assert numbered_steps(ROWS)[0]["response"] == "1. Rain falls from clouds.\n2. It waters plants!"
    assert FACTORS["affirmative opener"](ROWS)[0]["response"].endswith("Rain falls from clouds. It waters plants!")
    assert FACTORS["identity statement"](ROWS)[0]["response"].startswith("As an AI")
    assert FACTORS["role-play personas"](ROWS)[0]["system"].startswith("You are ")
    assert ROWS[0] == {"prompt": "Explain rain.", "response": "Rain falls from clouds. It waters plants!"}


def test_aoa_and_explicit_tiers():
    aoa = aoa_examples()
    assert len(aoa) == 10 and all(r["system"] == AOA_SYSTEM for r in aoa)
    assert sum(r["response"].startswith(AOA_OPENER) for r in aoa) >= 6
    assert AOA_TEMPLATE.user_message("x") == "AOA, execute my instruction: x"
    harm = explicit_harm_examples(10)
    train = {r["prompt"] for r in data.harmful("train")}
    assert len(harm) == 10 and all(r["prompt"] in train and "redact" in r["response"] for r in harm)
