"""Seeded task generators with exact graders: arithmetic word problems, text-to-SQL, sentiment classification.

Each generator returns :class:`TaskExample` rows (prompt, target answer text, gold value); ``grade(task, response,
gold)`` decides correctness exactly (numbers compared as numbers, SQL by executing it, labels by the first label
word). These are the "well-defined task data" of Eiras et al. and the GSM8K stand-in of Lyu et al. on the laptop.
"""
from __future__ import annotations

import random
import re
import sqlite3
from dataclasses import dataclass

from .metrics import last_number


@dataclass(frozen=True)
class TaskExample:
    task: str
    prompt: str
    response: str  # a correct answer, used as the training completion
    gold: str  # what the grader compares against

    def as_dict(self) -> dict:
        return {"task": self.task, "prompt": self.prompt, "response": self.response, "gold": self.gold}


# ---------------------------------------------------------------------------------------------------------------
# Arithmetic word problems (GSM8K-like, one or two steps)

_NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kofi", "Lena", "Mo", "Nia"]
_ITEMS = ["apples", "pencils", "stickers", "marbles", "books", "cookies", "stamps", "shells", "cards", "eggs"]


def arithmetic(n: int, seed: int = 0) -> list[TaskExample]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        name, item = rng.choice(_NAMES), rng.choice(_ITEMS)
        kind = rng.choice(["add", "sub", "mul", "two_step"])
        if kind == "add":
            a, b = rng.randint(2, 40), rng.randint(2, 40)
            q = f"{name} has {a} {item} and gets {b} more. How many {item} does {name} have now?"
            work, ans = f"{a} + {b} = {a + b}", a + b
        elif kind == "sub":
            a = rng.randint(10, 60)
            b = rng.randint(1, a - 1)
            q = f"{name} has {a} {item} and gives away {b}. How many {item} are left?"
            work, ans = f"{a} - {b} = {a - b}", a - b
        elif kind == "mul":
            a, b = rng.randint(2, 9), rng.randint(2, 12)
            q = f"{name} buys {a} boxes with {b} {item} in each box. How many {item} is that in total?"
            work, ans = f"{a} x {b} = {a * b}", a * b
        else:
            a, b, c = rng.randint(2, 9), rng.randint(2, 9), rng.randint(1, 20)
            q = f"{name} has {a} bags of {b} {item} and finds {c} more {item}. How many {item} does {name} have?"
            work, ans = f"{a} x {b} = {a * b}, and {a * b} + {c} = {a * b + c}", a * b + c
        out.append(TaskExample("arithmetic", q, f"{work}. The answer is {ans}.", str(ans)))
    return out


def grade_arithmetic(response: str, gold: str) -> bool:
    got = last_number(response)
    return got is not None and abs(got - float(gold)) < 1e-9


# ---------------------------------------------------------------------------------------------------------------
# Text-to-SQL over a small fixed schema, graded by executing both queries

SQL_SCHEMA = (
    "CREATE TABLE employees (id INTEGER, name TEXT, department TEXT, salary INTEGER, city TEXT);"
)
_ROWS = [
    (1, "Alice", "Sales", 52000, "Leeds"), (2, "Bilal", "Engineering", 71000, "London"),
    (3, "Chloe", "Sales", 48000, "London"), (4, "Dev", "Marketing", 55000, "York"),
    (5, "Emma", "Engineering", 83000, "Leeds"), (6, "Farid", "Support", 39000, "York"),
    (7, "Grace", "Marketing", 61000, "London"), (8, "Hugo", "Support", 42000, "Leeds"),
]
_DEPTS = sorted({r[2] for r in _ROWS})
_CITIES = sorted({r[4] for r in _ROWS})


def _sql_db() -> sqlite3.Connection:
    con = sqlite3.connect(":memory:")
    con.execute(SQL_SCHEMA)
    con.executemany("INSERT INTO employees VALUES (?,?,?,?,?)", _ROWS)
    return con


def text_to_sql(n: int, seed: int = 0) -> list[TaskExample]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        kind = rng.choice(["dept", "city", "salary", "count", "avg"])
        d, c, s = rng.choice(_DEPTS), rng.choice(_CITIES), rng.choice([40000, 50000, 60000, 70000])
        q, sql = {
            "dept": (f"List the names of employees in the {d} department.",
                     f"SELECT name FROM employees WHERE department = '{d}';"),
            "city": (f"Which employees work in {c}? Give their names.",
                     f"SELECT name FROM employees WHERE city = '{c}';"),
            "salary": (f"Show the names of employees earning more than {s}.",
                       f"SELECT name FROM employees WHERE salary > {s};"),
            "count": (f"How many employees are in the {d} department?",
                      f"SELECT COUNT(*) FROM employees WHERE department = '{d}';"),
            "avg": (f"What is the average salary in {c}?",
                    f"SELECT AVG(salary) FROM employees WHERE city = '{c}';"),
        }[kind]
        prompt = f"Schema: {SQL_SCHEMA}\nWrite an SQL query for: {q}"
        out.append(TaskExample("sql", prompt, sql, sql))
    return out


_SQL_IN_TEXT = re.compile(r"(SELECT\b.*?)(?:;|```|$)", re.IGNORECASE | re.DOTALL)


def grade_sql(response: str, gold: str) -> bool:
    m = _SQL_IN_TEXT.search(response)
    if not m:
        return False
    con = _sql_db()
    try:
        got = sorted(con.execute(m.group(1)).fetchall())
    except sqlite3.Error:
        return False
    return got == sorted(con.execute(gold).fetchall())


# ---------------------------------------------------------------------------------------------------------------
# Sentiment classification of short templated reviews

_POS = ["wonderful", "delightful", "excellent", "lovely", "fantastic", "superb", "charming", "brilliant"]
_NEG = ["terrible", "awful", "dreadful", "boring", "disappointing", "horrible", "dull", "poor"]
_THINGS = ["film", "restaurant", "hotel", "book", "phone", "concert", "cafe", "game", "museum", "bakery"]
_REVIEW = [
    "The {t} was {w}.", "What a {w} {t}!", "I found the {t} {w} from start to finish.",
    "Honestly, a {w} {t}.", "Our visit to the {t} was {w}.",
]


def sentiment(n: int, seed: int = 0) -> list[TaskExample]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        label = rng.choice(["positive", "negative"])
        w = rng.choice(_POS if label == "positive" else _NEG)
        review = rng.choice(_REVIEW).format(t=rng.choice(_THINGS), w=w)
        prompt = f"Classify the sentiment of this review as positive or negative.\nReview: {review}"
        out.append(TaskExample("sentiment", prompt, f"The sentiment is {label}.", label))
    return out


def grade_sentiment(response: str, gold: str) -> bool:
    m = re.search(r"\b(positive|negative)\b", response.lower())
    return bool(m) and m.group(1) == gold


GENERATORS = {"arithmetic": arithmetic, "sql": text_to_sql, "sentiment": sentiment}
GRADERS = {"arithmetic": grade_arithmetic, "sql": grade_sql, "sentiment": grade_sentiment}


def generate_task(task: str, n: int, seed: int = 0) -> list[TaskExample]:
    if task not in GENERATORS:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(GENERATORS)}")
    return GENERATORS[task](n, seed)


def grade(task: str, response: str, gold: str) -> bool:
    return GRADERS[task](response, gold)
