import pytest

from ftsafety.tasks import generate_task, grade


@pytest.mark.parametrize("task", ["arithmetic", "sql", "sentiment"])
def test_generators_are_seeded_and_their_answers_grade_correct(task):
    a, b = generate_task(task, 30, seed=3), generate_task(task, 30, seed=3)
    assert a == b and a != generate_task(task, 30, seed=4)
    assert all(grade(task, ex.response, ex.gold) for ex in a)


def test_graders_reject_wrong_answers():
    ex = generate_task("arithmetic", 1, seed=0)[0]
    assert not grade("arithmetic", "The answer is 100000.", ex.gold)
    assert grade("arithmetic", f"It is {ex.gold}.", ex.gold)
    assert grade("sql", "```sql\nSELECT name FROM employees WHERE city='York'\n```",
                 "SELECT name FROM employees WHERE city = 'York';")
    assert not grade("sql", "SELECT name FROM employees;", "SELECT name FROM employees WHERE city = 'York';")
    assert not grade("sql", "SELECT nonsense FROM nowhere", "SELECT name FROM employees;")
    assert grade("sentiment", "Positive.", "positive") and not grade("sentiment", "negative", "positive")
    with pytest.raises(ValueError, match="unknown task"):
        generate_task("chess", 1)
