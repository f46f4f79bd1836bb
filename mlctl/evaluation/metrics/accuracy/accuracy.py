"""Accuracy as a local `evaluate` module (the Hub copy is unreachable offline).

Load it by path: ``evaluate.load(str(Path(modeling_mlctl.__file__).parent / "metrics" / "accuracy"))``.
"""
import datasets
import evaluate
import numpy

_DESCRIPTION = "Fraction of predictions equal to their reference, times 100 (XTREME reports percentages)."

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted label ids.
    references (list of int): gold label ids, same length.
Returns:
    accuracy (float): 100 * correct / total.
Example:
    >>> metric = evaluate.load("path/to/accuracy")
    >>> metric.compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0])
    {'accuracy': 75.0}
"""

_CITATION = ""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Accuracy(evaluate.Metric):
    """Percentage of exact matches between predicted and gold label ids."""

    def _info(self):
        label_ids = datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")})
        return evaluate.MetricInfo(description=_DESCRIPTION, citation=_CITATION, inputs_description=_KWARGS_DESCRIPTION,
                                   features=label_ids)

    def _compute(self, predictions, references):
        predictions = numpy.asarray(predictions)
        references = numpy.asarray(references)
        if len(references) == 0:
            raise ValueError("accuracy of an empty set is undefined")
        return {"accuracy": float((predictions == references).mean() * 100.0)}
