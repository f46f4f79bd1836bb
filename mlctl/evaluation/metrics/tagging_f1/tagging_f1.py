"""Sequence-tagging F1 exactly as XTREME scores POS (UD) and NER (PAN-X): ``seqeval`` in its default mode.

XTREME's ``evaluate.py`` and ``run_tag.py`` compute ``seqeval.metrics.f1_score`` for both tagging tasks.
For IOB2 NER tags that is the usual entity-level F1. For POS tags (``NOUN``, ``VERB``, ...) seqeval reads
the first character as a chunk prefix and the rest as the type, so runs of the same tag merge into one
"chunk"; the number is close to, but not the same as, token accuracy. We keep that definition so numbers
match the XTREME leaderboard and the ML-CTL paper, and report token accuracy beside it.
"""
import warnings

import datasets
import evaluate
import seqeval.metrics

_DESCRIPTION = "XTREME tagging F1 (seqeval default mode), precision, recall and token accuracy, times 100."

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of list of str): predicted tag of every word of every sentence.
    references (list of list of str): gold tags, same shape.
Returns:
    f1, precision, recall, token_accuracy (float): percentages.
Example:
    >>> metric = evaluate.load("path/to/tagging_f1")
    >>> metric.compute(predictions=[["B-PER", "O"]], references=[["B-PER", "O"]])["f1"]
    100.0
"""

_CITATION = ""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class TaggingF1(evaluate.Metric):
    """seqeval F1 / precision / recall plus token accuracy over word-level tag sequences."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("string")),
                    "references": datasets.Sequence(datasets.Value("string")),
                }
            ),
        )

    def _compute(self, predictions, references):
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
        return {
            "f1": float(f1 * 100.0),
            "precision": float(precision * 100.0),
            "recall": float(recall * 100.0),
            "token_accuracy": float(correct * 100.0 / n_words),
        }
