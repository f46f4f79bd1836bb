#!/usr/bin/env python
"""Zero-shot XTREME evaluation of any encoder checkpoint: XNLI, PAWS-X, POS, NER, BUCC and Tatoeba.

    python run_xtreme_tasks.py --model_name_or_path CKPT --tasks all --data_dir download --output_dir OUT

The protocol is XTREME's: classification (XNLI, PAWS-X) and tagging (UD POS, PAN-X NER) fine-tune on
English with the Trainer, keep the checkpoint that is best on English dev and evaluate every target
language; retrieval (BUCC 2018, Tatoeba) uses no fine-tuning and compares mean-pooled
``hidden_states[layer]`` by cosine similarity through faiss. Results go to ``OUT/results.json``, a
Markdown table in the layout of the ML-CTL paper's Table 1 is printed at the end, and
:func:`model_index_results` turns ``results.json`` into ``model-index`` entries for a model card.

Data come from ``--data_dir`` in the layout of XTREME's ``scripts/download_data.sh`` (``xnli/``,
``pawsx/``, ``udpos/``, ``panx/``, ``bucc2018/``, ``tatoeba/``), from single files given with
``--data_file TASK:SPLIT:LANG=PATH`` (CoNLL-U for POS, XTREME tsv for the rest), or from the Hugging
Face Hub when online. A task or language without data is reported and skipped; the others still run.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import shlex
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

import modeling_mlctl  # registers the ML-CTL Auto classes

logger = logging.getLogger("run_xtreme_tasks")

TASKS = ("xnli", "pawsx", "udpos", "panx", "bucc2018", "tatoeba")
TAGGING_TASKS = ("udpos", "panx")
RETRIEVAL_TASKS = ("bucc2018", "tatoeba")

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
METRICS_DIR = Path(modeling_mlctl.__file__).resolve().parent / "metrics"
DEFAULT_RETRIEVAL_LAYER = 8  # hidden_states[8] == XTREME's --specific_layer 7 (it skips the embedding output)
MISSING_WORD_TAG = "<no-prediction>"
# Model outputs the Trainer must not gather at evaluation (ML-CTL heads always return hidden_states).
IGNORED_OUTPUTS = ["hidden_states", "attentions"]


class XtremeDataError(Exception):
    """Unusable evaluation data; the message is one line naming the file, the line and the problem."""


class MissingDataError(XtremeDataError):
    """A task, split or language without data; the message names what is missing and where we looked."""


# --------------------------------------------------------------------------------------------- data


@dataclass
class SentencePairs:
    """Classification examples: two sentences and a label name per example."""

    sentence1: list[str]
    sentence2: list[str]
    labels: list[str]
    source: str


@dataclass
class TaggedSentences:
    """Tagging examples: the words of each sentence and one tag per word."""

    tokens: list[list[str]]
    tags: list[list[str]]
    source: str


@dataclass
class BuccCorpus:
    """One BUCC 2018 split: source and English sentences with their ids, and gold ``(src_id, en_id)`` pairs."""

    src_ids: list[str]
    src_sentences: list[str]
    en_ids: list[str]
    en_sentences: list[str]
    gold: set[tuple[str, str]] | None
    source: str


def _read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 text file without their line ends; an undecodable byte is a one-line error."""
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise XtremeDataError(f"{path}: not UTF-8 ({error.reason} at byte {error.start})") from None


def read_sentence_pair_tsv(path: Path, raw_paws: bool = False) -> list[list[str]]:
    """Rows ``[sentence1, sentence2]`` or ``[sentence1, sentence2, label]`` of a classification file.

    Processed XTREME files (``xnli/train-en.tsv``, ``pawsx/dev-de.tsv``) are written by ``csv.writer``
    and read with its quoting; XTREME's test files have no label column. Raw PAWS-X files
    (``pawsx/en/train.tsv``: a header, then ``id<TAB>sentence1<TAB>sentence2<TAB>label``) are read
    verbatim with ``raw_paws=True``. Every row must have as many fields as the first.
    """
    rows, width = [], None
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE if raw_paws else csv.QUOTE_MINIMAL)
        try:
            for row in reader:
                if raw_paws:
                    if reader.line_num == 1:
                        continue
                    row = row[1:]
                if not row:
                    continue
                width = width or len(row)
                if len(row) != width or width not in (2, 3):
                    raise XtremeDataError(
                        f"{path}:{reader.line_num}: expected {width if width in (2, 3) else '2 or 3'} tab-separated "
                        f"fields (sentence1, sentence2[, label]), found {len(row)}"
                    )
                rows.append(row)
        except UnicodeDecodeError as error:
            raise XtremeDataError(f"{path}: not UTF-8 ({error.reason})") from None
        except csv.Error as error:
            raise XtremeDataError(f"{path}:{reader.line_num}: {error}") from None
    return rows


def _blank_line_blocks(path: Path) -> Iterator[list[tuple[int, str]]]:
    """The numbered lines of a file, grouped into the blocks that blank lines separate (one sentence each in the
    tagging formats)."""
    block = []
    for line_number, line in enumerate(_read_lines(path), start=1):
        if line.strip():
            block.append((line_number, line))
        elif block:
            yield block
            block = []
    if block:
        yield block


def read_tagging_tsv(path: Path) -> tuple[list[list[str]], list[list[str]] | None]:
    """Sentences of an XTREME tagging file: ``word<TAB>tag`` per line, a blank line between sentences.

    Returns ``(tokens, tags)``; ``tags`` is ``None`` for XTREME's unlabelled test files (one word per line).
    """
    tokens, tags = [], []
    fields_per_line = None
    for block in _blank_line_blocks(path):
        sentence, sentence_tags = [], []
        for line_number, line in block:
            fields = line.split("\t")
            if len(fields) not in (1, 2) or (fields_per_line is not None and len(fields) != fields_per_line):
                expected = "1 or 2" if fields_per_line is None else str(fields_per_line)
                raise XtremeDataError(
                    f"{path}:{line_number}: expected {expected} tab-separated fields, found {len(fields)}"
                )
            fields_per_line = len(fields)
            sentence.append(fields[0].strip())
            sentence_tags.append(fields[1].strip() if len(fields) == 2 else "")
        tokens.append(sentence)
        tags.append(sentence_tags)
    return tokens, (tags if fields_per_line == 2 else None)


def read_conllu(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    """Words (column 2) and UPOS tags (column 4) of a CoNLL-U file; multiword-token and empty-node lines skipped."""
    tokens, tags = [], []
    for block in _blank_line_blocks(path):
        sentence, sentence_tags = [], []
        for line_number, line in block:
            if line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 10:
                raise XtremeDataError(
                    f"{path}:{line_number}: expected 10 tab-separated CoNLL-U fields, found {len(fields)}"
                )
            if "-" in fields[0] or "." in fields[0]:
                continue
            if fields[3] == "_":
                raise XtremeDataError(f"{path}:{line_number}: word {fields[1]!r} has no UPOS tag (column 4 is '_')")
            sentence.append(fields[1])
            sentence_tags.append(fields[3])
        if sentence:
            tokens.append(sentence)
            tags.append(sentence_tags)
    return tokens, tags


def read_tag_labels(path: Path) -> list[list[str]]:
    """Gold tags in XTREME's label-folder format: one tag per line, a blank line between sentences."""
    return [[line.strip() for _, line in block] for block in _blank_line_blocks(path)]


def read_bucc_file(path: Path) -> tuple[list[str], list[str]]:
    """Ids and sentences of a BUCC 2018 ``*.{src,en}`` file: ``id<TAB>sentence`` per line."""
    ids, sentences = [], []
    for line_number, line in enumerate(_read_lines(path), start=1):
        fields = line.split("\t")
        if len(fields) != 2:
            raise XtremeDataError(f"{path}:{line_number}: expected 'id<TAB>sentence', found {len(fields)} fields")
        ids.append(fields[0].strip())
        sentences.append(fields[1].strip())
    return ids, sentences


def read_bucc_gold(path: Path) -> set[tuple[str, str]]:
    """Gold pairs of a BUCC 2018 ``*.gold`` file: ``src_id<TAB>en_id`` per line."""
    gold = set()
    for line_number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise XtremeDataError(f"{path}:{line_number}: expected 'src_id<TAB>en_id', found {len(fields)} fields")
        gold.add((fields[0].strip(), fields[1].strip()))
    return gold


def parse_data_file_overrides(specs: list[str]) -> dict[tuple[str, str, str], Path]:
    """``TASK:SPLIT:LANG=PATH`` strings as a ``{(task, split, lang): path}`` dict."""
    overrides = {}
    for spec in specs:
        key, separator, path = spec.partition("=")
        parts = key.split(":")
        if not separator or len(parts) != 3 or parts[0] not in TASKS or parts[1] not in SPLITS or not path:
            raise XtremeDataError(
                f"--data_file {spec!r}: expected TASK:SPLIT:LANG=PATH with TASK in {','.join(TASKS)} "
                f"and SPLIT in {','.join(SPLITS)}"
            )
        overrides[(parts[0], parts[1], parts[2])] = Path(path)
    return overrides


class XtremeData:
    """Finds and reads the data of every task: ``--data_file`` overrides, then ``--data_dir``, then the Hub."""

    def __init__(self, data_dir=None, labels_dir=None, overrides=None, use_hub=True):
        self.data_dir = Path(data_dir) if data_dir else None
        self.labels_dir = Path(labels_dir) if labels_dir else None
        self.overrides = overrides or {}
        self.use_hub = use_hub and os.environ.get("HF_HUB_OFFLINE", "").upper() not in ("1", "ON", "YES", "TRUE")

    def _locate(self, task: str, split: str, lang: str, candidates: list[str]) -> list[Path]:
        """The ``--data_file`` override, else the files of the first pattern of ``candidates`` (globs under
        ``data_dir``) that matches anything; empty when nothing does."""
        override = self.overrides.get((task, split, lang))
        if override is not None:
            if not override.is_file():
                raise MissingDataError(f"{task}: --data_file {task}:{split}:{lang}={override}: no such file")
            return [override]
        for pattern in candidates if self.data_dir is not None else []:
            found = sorted(path for path in self.data_dir.glob(pattern) if path.is_file())
            if found:
                return found
        return []

    def _missing(self, task: str, split: str, lang: str, candidates: list[str], hub_error: str = "") -> MissingDataError:
        """A one-line message naming the missing split and every place that was searched."""
        looked = ", ".join(str(self.data_dir / pattern) for pattern in candidates) if self.data_dir else "no --data_dir"
        hub = f"; Hub: {hub_error}" if hub_error else ("; Hub: offline" if not self.use_hub else "")
        return MissingDataError(f"{task}: no {split} data for '{lang}' (looked in {looked}{hub}); "
                                f"add it or pass --data_file {task}:{split}:{lang}=PATH")

    def _from_hub(self, task, split, lang, candidates, load):
        """Run ``load()`` (a ``datasets`` call) or explain why the split is unavailable."""
        if not self.use_hub:
            raise self._missing(task, split, lang, candidates)
        import datasets

        try:
            return load(datasets)
        except Exception as error:  # any Hub failure means "this split is not available"
            raise self._missing(task, split, lang, candidates, f"{type(error).__name__}: {error}".splitlines()[0])

    def sentence_pairs(self, task: str, split: str, lang: str) -> SentencePairs:
        """XNLI / PAWS-X examples of one split and language, labels checked against the task's label set."""
        raw_paws = {"train": "train", "dev": "dev_2k", "test": "test_2k"}[split]
        candidates = [f"{task}/{split}-{lang}.tsv"] + ([f"pawsx/{lang}/{raw_paws}.tsv"] if task == "pawsx" else [])
        found = self._locate(task, split, lang, candidates)
        if not found:
            return self._from_hub(task, split, lang, candidates, lambda datasets: self._hub_pairs(datasets, task, split, lang))
        path = found[0]
        rows = read_sentence_pair_tsv(path, raw_paws=task == "pawsx" and path.parent.name == lang)
        if rows and len(rows[0]) == 2:
            rows = self._attach_test_labels(task, lang, path, rows)
        label_set = CLASSIFICATION_LABELS[task]
        for line_number, row in enumerate(rows, start=1):
            row[2] = row[2].strip()
            if task == "xnli" and row[2] == "contradictory":
                row[2] = "contradiction"  # XNLI's raw files spell it this way; XTREME renames it
            if row[2] not in label_set:
                raise XtremeDataError(f"{path}: example {line_number}: label {row[2]!r} is not one of {', '.join(label_set)}")
        return SentencePairs([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], str(path))

    def _attach_test_labels(self, task: str, lang: str, path: Path, rows: list[list]) -> list[list]:
        """XTREME strips test labels; take them from ``--labels_dir/TASK/test-LANG.tsv`` (one label per line)."""
        label_path = self.labels_dir / task / f"test-{lang}.tsv" if self.labels_dir else None
        if label_path is None or not label_path.is_file():
            where = label_path if label_path else "no --labels_dir"
            raise MissingDataError(f"{task}: {path} has no labels (XTREME strips test labels) and no label file "
                                   f"({where}); pass --labels_dir or --data_file {task}:test:{lang}=LABELLED_FILE")
        labels = [line.strip() for line in _read_lines(label_path) if line.strip()]
        if len(labels) != len(rows):
            raise XtremeDataError(f"{label_path}: {len(labels)} labels for {len(rows)} examples in {path}")
        return [row + [label] for row, label in zip(rows, labels)]

    @staticmethod
    def _hub_pairs(datasets, task: str, split: str, lang: str) -> SentencePairs:
        """XNLI from ``facebook/xnli``, PAWS-X from ``google-research-datasets/paws-x``."""
        if task == "xnli":
            data = datasets.load_dataset("facebook/xnli", lang, split=HUB_SPLITS[split])
            names = data.features["label"].names
            return SentencePairs(list(data["premise"]), list(data["hypothesis"]),
                                 [names[i] for i in data["label"]], f"facebook/xnli:{lang}:{HUB_SPLITS[split]}")
        data = datasets.load_dataset("google-research-datasets/paws-x", lang, split=HUB_SPLITS[split])
        return SentencePairs(list(data["sentence1"]), list(data["sentence2"]), [str(i) for i in data["label"]],
                             f"google-research-datasets/paws-x:{lang}:{HUB_SPLITS[split]}")

    def tagged_sentences(self, task: str, split: str, lang: str) -> TaggedSentences:
        """UD POS / PAN-X NER sentences of one split and language (XTREME tsv, or CoNLL-U for POS)."""
        candidates = [f"{task}/{split}-{lang}.tsv"]
        if task == "udpos":
            candidates.append(f"udpos/**/{lang}_*-ud-{split}.conllu")
        found = self._locate(task, split, lang, candidates)
        if not found:
            return self._from_hub(task, split, lang, candidates, lambda datasets: self._hub_tags(datasets, task, split, lang))
        tokens, tags = [], []
        for path in found:  # a language may have several UD treebanks; XTREME concatenates them
            file_tokens, file_tags = read_conllu(path) if path.suffix == ".conllu" else read_tagging_tsv(path)
            if file_tags is None:
                file_tags = self._test_tags(task, lang, path, file_tokens)
            tokens += file_tokens
            tags += file_tags
        source = ", ".join(str(path) for path in found)
        if split != "test":
            allowed = set(TAGGING_LABELS[task])
            for index, sentence_tags in enumerate(tags):
                unknown = set(sentence_tags) - allowed
                if unknown:
                    raise XtremeDataError(f"{source}: sentence {index + 1}: tag(s) {', '.join(sorted(unknown))} "
                                          f"not in the {task} tag set {', '.join(TAGGING_LABELS[task])}")
        return TaggedSentences(tokens, tags, source)

    def _test_tags(self, task: str, lang: str, path: Path, tokens: list[list[str]]) -> list[list[str]]:
        """Gold tags for an unlabelled XTREME test file, from ``--labels_dir/TASK/test-LANG.tsv``."""
        label_path = self.labels_dir / task / f"test-{lang}.tsv" if self.labels_dir else None
        if label_path is None or not label_path.is_file():
            where = label_path if label_path else "no --labels_dir"
            raise MissingDataError(f"{task}: {path} has no tags (XTREME strips test labels) and no label file "
                                   f"({where}); pass --labels_dir or --data_file {task}:test:{lang}=LABELLED_FILE")
        tags = read_tag_labels(label_path)
        lengths = [len(s) for s in tokens]
        if [len(s) for s in tags] != lengths:
            raise XtremeDataError(f"{label_path}: sentence lengths do not match the words of {path}")
        return tags

    @staticmethod
    def _hub_tags(datasets, task: str, split: str, lang: str) -> TaggedSentences:
        """UD POS and PAN-X from ``google/xtreme`` (``udpos.<Language>``, ``PAN-X.<lang>``)."""
        config, column = (f"udpos.{UDPOS_HUB_NAMES[lang]}", "pos_tags") if task == "udpos" else (f"PAN-X.{lang}", "ner_tags")
        data = datasets.load_dataset("google/xtreme", config, split=HUB_SPLITS[split])
        names = data.features[column].feature.names
        return TaggedSentences([list(t) for t in data["tokens"]], [[names[i] for i in s] for s in data[column]],
                               f"google/xtreme:{config}:{HUB_SPLITS[split]}")

    def tatoeba_pairs(self, lang: str) -> tuple[list[str], list[str], str]:
        """Tatoeba ``(xx sentences, English sentences, source)``; line i of one translates line i of the other."""
        lang3 = TATOEBA_LANG3.get(lang, lang)
        candidates = [f"tatoeba/tatoeba.{lang3}-eng.{lang3}"]
        found = self._locate("tatoeba", "test", lang, candidates)
        if not found:
            def load(datasets):
                data = datasets.load_dataset("google/xtreme", f"tatoeba.{lang3}", split="validation")
                return list(data["source_sentence"]), list(data["target_sentence"]), f"google/xtreme:tatoeba.{lang3}"
            return self._from_hub("tatoeba", "test", lang, candidates, load)
        src_path = found[0]
        en_path = src_path.with_suffix(".eng")  # LASER naming: tatoeba.deu-eng.deu beside tatoeba.deu-eng.eng
        if not en_path.is_file():
            raise MissingDataError(f"tatoeba: {src_path} has no English side {en_path}")
        src, en = _read_lines(src_path), _read_lines(en_path)
        if len(src) != len(en):
            raise XtremeDataError(f"{en_path}: {len(en)} lines but {src_path} has {len(src)}; Tatoeba pairs are line-aligned")
        return src, en, f"{src_path}, {en_path}"

    def bucc_corpus(self, lang: str, split: str) -> BuccCorpus:
        """BUCC 2018 ``{lang}-en.{split}.{lang,en,gold}``; the gold file may be absent for test."""
        candidates = [f"bucc2018/{lang}-en.{split}.{lang}"]
        found = self._locate("bucc2018", split, lang, candidates)
        if not found:
            raise self._missing("bucc2018", split, lang, candidates,
                                "needs the full BUCC corpus, which the Hub copy lacks" if self.use_hub else "")
        src_path = found[0]
        prefix = src_path.name[: -len(lang) - 1]
        en_path, gold_path = src_path.with_name(prefix + ".en"), src_path.with_name(prefix + ".gold")
        if not en_path.is_file():
            raise MissingDataError(f"bucc2018: {src_path} has no English side {en_path}")
        src_ids, src_sentences = read_bucc_file(src_path)
        en_ids, en_sentences = read_bucc_file(en_path)
        gold = read_bucc_gold(gold_path) if gold_path.is_file() else None
        return BuccCorpus(src_ids, src_sentences, en_ids, en_sentences, gold, f"{src_path}, {en_path}")


# ---------------------------------------------------------------------------------------- retrieval


def resolve_layer(num_hidden_states: int, requested: int | None) -> int:
    """The ``hidden_states`` index to embed with: ``requested``, else 8 (XTREME's), else the last one."""
    if requested is None:
        return DEFAULT_RETRIEVAL_LAYER if num_hidden_states > DEFAULT_RETRIEVAL_LAYER else num_hidden_states - 1
    if not -num_hidden_states <= requested < num_hidden_states:
        raise ValueError(f"--layer {requested}: the model returns {num_hidden_states} hidden states "
                         f"(0 = embeddings .. {num_hidden_states - 1} = last layer)")
    return requested % num_hidden_states


@torch.no_grad()
def encode_sentences(model, tokenizer, sentences: list[str], layer: int, batch_size: int = 64,
                     max_length: int = 512, description: str = "encode") -> np.ndarray:
    """Mean of ``hidden_states[layer]`` over all tokens (special tokens included, as XTREME) per sentence.

    Sentences are encoded longest first to keep padding small; rows come back in input order (float32).
    """
    device = next(model.parameters()).device
    order = sorted(range(len(sentences)), key=lambda i: -len(sentences[i]))
    embeddings = None
    for start in tqdm(range(0, len(order), batch_size), desc=description, unit="batch", leave=False):
        batch_indices = order[start:start + batch_size]
        batch = tokenizer([sentences[i] for i in batch_indices], padding=True, truncation=True,
                          max_length=max_length, return_tensors="pt").to(device)
        hidden = model(**batch).hidden_states[layer]
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = ((hidden * mask).sum(dim=1) / mask.sum(dim=1)).float().cpu().numpy()
        if embeddings is None:
            embeddings = np.zeros((len(sentences), pooled.shape[1]), dtype=np.float32)
        embeddings[batch_indices] = pooled
    return embeddings


def _normalized(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (a float32 copy; faiss needs contiguous float32)."""
    import faiss

    matrix = np.ascontiguousarray(matrix, dtype=np.float32).copy()
    faiss.normalize_L2(matrix)
    return matrix


def cosine_knn(queries: np.ndarray, database: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most cosine-similar database rows of every query row: ``(similarities, indices)`` via faiss."""
    import faiss

    database = _normalized(database)
    index = faiss.IndexFlatIP(database.shape[1])
    index.add(database)
    return index.search(_normalized(queries), min(k, database.shape[0]))


def tatoeba_accuracy(xx_embeddings: np.ndarray, en_embeddings: np.ndarray) -> tuple[float, np.ndarray]:
    """XTREME's Tatoeba score: % of xx sentences whose nearest English sentence (cosine) is their translation.

    Returns ``(accuracy, predicted English index per xx sentence)``; row i of each matrix is one pair.
    """
    _, nearest = cosine_knn(xx_embeddings, en_embeddings, k=1)
    predictions = nearest[:, 0]
    return float((predictions == np.arange(len(predictions))).mean() * 100.0), predictions


def mine_candidates(src_embeddings: np.ndarray, trg_embeddings: np.ndarray, k: int = 4):
    """Margin-based bitext mining as in XTREME / LASER: ratio margin, ``k`` neighbours, both directions.

    score(x, y) = cos(x, y) / ((mean cos of x's k nearest y + mean cos of y's k nearest x) / 2).
    Every source sentence proposes its best-scoring target among its k neighbours and every target its
    best source; the proposals are taken greedily by descending score, each sentence used at most once
    (LASER's ``--retrieval max``); as there, only positive scores are kept. Returns
    ``(src_index, trg_index, score)`` arrays, best first.
    """
    fwd_sim, fwd_idx = cosine_knn(src_embeddings, trg_embeddings, k)
    bwd_sim, bwd_idx = cosine_knn(trg_embeddings, src_embeddings, k)
    fwd_mean, bwd_mean = fwd_sim.mean(axis=1), bwd_sim.mean(axis=1)
    fwd_scores = fwd_sim / ((fwd_mean[:, None] + bwd_mean[fwd_idx]) / 2)
    bwd_scores = bwd_sim / ((bwd_mean[:, None] + fwd_mean[bwd_idx]) / 2)
    fwd_best = fwd_scores.argmax(axis=1)
    bwd_best = bwd_scores.argmax(axis=1)
    n_src, n_trg = len(src_embeddings), len(trg_embeddings)
    src_index = np.concatenate([np.arange(n_src), bwd_idx[np.arange(n_trg), bwd_best]])
    trg_index = np.concatenate([fwd_idx[np.arange(n_src), fwd_best], np.arange(n_trg)])
    scores = np.concatenate([fwd_scores[np.arange(n_src), fwd_best], bwd_scores[np.arange(n_trg), bwd_best]])
    order = np.argsort(-scores, kind="stable")
    seen_src, seen_trg, kept = set(), set(), []
    for position in order:
        s, t = int(src_index[position]), int(trg_index[position])
        if s not in seen_src and t not in seen_trg:
            seen_src.add(s)
            seen_trg.add(t)
            if scores[position] > 0:
                kept.append(position)
    kept = np.asarray(kept, dtype=np.int64)
    return src_index[kept], trg_index[kept], scores[kept]


def unique_sentence_ids(ids: list[str], sentences: list[str]) -> tuple[list[str], list[str | None], int]:
    """Distinct sentences and the id of each, ``None`` for a sentence that occurs more than once.

    XTREME embeds each distinct sentence once and drops candidates whose sentence is repeated (its id
    is ambiguous). Returns ``(distinct sentences, id or None per distinct sentence, repeated count)``.
    """
    first_id, count = {}, {}
    for sentence_id, sentence in zip(ids, sentences):
        first_id.setdefault(sentence, sentence_id)
        count[sentence] = count.get(sentence, 0) + 1
    distinct = list(first_id)
    return distinct, [first_id[s] if count[s] == 1 else None for s in distinct], sum(c > 1 for c in count.values())


def bucc_candidates(corpus: BuccCorpus, encode, k: int = 4) -> dict[tuple[str, str], float]:
    """Mined ``(src_id, en_id) -> margin score`` for one BUCC split; ``encode(sentences, name)`` embeds text."""
    src_distinct, src_id_of, src_repeated = unique_sentence_ids(corpus.src_ids, corpus.src_sentences)
    en_distinct, en_id_of, en_repeated = unique_sentence_ids(corpus.en_ids, corpus.en_sentences)
    if src_repeated or en_repeated:
        logger.warning("bucc2018: %d source and %d English sentences occur more than once in %s; their candidates "
                       "are dropped, as in XTREME", src_repeated, en_repeated, corpus.source)
    src_index, en_index, scores = mine_candidates(encode(src_distinct, "src"), encode(en_distinct, "en"), k)
    candidates = {}
    for s, t, score in zip(src_index, en_index, scores):
        if src_id_of[s] is not None and en_id_of[t] is not None:
            candidates[(src_id_of[s], en_id_of[t])] = float(score)
    return candidates


def bucc_f1(predicted: set, gold: set) -> dict[str, float]:
    """XTREME's BUCC score: precision, recall and F1 (percentages) of predicted pairs against gold pairs."""
    correct = len(predicted & gold)
    if correct == 0:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    precision, recall = correct / len(predicted), correct / len(gold)
    return {"precision": 100.0 * precision, "recall": 100.0 * recall,
            "f1": 100.0 * 2 * precision * recall / (precision + recall)}


def optimal_threshold(candidates: dict[tuple[str, str], float], gold: set) -> tuple[float, float]:
    """The score threshold whose extraction ``{pair: score >= threshold}`` has the best F1 on ``gold``.

    Only cuts between distinct scores are considered (tied candidates are all in or all out), the
    highest threshold wins among equal F1s, and the returned value lies midway between the lowest kept
    score and the next lower one, as XTREME does. Returns ``(threshold, F1 in %)``; with no gold pair
    among the candidates the threshold is ``inf`` (extract nothing) and F1 is 0.
    """
    if not candidates or not gold:
        return math.inf, 0.0
    pairs = list(candidates)
    scores = np.fromiter((candidates[p] for p in pairs), dtype=np.float64, count=len(pairs))
    is_gold = np.fromiter((p in gold for p in pairs), dtype=np.float64, count=len(pairs))
    order = np.argsort(-scores, kind="stable")
    scores, is_gold = scores[order], is_gold[order]
    true_positives = np.cumsum(is_gold)
    f1 = 2 * true_positives / (np.arange(1, len(scores) + 1) + len(gold))
    last_of_tie = np.append(scores[1:] != scores[:-1], True)
    f1[~last_of_tie] = -1.0
    best = int(np.argmax(f1))
    if true_positives[best] == 0:
        return math.inf, 0.0
    threshold = (scores[best] + scores[best + 1]) / 2 if best + 1 < len(scores) else scores[best]
    return float(threshold), float(100.0 * f1[best])


def extract_pairs(candidates: dict[tuple[str, str], float], threshold: float) -> set[tuple[str, str]]:
    """Candidate pairs scoring at least ``threshold``."""
    return {pair for pair, score in candidates.items() if score >= threshold}


# ------------------------------------------------------------------------------- fine-tuned tasks


def load_metric(name: str):
    """A metric shipped with the package under ``modeling_mlctl/metrics/<name>/<name>.py``."""
    import evaluate

    return evaluate.load(str(METRICS_DIR / name))


def first_subtoken_labels(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    """Token labels with each word's label on its first sub-token and -100 elsewhere (XTREME's scheme)."""
    labels, previous = [], None
    for word_id in word_ids:
        labels.append(word_labels[word_id] if word_id is not None and word_id != previous else -100)
        previous = word_id
    return labels


def chunk_long_sentences(tokenizer, tokens: list[list[str]], tags: list[list[str]], max_length: int):
    """Split sentences whose sub-tokens exceed ``max_length`` into consecutive chunks, as XTREME does.

    Words that tokenize to nothing become the unknown token (XTREME's rule) so every word keeps a first
    sub-token. Returns ``(chunk words, chunk tags, sentence index of each chunk, replaced word count)``.
    """
    budget = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    flat = [word for sentence in tokens for word in sentence]
    lengths = [len(ids) for ids in tokenizer(flat, add_special_tokens=False)["input_ids"]] if flat else []
    chunk_tokens, chunk_tags, chunk_sentence, replaced, position = [], [], [], 0, 0
    for sentence_index, (sentence, sentence_tags) in enumerate(zip(tokens, tags)):
        current, current_tags, used = [], [], 0
        for word, tag in zip(sentence, sentence_tags):
            length = lengths[position]
            position += 1
            if length == 0:
                word, length, replaced = tokenizer.unk_token, 1, replaced + 1
            if current and used + length > budget:
                chunk_tokens.append(current)
                chunk_tags.append(current_tags)
                chunk_sentence.append(sentence_index)
                current, current_tags, used = [], [], 0
            current.append(word)
            current_tags.append(tag)
            used += length
        chunk_tokens.append(current)
        chunk_tags.append(current_tags)
        chunk_sentence.append(sentence_index)
    return chunk_tokens, chunk_tags, chunk_sentence, replaced


@dataclass
class TrainingSettings:
    """XTREME's fine-tuning defaults; every field has a command-line flag."""

    learning_rate: float = 2e-5
    max_seq_length: int = 128
    classification_epochs: float = 5.0
    tagging_epochs: float = 10.0
    train_batch_size: int = 32
    eval_batch_size: int = 64
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_steps: int = -1
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    seed: int = 42


def _first(items: list, limit: int | None) -> list:
    """The first ``limit`` items (all when ``limit`` is None)."""
    return items if limit is None else items[:limit]


class FineTunedTask:
    """Fine-tune on English, keep the best English-dev checkpoint, score every target language."""

    def __init__(self, task, model_name_or_path, tokenizer, data: XtremeData, settings: TrainingSettings, output_dir: Path):
        self.task, self.model_name_or_path, self.tokenizer = task, model_name_or_path, tokenizer
        self.data, self.settings, self.output_dir = data, settings, output_dir
        self.is_tagging = task in TAGGING_TASKS
        self.labels = TAGGING_LABELS[task] if self.is_tagging else CLASSIFICATION_LABELS[task]
        self.label2id = {label: i for i, label in enumerate(self.labels)}
        self.metric = load_metric("tagging_f1" if self.is_tagging else "accuracy")
        self.trainer = None

    # -- datasets
    def _encode(self, split: str, lang: str, limit: int | None):
        """A tokenized ``datasets.Dataset`` for one split plus what is needed to score it per word/example."""
        import datasets

        max_length = self.settings.max_seq_length
        if not self.is_tagging:
            pairs = self.data.sentence_pairs(self.task, split, lang)
            s1, s2, labels = _first(pairs.sentence1, limit), _first(pairs.sentence2, limit), _first(pairs.labels, limit)
            encoded = self.tokenizer(s1, s2, truncation=True, max_length=max_length)
            encoded["labels"] = [self.label2id[label] for label in labels]
            return datasets.Dataset.from_dict(dict(encoded)), {"labels": labels, "source": pairs.source}
        sentences = self.data.tagged_sentences(self.task, split, lang)
        tokens, tags = _first(sentences.tokens, limit), _first(sentences.tags, limit)
        chunk_tokens, chunk_tags, chunk_sentence, replaced = chunk_long_sentences(self.tokenizer, tokens, tags, max_length)
        if replaced:
            logger.info("%s/%s %s: %d words tokenize to nothing and were replaced by %s", self.task, lang, split,
                        replaced, self.tokenizer.unk_token)
        encoded = self.tokenizer(chunk_tokens, is_split_into_words=True, truncation=True, max_length=max_length)
        label_rows, first_positions = [], []
        for row, row_tags in enumerate(chunk_tags):
            word_ids = encoded.word_ids(row)
            # A test tag outside the tag set cannot be predicted (it is scored as wrong); id 0 only feeds the loss.
            word_labels = [self.label2id.get(tag, 0) for tag in row_tags]
            label_rows.append(first_subtoken_labels(word_ids, word_labels))
            first_positions.append({w: p for p, w in reversed(list(enumerate(word_ids))) if w is not None})
        encoded["labels"] = label_rows
        info = {"tags": tags, "chunk_sentence": chunk_sentence, "chunk_lengths": [len(c) for c in chunk_tokens],
                "first_positions": first_positions, "source": sentences.source}
        return datasets.Dataset.from_dict(dict(encoded)), info

    def _compute_dev_metrics(self, prediction):
        """Dev score for checkpoint selection: accuracy, or tagging F1 over first sub-tokens."""
        logits, label_ids = prediction.predictions, prediction.label_ids
        predicted = np.argmax(logits, axis=-1)
        if not self.is_tagging:
            return self.metric.compute(predictions=predicted, references=label_ids)
        gold_rows, predicted_rows = [], []
        for gold, guess in zip(label_ids, predicted):
            keep = gold != -100
            gold_rows.append([self.labels[i] for i in gold[keep]])
            predicted_rows.append([self.labels[i] for i in guess[keep]])
        return self.metric.compute(predictions=predicted_rows, references=gold_rows)

    # -- training
    def train(self) -> dict:
        """Fine-tune on English train; returns the English dev scores of the kept checkpoint (empty without dev)."""
        from transformers import (AutoModelForSequenceClassification, AutoModelForTokenClassification,
                                  DataCollatorForTokenClassification, DataCollatorWithPadding, Trainer,
                                  TrainingArguments)

        settings = self.settings
        train_set, _ = self._encode("train", "en", settings.max_train_samples)
        try:
            dev_set, _ = self._encode("dev", "en", settings.max_eval_samples)
        except MissingDataError as error:
            logger.warning("%s; keeping the model after the last training step instead of the best dev checkpoint", error)
            dev_set = None
        auto_class = AutoModelForTokenClassification if self.is_tagging else AutoModelForSequenceClassification
        try:
            model = auto_class.from_pretrained(
                self.model_name_or_path, num_labels=len(self.labels),
                id2label=dict(enumerate(self.labels)), label2id=self.label2id,
            )
        except (OSError, ValueError) as error:
            raise XtremeDataError(f"{self.model_name_or_path}: cannot load with {auto_class.__name__}: "
                                  f"{str(error).splitlines()[0]}") from None
        collator = (DataCollatorForTokenClassification if self.is_tagging else DataCollatorWithPadding)(self.tokenizer)
        checkpoint_dir = self.output_dir / f"{self.task}-checkpoints"
        strategy = "epoch" if dev_set is not None else "no"
        arguments = TrainingArguments(
            output_dir=str(checkpoint_dir),
            learning_rate=settings.learning_rate,
            num_train_epochs=settings.tagging_epochs if self.is_tagging else settings.classification_epochs,
            max_steps=settings.max_steps,
            per_device_train_batch_size=settings.train_batch_size,
            per_device_eval_batch_size=settings.eval_batch_size,
            weight_decay=settings.weight_decay,
            warmup_steps=settings.warmup_steps,
            eval_strategy=strategy,
            save_strategy=strategy,
            save_total_limit=1,
            load_best_model_at_end=dev_set is not None,
            metric_for_best_model="f1" if self.is_tagging else "accuracy",
            greater_is_better=True,
            save_only_model=True,
            logging_strategy="epoch",
            report_to="none",
            dataloader_pin_memory=torch.cuda.is_available(),
            seed=settings.seed,
        )
        self.trainer = Trainer(model=model, args=arguments, train_dataset=train_set, eval_dataset=dev_set,
                               data_collator=collator, processing_class=self.tokenizer,
                               compute_metrics=self._compute_dev_metrics)
        self.trainer.train(ignore_keys_for_eval=IGNORED_OUTPUTS)
        shutil.rmtree(checkpoint_dir, ignore_errors=True)  # the best model is loaded; checkpoints are spent
        if dev_set is None:
            return {}
        scores = self.trainer.evaluate(dev_set, ignore_keys=IGNORED_OUTPUTS)
        return {key.removeprefix("eval_"): value for key, value in scores.items()
                if key.removeprefix("eval_") in ("accuracy", "f1", "precision", "recall", "token_accuracy")}

    def evaluate(self, lang: str, predictions_dir: Path) -> dict:
        """Scores on the test split of ``lang``; writes predictions in XTREME's format to ``predictions_dir``."""
        dataset, info = self._encode("test", lang, self.settings.max_eval_samples)
        logits = self.trainer.predict(dataset, ignore_keys=IGNORED_OUTPUTS).predictions
        predicted = np.argmax(logits, axis=-1)
        predictions_dir.mkdir(parents=True, exist_ok=True)
        prediction_file = predictions_dir / f"test-{lang}.tsv"
        if not self.is_tagging:
            predicted_labels = [self.labels[i] for i in predicted]
            prediction_file.write_text("".join(f"{label}\n" for label in predicted_labels), encoding="utf-8")
            scores = self.metric.compute(predictions=[self.label2id[p] for p in predicted_labels],
                                         references=[self.label2id[g] for g in info["labels"]])
            return {**scores, "n_examples": len(predicted_labels), "source": info["source"]}
        sentences_predicted = [[] for _ in info["tags"]]
        lost = 0
        for row, (sentence_index, n_words) in enumerate(zip(info["chunk_sentence"], info["chunk_lengths"])):
            positions = info["first_positions"][row]
            for word in range(n_words):
                if word in positions:
                    sentences_predicted[sentence_index].append(self.labels[predicted[row][positions[word]]])
                else:
                    sentences_predicted[sentence_index].append(MISSING_WORD_TAG)
                    lost += 1
        if lost:
            logger.warning("%s/%s: %d words fell past --max_seq_length after tokenization; scored as errors",
                           self.task, lang, lost)
        prediction_file.write_text("".join("".join(f"{t}\n" for t in s) + "\n" for s in sentences_predicted),
                                   encoding="utf-8")
        scores = self.metric.compute(predictions=sentences_predicted, references=info["tags"])
        return {**scores, "n_sentences": len(sentences_predicted), "n_words": sum(map(len, info["tags"])),
                "n_words_truncated": lost, "source": info["source"]}


# ---------------------------------------------------------------------------------------- reporting


def summarize_task(task: str, per_language: dict[str, dict]) -> float | None:
    """The task's Table 1 number: the mean of its metric over the evaluated languages (None if none)."""
    metric = TABLE_COLUMNS[task][1]
    values = [scores[metric] for scores in per_language.values()]
    return float(np.mean(values)) if values else None


def markdown_table(results: dict) -> str:
    """One row in the layout of the ML-CTL paper's Table 1; tasks without a score show a dash."""
    header = "| model | " + " | ".join(column for column, _ in TABLE_COLUMNS.values()) + " |"
    cells = []
    for task in TABLE_COLUMNS:
        average = results["tasks"].get(task, {}).get("average")
        cells.append("–" if average is None else f"{average:.1f}")
    return "\n".join([header, "|" + "---|" * (len(TABLE_COLUMNS) + 1),
                      f"| {results['model']} | " + " | ".join(cells) + " |"])


def describe_model(model_name_or_path: str) -> dict:
    """Type, depth and width of the checkpoint (the backbone's, for ML-CTL), for the record."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_name_or_path)
    backbone = getattr(config, "encoder_config", None) or config
    backbone = backbone if not isinstance(backbone, dict) else argparse.Namespace(**backbone)
    return {"model_type": config.model_type, "num_hidden_layers": getattr(backbone, "num_hidden_layers", None),
            "hidden_size": getattr(backbone, "hidden_size", None)}


def markdown_report(results: dict) -> str:
    """Table 1 row, per-language scores and wall time per task, for a results/*.md note."""
    model = results["model_config"]
    lines = [f"# XTREME zero-shot results: `{results['model']}`", "",
             f"Command: `{results['command']}`", "",
             f"Model: {model['model_type']}, {model['num_hidden_layers']} layers, hidden size {model['hidden_size']}"
             + (f"; retrieval on hidden_states[{results['retrieval_layer']}]" if "retrieval_layer" in results else ""),
             "", markdown_table(results), ""]
    lines += ["| task | metric | average | languages | wall time (s) |", "|---|---|---|---|---|"]
    for task, entry in results["tasks"].items():
        average = "–" if entry.get("average") is None else f"{entry['average']:.2f}"
        languages = ", ".join(f"{lang} {scores[TABLE_COLUMNS[task][1]]:.2f}" for lang, scores in entry["languages"].items())
        lines.append(f"| {task} | {TABLE_COLUMNS[task][1]} | {average} | {languages or '–'} | {entry['wall_time_s']:.1f} |")
    problems = [f"- {task}: {message}" for task, entry in results["tasks"].items()
                for message in entry.get("missing", []) + entry.get("errors", [])]
    if problems:
        lines += ["", "Missing or unusable data:", *problems]
    return "\n".join(lines) + "\n"


def model_index_results(results_json, per_language: bool = False) -> list:
    """``huggingface_hub.EvalResult`` entries for a model card's ``model-index`` from ``results.json``.

    ``results_json`` is the path of a ``results.json`` written by this script or its loaded dict. One
    entry per task average (the Table 1 numbers), plus one per language when ``per_language``.
    """
    from huggingface_hub import EvalResult

    results = results_json if isinstance(results_json, dict) else json.loads(Path(results_json).read_text(encoding="utf-8"))
    task_types = {"xnli": "text-classification", "pawsx": "text-classification", "udpos": "token-classification",
                  "panx": "token-classification", "bucc2018": "sentence-similarity", "tatoeba": "sentence-similarity"}
    entries = []
    for task, entry in results["tasks"].items():
        column, metric = TABLE_COLUMNS[task]
        rows = [(None, entry.get("average"))]
        if per_language:
            rows += [(lang, scores[metric]) for lang, scores in entry["languages"].items()]
        for lang, value in rows:
            if value is None:
                continue
            entries.append(EvalResult(
                task_type=task_types[task], task_name=f"XTREME {task} (zero-shot from English)",
                dataset_type="google/xtreme", dataset_name=f"XTREME {task}" + (f" ({lang})" if lang else ""),
                dataset_config=f"{task}.{lang}" if lang else task, dataset_split="test",
                metric_type=metric, metric_name=column if lang is None else f"{column} ({lang})",
                metric_value=round(float(value), 2),
            ))
    return entries


# ----------------------------------------------------------------------------------------------- t-SNE


def read_word_lists(directory: Path, languages: list[str], n_words: int) -> list[list[str]]:
    """``n_words`` meanings present in every ``{lang}_uni.txt`` (line i is one meaning in each language)."""
    columns = []
    for lang in languages:
        path = directory / f"{lang}_uni.txt"
        if not path.is_file():
            raise MissingDataError(f"tsne: no word list {path}")
        columns.append(_read_lines(path))
    if len({len(c) for c in columns}) != 1:
        raise XtremeDataError(f"tsne: word lists in {directory} differ in length: "
                              + ", ".join(f"{lang} {len(c)}" for lang, c in zip(languages, columns)))
    rows = [list(row) for row in zip(*columns) if all(word.strip() for word in row)]
    return rows[:n_words]


def draw_tsne(model, tokenizer, word_rows: list[list[str]], languages: list[str], layer: int, path: Path,
              seed: int = 42) -> np.ndarray:
    """The paper's Figure 3: t-SNE of word embeddings, one colour per meaning, one marker per language.

    Each word is encoded alone and pooled over its tokens at ``hidden_states[layer]``. Returns the 2-D
    points, row ``meaning * len(languages) + language``, and writes a PNG to ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    words = [word for row in word_rows for word in row]
    embeddings = encode_sentences(model, tokenizer, words, layer, description="tsne words")
    perplexity = float(min(30, max(2, len(words) // 4), len(words) - 1))
    points = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(embeddings)
    figure, axes = plt.subplots(figsize=(8, 8))
    colours = plt.get_cmap("tab20")
    markers = "osD^v<>p*hX"
    for meaning, row in enumerate(word_rows):
        for lang_index, word in enumerate(row):
            x, y = points[meaning * len(languages) + lang_index]
            axes.scatter(x, y, color=colours(meaning % 20), marker=markers[lang_index % len(markers)], s=60)
            axes.annotate(word, (x, y), fontsize=7, alpha=0.8)
    for lang_index, lang in enumerate(languages):
        axes.scatter([], [], color="grey", marker=markers[lang_index % len(markers)], label=lang)
    axes.legend(title="language", loc="best")
    axes.set_title(f"t-SNE of word embeddings, hidden_states[{layer}]: colour = meaning")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return points


# ------------------------------------------------------------------------------------------------ main


def build_parser() -> argparse.ArgumentParser:
    """Command-line flags; the fine-tuning defaults are XTREME's."""
    defaults = TrainingSettings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model_name_or_path", required=True, help="ML-CTL checkpoint or any Hugging Face encoder")
    parser.add_argument("--tasks", default="all", help=f"comma-separated subset of {','.join(TASKS)}, or 'all'")
    parser.add_argument("--output_dir", default="outputs/xtreme")
    parser.add_argument("--data_dir", help="directory in the layout of XTREME's download_data.sh")
    parser.add_argument("--labels_dir", help="XTREME label folder (TASK/test-LANG.tsv) for unlabelled test files")
    parser.add_argument("--data_file", action="append", default=[], metavar="TASK:SPLIT:LANG=PATH",
                        help="use this file for one split, e.g. udpos:train:en=en_ewt-ud-train.conllu (repeatable)")
    parser.add_argument("--languages", help="comma-separated target languages for every task (default: XTREME's)")
    parser.add_argument("--no_hub", action="store_true", help="never fall back to the Hugging Face Hub")
    parser.add_argument("--learning_rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--max_seq_length", type=int, default=defaults.max_seq_length)
    parser.add_argument("--classification_epochs", type=float, default=defaults.classification_epochs)
    parser.add_argument("--tagging_epochs", type=float, default=defaults.tagging_epochs)
    parser.add_argument("--per_device_train_batch_size", type=int, default=defaults.train_batch_size)
    parser.add_argument("--per_device_eval_batch_size", type=int, default=defaults.eval_batch_size)
    parser.add_argument("--weight_decay", type=float, default=defaults.weight_decay)
    parser.add_argument("--warmup_steps", type=int, default=defaults.warmup_steps)
    parser.add_argument("--max_steps", type=int, default=defaults.max_steps, help="stop training after this many steps")
    parser.add_argument("--max_train_samples", type=int, help="use only the first N English training examples")
    parser.add_argument("--max_eval_samples", type=int, help="use only the first N examples of each dev/test set")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--layer", type=int, help="hidden_states index for retrieval (default 8, or the last if fewer)")
    parser.add_argument("--retrieval_batch_size", type=int, default=64)
    parser.add_argument("--retrieval_max_length", type=int, default=512)
    parser.add_argument("--bucc_neighbours", type=int, default=4, help="k of the ratio margin")
    parser.add_argument("--tsne", action="store_true", help="draw the paper's Figure 3 to OUTPUT_DIR/tsne.png")
    parser.add_argument("--tsne_word_lists", help="directory of {lang}_uni.txt aligned word lists "
                        "(default: DATA_DIR/mlctl_word_lists)")
    parser.add_argument("--tsne_languages", default="en,fr,es,ru,ar,zh")
    parser.add_argument("--tsne_words", type=int, default=12, help="number of meanings to plot")
    parser.add_argument("--report_md", help="also write a Markdown report (table, languages, wall times) here")
    return parser


def _selected(option: str, allowed, what: str) -> list[str]:
    """Comma-separated choices, each checked against ``allowed``."""
    chosen = list(allowed) if option == "all" else [item.strip() for item in option.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in allowed]
    if unknown:
        raise XtremeDataError(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return chosen


class Evaluation:
    """One run: the model, the data and the per-task results."""

    def __init__(self, args):
        from data_prep.tokenizer import load_auto_fast_tokenizer

        self.args = args
        self.output_dir = Path(args.output_dir)
        self.data = XtremeData(args.data_dir, args.labels_dir, parse_data_file_overrides(args.data_file),
                               use_hub=not args.no_hub)
        try:
            self.tokenizer = load_auto_fast_tokenizer(args.model_name_or_path, "labelling first sub-tokens (word_ids)")
        except ValueError as error:
            raise XtremeDataError(str(error)) from None
        self.settings = TrainingSettings(
            learning_rate=args.learning_rate, max_seq_length=args.max_seq_length,
            classification_epochs=args.classification_epochs, tagging_epochs=args.tagging_epochs,
            train_batch_size=args.per_device_train_batch_size, eval_batch_size=args.per_device_eval_batch_size,
            weight_decay=args.weight_decay, warmup_steps=args.warmup_steps, max_steps=args.max_steps,
            max_train_samples=args.max_train_samples, max_eval_samples=args.max_eval_samples, seed=args.seed,
        )
        self._encoder = None
        self.layer = None

    @property
    def encoder(self):
        """``AutoModel`` with ``output_hidden_states=True``, loaded on first use (retrieval and t-SNE only)."""
        if self._encoder is None:
            from transformers import AutoModel

            device = "cuda" if torch.cuda.is_available() else "cpu"
            try:
                model = AutoModel.from_pretrained(self.args.model_name_or_path, output_hidden_states=True)
            except (OSError, ValueError) as error:
                raise XtremeDataError(f"{self.args.model_name_or_path}: cannot load with AutoModel: "
                                      f"{str(error).splitlines()[0]}") from None
            model = model.to(device).eval()
            probe = self.tokenizer(["probe"], return_tensors="pt").to(device)
            with torch.no_grad():
                num_hidden_states = len(model(**probe).hidden_states)
            try:
                self.layer = resolve_layer(num_hidden_states, self.args.layer)
            except ValueError as error:
                raise XtremeDataError(str(error)) from None
            self._encoder = model
            logger.info("retrieval embeddings: mean of hidden_states[%d] of %d", self.layer, num_hidden_states)
        return self._encoder

    def embed(self, sentences: list[str], name: str) -> np.ndarray:
        """Mean-pooled retrieval embeddings of ``sentences``."""
        model = self.encoder
        max_length = min(self.args.retrieval_max_length, getattr(model.config, "max_position_embeddings", 512))
        return encode_sentences(model, self.tokenizer, sentences, self.layer, self.args.retrieval_batch_size,
                                max_length, description=name)

    def languages(self, task: str) -> list[str]:
        """Target languages of ``task``: ``--languages`` (less English for retrieval, whose pivot it is) or XTREME's."""
        if not self.args.languages:
            return TASK_LANGUAGES[task]
        chosen = [lang.strip() for lang in self.args.languages.split(",") if lang.strip()]
        return [lang for lang in chosen if not (task in RETRIEVAL_TASKS and lang == "en")]

    def run_task(self, task: str) -> dict:
        """Evaluate one task on all its languages; missing languages are recorded, not fatal."""
        entry = {"metric": TABLE_COLUMNS[task][1], "languages": {}, "missing": [], "errors": []}
        languages = self.languages(task)
        if task in RETRIEVAL_TASKS:
            evaluate_language = self._tatoeba if task == "tatoeba" else self._bucc
        else:
            fine_tuned = FineTunedTask(task, self.args.model_name_or_path, self.tokenizer, self.data, self.settings,
                                       self.output_dir)
            entry["dev_en"] = fine_tuned.train()
            predictions_dir = self.output_dir / "predictions" / task

            def evaluate_language(lang):
                return fine_tuned.evaluate(lang, predictions_dir)
        for lang in tqdm(languages, desc=task, unit="lang"):
            try:
                entry["languages"][lang] = evaluate_language(lang)
            except MissingDataError as error:
                logger.warning("%s", error)
                entry["missing"].append(str(error))
        entry["average"] = summarize_task(task, entry["languages"])
        return entry

    def _tatoeba(self, lang: str) -> dict:
        """Tatoeba accuracy of one language (xx -> en nearest neighbour)."""
        xx, en, source = self.data.tatoeba_pairs(lang)
        accuracy, _ = tatoeba_accuracy(self.embed(xx, f"tatoeba {lang}"), self.embed(en, "tatoeba en"))
        return {"accuracy": accuracy, "n_pairs": len(xx), "layer": self.layer, "source": source}

    def _bucc(self, lang: str) -> dict:
        """BUCC F1 of one language: threshold tuned on dev, applied to test."""
        k = self.args.bucc_neighbours
        dev = self.data.bucc_corpus(lang, "dev")
        if dev.gold is None:
            raise MissingDataError(f"bucc2018: no gold pairs for {lang} dev next to {dev.source}; the threshold needs them")
        threshold, dev_f1 = optimal_threshold(bucc_candidates(dev, self.embed, k), dev.gold)
        test = self.data.bucc_corpus(lang, "test")
        if test.gold is None:
            raise MissingDataError(f"bucc2018: no test gold pairs for {lang} next to {test.source} "
                                   f"(XTREME's download deletes them)")
        predicted = extract_pairs(bucc_candidates(test, self.embed, k), threshold)
        predictions_dir = self.output_dir / "predictions" / "bucc2018"
        predictions_dir.mkdir(parents=True, exist_ok=True)
        (predictions_dir / f"test-{lang}.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in sorted(predicted)),
                                                          encoding="utf-8")
        return {**bucc_f1(predicted, test.gold), "threshold": None if math.isinf(threshold) else threshold,
                "dev_f1": dev_f1, "n_predicted": len(predicted), "n_gold": len(test.gold), "layer": self.layer,
                "source": test.source}

    def tsne(self) -> str:
        """Draw Figure 3 and return the PNG path."""
        args = self.args
        directory = Path(args.tsne_word_lists) if args.tsne_word_lists else (
            Path(args.data_dir) / "mlctl_word_lists" if args.data_dir else None)
        if directory is None:
            raise MissingDataError("tsne: pass --tsne_word_lists DIR (files {lang}_uni.txt) or --data_dir")
        languages = [lang.strip() for lang in args.tsne_languages.split(",")]
        rows = read_word_lists(directory, languages, args.tsne_words)
        path = self.output_dir / "tsne.png"
        draw_tsne(self.encoder, self.tokenizer, rows, languages, self.layer, path, seed=args.seed)
        return str(path)


def main(argv: list[str] | None = None) -> dict:
    """Run the evaluation described by ``argv`` (command-line flags) and return the ``results.json`` dict.

    Missing data for a task or language is logged and recorded under ``missing``; unusable data
    (a malformed file) is recorded under ``errors`` of its task, and the other tasks still run.
    """
    args = build_parser().parse_args(argv)
    tasks = _selected(args.tasks, TASKS, "task(s)")
    command_line = argv if argv is not None else sys.argv[1:]
    evaluation = Evaluation(args)
    results = {"model": args.model_name_or_path, "command": "python run_xtreme_tasks.py " + shlex.join(command_line),
               "model_config": describe_model(args.model_name_or_path), "tasks": {}}
    for task in tasks:
        started = time.perf_counter()
        try:
            entry = evaluation.run_task(task)
        except XtremeDataError as error:
            logger.error("%s", error)
            kind = "missing" if isinstance(error, MissingDataError) else "errors"
            entry = {"metric": TABLE_COLUMNS[task][1], "languages": {}, "missing": [], "errors": [], "average": None}
            entry[kind].append(str(error))
        entry["wall_time_s"] = round(time.perf_counter() - started, 2)
        results["tasks"][task] = entry
    if evaluation.layer is not None:
        results["retrieval_layer"] = evaluation.layer
    if args.tsne:
        try:
            results["tsne"] = evaluation.tsne()
        except XtremeDataError as error:
            logger.error("%s", error)
            results["tsne_error"] = str(error)
    results["table"] = markdown_table(results)
    evaluation.output_dir.mkdir(parents=True, exist_ok=True)
    (evaluation.output_dir / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    if args.report_md:
        Path(args.report_md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report_md).write_text(markdown_report(results), encoding="utf-8")
    print(results["table"])
    return results


def cli() -> int:
    """Console entry point: exit 0 when every task ran, 1 when data was missing or unusable, 2 on bad flags."""
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.WARNING)
    logger.setLevel(logging.INFO)
    try:
        results = main()
    except XtremeDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = [task for task, entry in results["tasks"].items() if entry["errors"] or not entry["languages"]]
    if failed or "tsne_error" in results:
        print(f"incomplete: {', '.join(failed) or 'tsne'} (see the messages above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli())
