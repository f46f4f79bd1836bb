"""The fine-tuned tasks' scores, in percent as XTREME reports them: accuracy (XNLI, PAWS-X) and tagging F1 (POS, NER).

Tagging F1 is XTREME's: its ``evaluate.py`` and ``run_tag.py`` compute ``seqeval.metrics.f1_score`` (default mode)
for both tagging tasks. For IOB2 NER tags that is the usual entity-level F1. For POS tags (``NOUN``, ``VERB``, ...)
seqeval reads the first character as a chunk prefix and the rest as the type, so runs of the same tag merge into one
"chunk"; the number is close to, but not the same as, token accuracy. We keep that definition so numbers match the
XTREME leaderboard and the ML-CTL paper, and report token accuracy beside it.
"""
from __future__ import annotations

import warnings

import numpy as np


def accuracy(predictions, references) -> dict[str, float]:
    """``{"accuracy": 100 * correct / total}`` of predicted label ids against gold ones."""
    if len(references) == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return {"accuracy": float((np.asarray(predictions) == np.asarray(references)).mean() * 100.0)}


def tagging_f1(predictions: list[list[str]], references: list[list[str]]) -> dict[str, float]:
    """seqeval F1, precision and recall (default mode) and token accuracy, in percent, of the predicted tag of every
    word of every sentence against the gold tags (same shape)."""
    import seqeval.metrics

    for index, (predicted, gold) in enumerate(zip(predictions, references)):
        if len(predicted) != len(gold):
            raise ValueError(f"sentence {index}: {len(predicted)} predicted tags for {len(gold)} gold tags")
    n_words = sum(len(gold) for gold in references)
    if n_words == 0:
        raise ValueError("tagging F1 of an empty set is undefined")
    correct = sum(p == g for predicted, gold in zip(predictions, references) for p, g in zip(predicted, gold))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns on every non-IOB tag, i.e. on every POS tag
        f1 = seqeval.metrics.f1_score(references, predictions, zero_division=0)
        precision = seqeval.metrics.precision_score(references, predictions, zero_division=0)
        recall = seqeval.metrics.recall_score(references, predictions, zero_division=0)
    return {"f1": float(f1 * 100.0), "precision": float(precision * 100.0), "recall": float(recall * 100.0),
            "token_accuracy": float(correct * 100.0 / n_words)}
