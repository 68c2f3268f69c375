"""How the course prints numbers: rates "84% [76, 90], n=100", differences in points with their interval, correlations
with two decimals, at most 3 significant digits in tables and log lines, never a 17-digit float."""
import pandas as pd
import pytest

from ftsafety.metrics import Rate
from ftsafety.stats import (Estimate, fmt_corr, fmt_diff, fmt_num, fmt_rate, fmt_record, fmt_table, paired_difference,
                            rate_estimate)


def test_a_rate_prints_in_whole_percents_with_its_interval_and_n():
    assert str(Rate(84, 100)) == "84% [76, 90], n=100"  # Wilson: 0.7558, 0.8990
    assert str(Rate(0, 8)) == "0% [0, 32], n=8"  # 0 of 8: the interval still reaches 32%
    assert str(Rate(8, 8)) == "100% [68, 100], n=8"
    assert str(rate_estimate({i: [float(i < 42)] for i in range(50)})) == "84% [71, 92], n=50"


def test_a_rate_that_is_not_0_or_100_percent_never_prints_as_0_or_100():
    assert str(Rate(3, 1000)) == "0.3% [0.1, 0.9], n=1000"
    assert fmt_rate(0.997, 0.991, 0.999, 1000) == "99.7% [99.1, 99.9], n=1000"


def test_float_error_is_not_printed():
    dust = sum([0.1] * 10)  # 0.9999999999999999
    assert dust != 1.0
    assert fmt_rate(dust, dust, 1.0, 10) == "100% [100, 100], n=10"
    assert fmt_corr(dust, dust, 1.0, 6) == "+1.00 [+1.00, +1.00], n=6"
    assert str(Estimate(dust, dust, 1.0, None, 6, "rho", "6 models")) == "+1.00 [+1.00, +1.00], n=6"
    assert fmt_diff(dust - 1, -0.1, 0.1, 20) == "0 points [-10, +10], n=20"  # -1.1e-16 is 0, not "-0"


def test_a_difference_prints_in_signed_points_with_its_interval():
    assert fmt_diff(-0.35, -0.46, -0.23, 100) == "-35 points [-46, -23], n=100"
    assert fmt_diff(0.12, -0.03, 0.27, 100) == "+12 points [-3, +27], n=100"
    # 26 of 40 still refuse after fine-tuning, all 40 did before: a paired difference of -14/40
    before = {i: [1.0] for i in range(40)}
    after = {i: [float(i < 26)] for i in range(40)}
    assert str(paired_difference(after, before)) == "-35 points [-50, -20], n=40"


def test_an_interval_bound_off_zero_never_prints_as_zero():
    # the verdict "interval above 0" must be visible in the printed bounds
    assert fmt_diff(0.004, 0.001, 0.007, 400) == "+0.4 points [+0.1, +0.7], n=400"


def test_a_missing_value_prints_as_a_dash():
    assert str(Rate(0, 0)) == "—, n=0"
    assert fmt_corr(None, None, None, 3) == "—, n=3"


def test_table_and_log_numbers_keep_at_most_three_significant_digits():
    assert [fmt_num(x) for x in (0.6931471805599453, 2.3456e-05, 12.345678, 1234.56, 1.0, 0.0, 7, None, "lora")] == \
           ["0.693", "2.35e-05", "12.3", "1235", "1", "0", "7", "—", "lora"]
    import numpy as np

    assert fmt_num(np.float32(0.123456)) == "0.123" and fmt_num(np.int64(12345)) == "12345"
    # a TRL log entry as the training cells print it
    logged = {"loss": 0.6931471805599453, "grad_norm": 1.8765432198765433, "learning_rate": 1.9999999999999998e-05,
              "epoch": 1.0, "step": 4}
    assert fmt_record(logged) == "loss 0.693, grad_norm 1.88, learning_rate 2e-05, epoch 1, step 4"
    table = fmt_table(pd.DataFrame({"harmful CE": [2.345678912, 10.98765], "steps": [3, 4]}, index=["a", "b"]))
    assert table.to_dict(orient="list") == {"harmful CE": ["2.35", "11"], "steps": [3, 4]}


@pytest.mark.parametrize("method, text", [
    ("wilson", "84% [76, 90], n=100"),
    ("bootstrap over items", "84% [76, 90], n=100"),
    ("paired bootstrap over items", "+84 points [+76, +90], n=100"),
    ("spread paired bootstrap over items", "+84 points [+76, +90], n=100"),
    ("rho", "+0.84 [+0.76, +0.90], n=100"),
])
def test_an_estimate_prints_in_the_unit_of_its_method(method, text):
    assert str(Estimate(0.84, 0.7558, 0.899, None, 100, method)) == text


def test_a_scoreboard_prints_its_rates_as_percents():
    board = pd.DataFrame({"run": ["a", "b", "c"], "harmful_refusal": [0.8125, 0.003, float("nan")],
                          "capability": [0.9999999999999999, 0.5, 0.25]})
    shown = fmt_table(board, percent=("harmful_refusal", "capability"))
    assert shown.to_dict(orient="list") == {"run": ["a", "b", "c"], "harmful_refusal": ["81%", "0.3%", "—"],
                                            "capability": ["100%", "50%", "25%"]}


def test_a_quantity_in_its_own_unit_prints_and_states_its_rule_in_that_unit():
    from ftsafety import claims
    from ftsafety.stats import paired_difference

    est = paired_difference({"a": [2.5], "b": [2.0], "c": [2.25]}, {"a": [2.0], "b": [2.0], "c": [2.0]}, unit="nats")
    assert str(est).startswith("+0.25 nats [") and "points" not in str(est) and str(est).endswith(", n=3")
    claim = claims.get("06.defence_slows_attack")
    assert claims.unit_of(claim, est) == "nats" and claims.rule_text(claim, est) == "interval above 0"
    assert claims.Rule("at_least", 0.1).describe("nats") == "interval at or above 0.1 nats"
    assert "points" in str(paired_difference({"a": [1.0]}, {"a": [0.0]}))  # rates' differences keep their points
