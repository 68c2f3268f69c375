"""What a model's hidden states know: per-layer linear probes and the loss of given completions.

Used by notebook 06 to show *where* RepNoise moved the information about harm, and how hard harmful text became to
produce; both work on any causal LM.
"""
from __future__ import annotations

from typing import Sequence

from .templates import get_template


def pooled_hidden_states(model, tokenizer, prompts: Sequence[str], template="chat", batch_size: int = 32):
    """Array ``[layers + 1, n_prompts, hidden]``: each layer's hidden state, averaged over the rendered prompt's tokens."""
    import numpy as np
    import torch

    tpl = get_template(template)
    texts = [tpl.render(tokenizer, p) for p in prompts]
    old_side, tokenizer.padding_side = tokenizer.padding_side, "right"
    device = next(model.parameters()).device
    chunks = []
    try:
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(texts[i : i + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
            enc = {k: v.to(device) for k, v in enc.items()}
            with torch.inference_mode():
                hs = model(**enc, output_hidden_states=True).hidden_states
            w = enc["attention_mask"].unsqueeze(-1).float()
            chunks.append(torch.stack([(h.float() * w).sum(1) / w.sum(1) for h in hs]).cpu().numpy())
    finally:
        tokenizer.padding_side = old_side
    return np.concatenate(chunks, axis=1)


def _linear_probe(C: float = 0.1):
    """The course's probe: standardised features, L2-regularised logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=C))


def layer_probe_accuracy(model, tokenizer, positive: Sequence[str], negative: Sequence[str], template="chat",
                         folds: int = 5, seed: int = 0) -> list[float]:
    """Cross-validated accuracy of a logistic-regression probe per layer (index 0: the embeddings).

    1.0: the layer separates ``positive`` from ``negative`` prompts linearly; 0.5 (balanced sets): it does not.
    """
    import numpy as np
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    if min(len(positive), len(negative)) < folds:
        raise ValueError(f"a {folds}-fold probe needs at least {folds} prompts on each side, "
                         f"got {len(positive)} and {len(negative)}")
    feats = pooled_hidden_states(model, tokenizer, list(positive) + list(negative), template)
    y = np.array([1] * len(positive) + [0] * len(negative))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    probe = _linear_probe()
    return [float(cross_val_score(probe, layer, y, cv=cv).mean()) for layer in feats]


def held_out_probe(model, tokenizer, train: tuple[Sequence[str], Sequence[str]],
                   test: tuple[Sequence[str], Sequence[str]], template="chat", max_fpr: float = 0.2,
                   C: float = 0.1) -> list[dict]:
    """Per layer, a logistic-regression probe fit on ``train`` and scored on held-out ``test`` prompts.

    ``train`` and ``test`` are ``(positive, negative)`` prompt lists. Each row: ``layer`` (0: the embeddings),
    ``auc`` and ``caught``, the :class:`~ftsafety.metrics.Rate` of test positives the probe flags when it may flag
    at most ``max_fpr`` of the test negatives, and ``flagged``, the share of negatives it then flags. ``cv_auc`` is
    the AUC of a 5-fold cross-validation on ``train`` alone: pick a layer by it, since the best layer by a test
    number flatters the probe. With positives harmful and negatives safe-but-scary prompts, ``caught`` at
    ``max_fpr=0.2`` is the refusal rate a perfect read-out of that layer would reach at 20% over-refusal: the
    ceiling the model's own representations set.
    """
    import numpy as np
    from sklearn.metrics import roc_auc_score, roc_curve
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from .metrics import Rate

    for split, (pos, neg) in (("train", train), ("test", test)):
        if len(pos) < 2 or len(neg) < 2:
            raise ValueError(f"the probe's {split} set needs at least two prompts on each side, "
                             f"got {len(pos)} and {len(neg)}")
    prompts = [*train[0], *train[1], *test[0], *test[1]]
    feats = pooled_hidden_states(model, tokenizer, prompts, template)
    n_train = len(train[0]) + len(train[1])
    y_train = np.array([1] * len(train[0]) + [0] * len(train[1]))
    y_test = np.array([1] * len(test[0]) + [0] * len(test[1]))
    folds = StratifiedKFold(min(5, len(train[0]), len(train[1])), shuffle=True, random_state=0)
    rows = []
    for layer, x in enumerate(feats):
        probe = _linear_probe(C)
        cv_auc = float(cross_val_score(probe, x[:n_train], y_train, cv=folds, scoring="roc_auc").mean())
        probe.fit(x[:n_train], y_train)
        score = probe.decision_function(x[n_train:])
        fpr, tpr, _ = roc_curve(y_test, score)
        best = int(np.flatnonzero(fpr <= max_fpr)[np.argmax(tpr[fpr <= max_fpr])])
        rows.append({"layer": layer, "cv_auc": cv_auc, "auc": float(roc_auc_score(y_test, score)),
                     "caught": Rate(int(round(tpr[best] * len(test[0]))), len(test[0])),
                     "flagged": float(fpr[best])})
    return rows


def response_logps(model, tokenizer, prompts: Sequence[str], responses: Sequence[str], template="chat",
                   batch_size: int = 16, with_counts: bool = False) -> list:
    """Summed log-probability of each response given its rendered prompt (with ``with_counts``: (sum, tokens) pairs).

    Sequences are batched in order of length, so a batch carries little padding, and the vocabulary's logits are
    computed only from the first answer token of the batch onwards (``logits_to_keep``, which transformers' causal LMs
    take): the prompt's positions predict no answer token. Results come back in the order given.
    """
    import torch

    tpl = get_template(template)
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    rendered = [tpl.render(tokenizer, p) for p in prompts]
    ids = [tokenizer(p + tpl.completion(r), add_special_tokens=False).input_ids for p, r in zip(rendered, responses)]
    starts = [len(tokenizer(p, add_special_tokens=False).input_ids) for p in rendered]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out: list = [None] * len(ids)
    for i in range(0, len(order), batch_size):
        batch = order[i : i + batch_size]
        n = max(len(ids[b]) for b in batch)
        x = torch.tensor([ids[b] + [pad] * (n - len(ids[b])) for b in batch], device=device)
        att = torch.arange(n, device=device)[None, :] < torch.tensor([len(ids[b]) for b in batch], device=device)[:, None]
        first = max(min(starts[b] for b in batch) - 1, 0)  # the first position that predicts an answer token
        with torch.inference_mode():
            logits = model(input_ids=x, attention_mask=att.long(), logits_to_keep=n - first).logits
            logits = logits[:, -(n - first):][:, :-1].float()  # positions first .. n-2 predict tokens first+1 .. n-1
            tok = logits.gather(-1, x[:, first + 1 :, None])[..., 0] - torch.logsumexp(logits, -1)
        for row, b in enumerate(batch):
            total = float(tok[row, starts[b] - 1 - first : len(ids[b]) - 1 - first].sum())
            out[b] = (total, len(ids[b]) - starts[b]) if with_counts else total
    return out


def completion_loss(model, tokenizer, rows: Sequence[dict], template="chat", batch_size: int = 16) -> float:
    """Mean per-token cross-entropy of ``rows``' ``response`` given their ``prompt`` (how likely the model finds it)."""
    scored = response_logps(model, tokenizer, [r["prompt"] for r in rows], [r["response"] for r in rows], template,
                            batch_size, with_counts=True)
    return -sum(s for s, _ in scored) / max(sum(n for _, n in scored), 1)
