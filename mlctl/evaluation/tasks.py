"""What XTREME is: its tasks, their languages, label sets and Table-1 columns, its fine-tuning defaults, and the
errors of unusable evaluation data."""
from __future__ import annotations

from dataclasses import dataclass

from data_prep.arguments import DEFAULT_SEED
from data_prep.arguments import arg
from data_prep.arguments import check_numbers
from data_prep.arguments import shared
from data_prep.reading import InputError
from data_prep.tokenizer import MAX_SEQ_LENGTH

TASKS = ("xnli", "pawsx", "udpos", "panx", "bucc2018", "tatoeba")
TAGGING_TASKS = ("udpos", "panx")
RETRIEVAL_TASKS = ("bucc2018", "tatoeba")
#: XTREME's retrieval pooling per task (``--pool_type``): its ``scripts/run_bucc2018.sh`` passes ``--pool_type cls``;
#: ``run_tatoeba.sh`` passes none, so ``third_party/evaluate_retrieval.py``'s default ``mean`` applies.
RETRIEVAL_POOLING = {"bucc2018": "cls", "tatoeba": "mean"}

# Target languages of each task, as in XTREME's evaluate.py (TASK2LANGS).
TASK_LANGUAGES = {
    "xnli": "ar bg de el en es fr hi ru sw th tr ur vi zh".split(),
    "pawsx": "de en es fr ja ko zh".split(),
    "udpos": (
        "af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te th tl tr ur vi yo zh"
    ).split(),
    "panx": (
        "ar he vi id jv ms tl eu ml ta te af nl en de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw yo my "
        "zh kk tr et fi hu"
    ).split(),
    "bucc2018": "de fr ru zh".split(),
    "tatoeba": (
        "ar he vi id jv tl eu ml ta te af nl de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw zh kk tr et fi hu"
    ).split(),
}

# Column of the ML-CTL paper's Table 1 and the metric averaged into it.
TABLE_COLUMNS = {
    "xnli": ("XNLI acc", "accuracy"),
    "pawsx": ("PAWS-X acc", "accuracy"),
    "udpos": ("POS F1", "f1"),
    "panx": ("NER F1", "f1"),
    "bucc2018": ("BUCC F1", "f1"),
    "tatoeba": ("Tatoeba acc", "accuracy"),
}
#: The Hub's task type of each task, for a model card's ``model-index``.
TASK_TYPES = {"xnli": "text-classification", "pawsx": "text-classification", "udpos": "token-classification",
              "panx": "token-classification", "bucc2018": "sentence-similarity", "tatoeba": "sentence-similarity"}

CLASSIFICATION_LABELS = {
    "xnli": ("contradiction", "entailment", "neutral"),  # XTREME's XnliProcessor.get_labels()
    "pawsx": ("0", "1"),
}
TAGGING_LABELS = {
    "udpos": ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
              "SCONJ", "SYM", "VERB", "X"),
    "panx": ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"),
}

# Tatoeba files are named by ISO 639-3 codes; XTREME reports ISO 639-1.
TATOEBA_LANG3 = {
    "af": "afr", "ar": "ara", "bg": "bul", "bn": "ben", "de": "deu", "el": "ell", "es": "spa", "et": "est",
    "eu": "eus", "fa": "pes", "fi": "fin", "fr": "fra", "he": "heb", "hi": "hin", "hu": "hun", "id": "ind",
    "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat", "kk": "kaz", "ko": "kor", "ml": "mal", "mr": "mar",
    "nl": "nld", "pt": "por", "ru": "rus", "sw": "swh", "ta": "tam", "te": "tel", "th": "tha", "tl": "tgl",
    "tr": "tur", "ur": "urd", "vi": "vie", "zh": "cmn",
}
# Config names of google/xtreme's udpos subsets.
UDPOS_HUB_NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "de": "German", "el": "Greek", "en": "English",
    "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
    "kk": "Kazakh", "ko": "Korean", "mr": "Marathi", "nl": "Dutch", "pt": "Portuguese", "ru": "Russian",
    "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "ur": "Urdu",
    "vi": "Vietnamese", "yo": "Yoruba", "zh": "Chinese",
}
HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}
SPLITS = ("train", "dev", "test")


class MissingDataError(InputError):
    """A task, split or language without data; the message names what is missing and where we looked."""


def _trainer_help(name: str) -> str:
    """The help of transformers' `TrainingArguments` flag ``name``: the flags `mlctl-xtreme` shares with
    `mlctl-train` mean what they mean there (their defaults are XTREME's recipe)."""
    from transformers import TrainingArguments

    return TrainingArguments.__dataclass_fields__[name].metadata["help"]


@dataclass
class FineTuningSettings:
    """XTREME's fine-tuning defaults (its ``scripts/train.sh``: lr 2e-5, max length 128, batch 32, 5 epochs for
    classification, 10 for tagging): the one place they are written. ``run_xtreme_tasks.py`` makes a flag of
    every field."""

    learning_rate: float = arg(_trainer_help("learning_rate"), 2e-5, above=0)
    max_seq_length: int = shared("max_seq_length", MAX_SEQ_LENGTH, minimum=3)
    classification_epochs: float = arg("epochs for XNLI and PAWS-X", 5.0, above=0)
    tagging_epochs: float = arg("epochs for POS and NER", 10.0, above=0)
    per_device_train_batch_size: int = arg(_trainer_help("per_device_train_batch_size"), 32, minimum=1)
    per_device_eval_batch_size: int = arg(_trainer_help("per_device_eval_batch_size"), 64, minimum=1)
    weight_decay: float = arg(_trainer_help("weight_decay"), 0.0, minimum=0)
    warmup_steps: int = arg(_trainer_help("warmup_steps"), 0, minimum=0)
    max_steps: int = arg(_trainer_help("max_steps"), -1, minimum=-1)
    max_train_samples: int | None = shared("max_train_samples", minimum=1)
    max_eval_samples: int | None = shared("max_eval_samples", minimum=1)
    seed: int = shared("seed", DEFAULT_SEED, minimum=0)
    mlctl_head: bool = arg(
        "fine-tune an ML-CTL checkpoint with the ML-CTL classifier (mean vector, new head) instead of the default: its "
        "exported backbone (save_backbone) with the encoder family's own head, e.g. BertForSequenceClassification "
        "with its pre-trained pooler, as a plain encoder is fine-tuned", False)

    def __post_init__(self):
        check_numbers(self)
