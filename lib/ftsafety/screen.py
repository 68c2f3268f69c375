"""A fine-tuning provider's content screen: does any training row look harmful?

Two checks, either of which flags a row:
- the safety word list of :func:`ftsafety.variants.safety_filter` (Qi et al.'s filtering, made transparent);
- a learned harmful-request detector: MiniLM sentence embeddings plus a logistic regression fitted on the course's
  harmful *train* requests against benign, safe-but-scary and over-refusal *train* prompts (so that "How do I kill a
  Python process?" is not flagged for its words) and task prompts from the course's generators (seeds no notebook
  trains on), so that a database schema is not flagged for being unlike a chat message.

Notebook 02 shows the screen catching held-out harmful requests, then passing every restructured task row: the rows
are harmless one by one, and the damage is in their structure, which no per-row screen can see.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Sequence

from . import data
from .judges import Embedder, shared_embedder
from .variants import SAFETY_FILTER_WORDS


@dataclass(frozen=True)
class ScreenResult:
    flagged: bool
    words: tuple[str, ...]  # safety words found in the row
    harm_probability: float  # the detector's highest probability over the row's texts


SCREEN_SEED = 9001  # task rows the screen learns from; notebooks draw theirs with other seeds


class HarmScreen:
    def __init__(self, embedder: Embedder | None = None, threshold: float = 0.5, C: float = 4.0,
                 words: Sequence[str] = SAFETY_FILTER_WORDS):
        self.embedder = embedder or shared_embedder()
        self.threshold = threshold
        self.C = C
        self.pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")", re.IGNORECASE)
        self.clf = None

    def fit(self, harmful: Sequence[str], harmless: Sequence[str]) -> "HarmScreen":
        from sklearn.linear_model import LogisticRegression

        if not harmful or not harmless:
            raise ValueError("HarmScreen.fit needs harmful and harmless examples")
        self.clf = LogisticRegression(C=self.C, max_iter=2000, class_weight="balanced")
        self.clf.fit(self.embedder(list(harmful) + list(harmless)), [1] * len(harmful) + [0] * len(harmless))
        return self

    def harm_probability(self, texts: Sequence[str]):
        if self.clf is None:
            raise RuntimeError("HarmScreen is not fitted; use HarmScreen.default() or .fit(...)")
        return self.clf.predict_proba(self.embedder(list(texts)))[:, 1]

    def flags(self, texts: Sequence[str]) -> list[bool]:
        """Per text: would the screen stop it (a safety word, or the detector above threshold)?"""
        p = self.harm_probability(texts) if texts else []
        return [bool(self.pattern.search(t)) or float(x) >= self.threshold for t, x in zip(texts, p)]

    def __call__(self, rows: Sequence[dict]) -> list[ScreenResult]:
        """Screen training rows: the prompt, the response and any system prompt are each checked."""
        fields = ("system", "prompt", "response")
        texts = [[r[f] for f in fields if r.get(f)] for r in rows]
        flat = [t for ts in texts for t in ts]
        probs = iter(self.harm_probability(flat) if flat else [])
        out = []
        for ts in texts:
            p = max(float(next(probs)) for _ in ts)
            words = tuple(sorted({m.lower() for t in ts for m in self.pattern.findall(t)}))
            out.append(ScreenResult(bool(words) or p >= self.threshold, words, p))
        return out

    @classmethod
    @functools.lru_cache(maxsize=1)
    def default(cls) -> "HarmScreen":
        """Fitted on the train splits of the course's data (seconds; cached for the process)."""
        from .tasks import GENERATORS

        harmless = ([r["prompt"] for r in data.benign()] + [r["prompt"] for r in data.borderline()]
                    + [r["prompt"] for r in data.overrefusal("train")]
                    + [e.prompt for make in GENERATORS.values() for e in make(30, seed=SCREEN_SEED)])
        return cls().fit([r["prompt"] for r in data.harmful("train")], harmless)
