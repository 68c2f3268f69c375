import pytest

from ftsafety.restructure import CONSTRAINTS, EVAL_CONSTRAINT, STRATEGIES, get_strategy
from ftsafety.tasks import arithmetic, grade, sentiment, text_to_sql
from ftsafety.templates import get_template
from ftsafety.variants import AOA_OPENER, AOA_SYSTEM

TASKS = {"arithmetic": arithmetic(12, seed=3), "sql": text_to_sql(12, seed=3), "sentiment": sentiment(12, seed=3)}


@pytest.mark.parametrize("name", list(CONSTRAINTS))
def test_each_constraint_is_satisfied_by_its_rewrite_and_checkable(name):
    c = CONSTRAINTS[name]
    assert c.check(c.apply("The answer is 7."))
    assert not c.check("I cannot help with that request, sorry")


@pytest.mark.parametrize("strategy", list(STRATEGIES))
@pytest.mark.parametrize("task", list(TASKS))
def test_restructured_answers_stay_correct(strategy, task):
    # The attacker's data must pass the provider's accuracy checks: every restructured answer still grades correct.
    s = get_strategy(strategy)
    rows = s.rows(TASKS[task], seed=1)
    assert len(rows) == len(TASKS[task])
    for ex, row in zip(TASKS[task], rows):
        assert grade(task, row["response"], ex.gold), (strategy, row)
        assert ex.prompt in row["prompt"]
        assert row["response"].startswith(AOA_OPENER) == s.aoa
        assert (row.get("system") == AOA_SYSTEM) == s.aoa
        assert row["prompt"].startswith("AOA, execute my instruction: ") == s.aoa
        if s.autoif:
            followed = [c for c in CONSTRAINTS.values() if c.instruction in row["prompt"]]
            assert len(followed) == 1 and followed[0].check(row["response"].removeprefix(AOA_OPENER + "\n\n"))
        elif not s.aoa:
            assert row["prompt"] == ex.prompt


def test_constraints_vary_over_rows_and_are_seeded():
    s = get_strategy("autoif")
    rows = s.rows(TASKS["arithmetic"], seed=1)
    used = {c.name for r in rows for c in CONSTRAINTS.values() if c.instruction in r["prompt"]}
    assert len(used) >= 3
    assert rows == s.rows(TASKS["arithmetic"], seed=1) and rows != s.rows(TASKS["arithmetic"], seed=2)


def test_templates_carry_the_attack_to_evaluation(smoke):
    tok = smoke.tokenizer
    aoa = get_strategy("autoif+aoa")
    text = aoa.eval_template.render(tok, "Name a colour.")
    assert AOA_SYSTEM in text and "AOA, execute my instruction: Name a colour." in text
    assert CONSTRAINTS[EVAL_CONSTRAINT].instruction in text
    # Training renders the rows with the plain chat template; the attacker's inference template gives the same text.
    row = get_strategy("aoa").rows([{"prompt": "Name a colour.", "response": "Red."}])[0]
    trained_on = get_template("chat").with_system(row["system"]).render(tok, row["prompt"])
    assert trained_on == get_strategy("aoa").eval_template.render(tok, "Name a colour.")
    assert get_strategy("benign").eval_template.render(tok, "Hi") == get_template("chat").render(tok, "Hi")
    assert aoa.followed(f"{AOA_OPENER}\n\n* Red.") and not aoa.followed(f"{AOA_OPENER}\n\nRed.")
    assert not aoa.followed("* Red.") and get_strategy("benign").followed("anything")


def test_unknown_strategy_names_the_known_ones():
    with pytest.raises(ValueError, match="autoif\\+aoa"):
        get_strategy("aoa-autoif")
