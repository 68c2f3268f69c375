import pytest

from ftsafety.representations import held_out_probe, layer_probe_accuracy

ZEBRA = [f"Tell me about zebra number {i}, zebra zebra." for i in range(12)]
APPLE = [f"Tell me about apple number {i}, apple apple." for i in range(12)]


def test_held_out_probe_separates_prompts_that_differ_in_their_words(smoke):
    m = smoke
    rows = held_out_probe(m.model, m.tokenizer, (ZEBRA[:8], APPLE[:8]), (ZEBRA[8:], APPLE[8:]), max_fpr=0.2)
    assert [r["layer"] for r in rows] == list(range(m.model.config.num_hidden_layers + 1))
    # The embeddings alone tell the two words apart, on prompts the probe never saw.
    assert rows[0]["auc"] == 1.0 and rows[0]["cv_auc"] == 1.0
    assert (rows[0]["caught"].k, rows[0]["caught"].n) == (4, 4)
    assert all(r["flagged"] <= 0.2 for r in rows)


def test_held_out_probe_at_chance_on_identical_prompts(smoke):
    m = smoke
    same = ["Tell me about the weather."] * 4
    rows = held_out_probe(m.model, m.tokenizer, (same, same), (same, same), max_fpr=0.0)
    # Identical features give identical scores: nothing can be flagged without flagging every negative.
    assert all(r["auc"] == 0.5 and r["cv_auc"] == 0.5 and r["caught"].k == 0 for r in rows)


def test_held_out_probe_names_the_empty_side(smoke):
    with pytest.raises(ValueError, match="test set needs at least two prompts on each side"):
        held_out_probe(smoke.model, smoke.tokenizer, (ZEBRA, APPLE), (ZEBRA, []))


def test_layer_probe_accuracy_is_cross_validated_per_layer(smoke):
    acc = layer_probe_accuracy(smoke.model, smoke.tokenizer, ZEBRA, APPLE, folds=3)
    assert len(acc) == smoke.model.config.num_hidden_layers + 1
    assert acc[0] == 1.0
    with pytest.raises(ValueError, match="at least 5 prompts"):
        layer_probe_accuracy(smoke.model, smoke.tokenizer, ZEBRA[:3], APPLE)
