"""data_prep: parallel corpora → word positioned samples (WPS) for ML-CTL.

The trainer calls :func:`build_wps_dataset`; ``python -m data_prep`` is the same from the shell.
"""
from data_prep.languages import SUPPORTED_LANGUAGES
from data_prep.pipeline import REPORT_NAME, build_wps_dataset
from data_prep.reading import InputError, PairSpec
from data_prep.segment import segment
from data_prep.word_pairs import WordList
from data_prep.wps import ALIGNERS, output_columns

__all__ = [
    "ALIGNERS",
    "InputError",
    "PairSpec",
    "REPORT_NAME",
    "SUPPORTED_LANGUAGES",
    "WordList",
    "build_wps_dataset",
    "output_columns",
    "segment",
]
